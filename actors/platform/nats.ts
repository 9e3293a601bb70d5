// Connecting to NATS: actors reconnect forever; the CLI fails fast with a sentence a user can act on.
import { connect, type NatsConnection } from 'nats';
import { NATS_CONNECT_TIMEOUT_MS, NATS_PING_INTERVAL_MS, NATS_RECONNECT_WAIT_MS, STRANDED_AFTER_MS, STRANDED_PROBE_MS } from '../../protocol/config.ts';
import { JS_STREAM_NAMES } from '../../protocol/subjects.ts';
import { createLogger, type Logger } from './log.ts';
import { Unavailable } from '../../protocol/errors.ts';

export interface ConnectOptions {
  url: string;
  name: string;
  /** Long-running processes keep reconnecting; the CLI gives up at once. */
  persistent: boolean;
  timeoutMs?: number;
  /** Try the servers in the order given (tests); by default they are shuffled, to spread the clients. */
  inOrder?: boolean;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.url.split(','),
      name: opts.name,
      timeout: opts.timeoutMs ?? NATS_CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: opts.persistent ? -1 : 0,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      noRandomize: opts.inOrder ?? false,
      waitOnFirstConnect: opts.persistent,
      pingInterval: NATS_PING_INTERVAL_MS,
      // Otherwise every request, JetStream publishes included, captures a stack trace.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new Unavailable(`cannot reach the skiff cluster at ${opts.url} (${(err as Error).message}); start one with: skiff up`, { cause: err });
  }
  if (opts.persistent) leaveStrandedServer(nc, opts.url, createLogger({ component: 'nats-client', name: opts.name }));
  return nc;
}

/**
 * Whether JetStream answers through this connection's server: its meta leader lists the streams.
 * A server cut off from the rest of its cluster answers 503 ("JetStream system temporarily
 * unavailable"), or not at all; its own account info goes on answering for some 20 s after a cut.
 */
export function jetStreamAnswers(nc: NatsConnection, timeoutMs: number): Promise<boolean> {
  return nc.request(JS_STREAM_NAMES, new Uint8Array(), { timeout: timeoutMs }).then(
    (m) => !(JSON.parse(new TextDecoder().decode(m.data)) as { error?: unknown }).error,
    () => false,
  );
}

/** Moves at once off a server just left and landed on again (the client's pool goes round), this many times in a row. */
const QUICK_MOVES = 2;

/**
 * A server cut off from the rest of its cluster still takes its clients' messages, but its side
 * has no JetStream (no quorum) and reaches no process on the other side: its clients would wait
 * there until the cut heals, the node among them declared dead by the majority. So a long-running
 * process checks jetStreamAnswers every STRANDED_PROBE_MS; with no answer for STRANDED_AFTER_MS
 * (longer than an election after a server's death), it moves to another server.
 */
function leaveStrandedServer(nc: NatsConnection, url: string, log: Logger): void {
  let failingSince = 0;
  // The server last moved away from: landing on it again moves on at once, a few times, not
  // forever (a cluster without a quorum anywhere is not left in a hurry).
  let movedFrom: string | undefined;
  let quickMoves = 0;
  // The servers a cut-off server tells of are only itself: what was heard before counts.
  let othersKnown = url.includes(',');
  const timer = setInterval(() => {
    othersKnown ||= (nc.info?.connect_urls?.length ?? 0) > 1;
    if (nc.isClosed() || !othersKnown) return;
    const server = nc.getServer();
    void jetStreamAnswers(nc, STRANDED_PROBE_MS).then((answers) => {
      if (answers) {
        failingSince = 0;
        movedFrom = undefined;
        quickMoves = 0;
        return;
      }
      const now = Date.now();
      if (!failingSince) failingSince = now;
      const again = server === movedFrom && quickMoves < QUICK_MOVES;
      if ((!again && now - failingSince < STRANDED_AFTER_MS) || nc.isClosed() || nc.getServer() !== server) return;
      quickMoves = again ? quickMoves + 1 : 0;
      failingSince = 0;
      movedFrom = server;
      log.warn('the NATS server has had no JetStream for too long (cut off from its cluster?); moving to another', { server });
      nc.reconnect().catch(() => { /* closed meanwhile */ });
    });
  }, STRANDED_PROBE_MS);
  timer.unref();
  void nc.closed().then(() => clearInterval(timer));
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
