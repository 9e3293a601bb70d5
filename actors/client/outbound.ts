// Publishing in batches. nats.js writes to its socket once per microtask turn in which something
// was published, and a server answering many requests from many async handlers publishes from as
// many turns: a write(2) per message, a third of the apiserver's CPU under load. Here messages
// wait for the end of the event-loop turn and go out in one synchronous burst, which nats.js
// sends as one write. Everything that publishes on a connection shares its one Outbound
// (outboundFor), so that what is published in order goes out in order.
import type { MsgHdrs, NatsConnection, PublishOptions } from 'nats';
import { onePerConnection } from '../platform/nats.ts';

export class Outbound {
  private queue: { subject: string; data: Uint8Array; opts?: PublishOptions; failed?: (err: Error) => void }[] = [];
  private scheduled = false;

  constructor(private readonly nc: NatsConnection) {}

  /** `failed` hears of a publish nats.js refused (too large, connection closed); by default nobody does. */
  publish(subject: string, data: Uint8Array, reply?: string, headers?: MsgHdrs, failed?: (err: Error) => void): void {
    this.queue.push({ subject, data, opts: reply || headers ? { reply, headers } : undefined, failed });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const closed = this.nc.isClosed();
    for (const m of batch) {
      try {
        if (closed) throw new Error('the NATS connection is closed');
        this.nc.publish(m.subject, m.data, m.opts);
      } catch (err) {
        // Without a `failed`, the receiver times out and retries.
        m.failed?.(err as Error);
      }
    }
  }
}

/** The connection's one outbound batch, made on first use. */
export const outboundFor = onePerConnection((nc) => new Outbound(nc));
