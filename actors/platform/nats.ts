// Connecting to NATS: actors reconnect forever; the CLI fails fast with a sentence a user can act on.
import { connect, type NatsConnection } from 'nats';
import { NATS_CONNECT_TIMEOUT_MS, NATS_PING_INTERVAL_MS, NATS_RECONNECT_WAIT_MS } from '../../protocol/config.ts';
import { Unavailable } from '../../protocol/errors.ts';

export interface ConnectOptions {
  url: string;
  name: string;
  /** Long-running processes keep reconnecting; the CLI gives up at once. */
  persistent: boolean;
  timeoutMs?: number;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: opts.url.split(','),
      name: opts.name,
      timeout: opts.timeoutMs ?? NATS_CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: opts.persistent ? -1 : 0,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      waitOnFirstConnect: opts.persistent,
      pingInterval: NATS_PING_INTERVAL_MS,
      // Otherwise every request, JetStream publishes included, captures a stack trace.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new Unavailable(`cannot reach the skiff cluster at ${opts.url} (${(err as Error).message}); start one with: skiff up`, { cause: err });
  }
}

/** `make`'s one result per connection, made on first use: what everything on a connection shares. */
export function onePerConnection<T>(make: (nc: NatsConnection) => T): (nc: NatsConnection) => T {
  const made = new WeakMap<NatsConnection, T>();
  return (nc) => {
    let t = made.get(nc);
    if (t === undefined) made.set(nc, (t = make(nc)));
    return t;
  };
}
