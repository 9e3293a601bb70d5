// Publishing in batches. nats.js writes to its socket once per microtask turn in which something
// was published, and a server answering many requests from many async handlers publishes from as
// many turns: a write(2) per message, a third of the apiserver's CPU under load. Here messages
// wait for the end of the event-loop turn and go out in one synchronous burst, which nats.js
// sends as one write.
import type { NatsConnection } from 'nats';

export class Outbound {
  private queue: { subject: string; data: Uint8Array }[] = [];
  private scheduled = false;

  constructor(private readonly nc: NatsConnection) {}

  publish(subject: string, data: Uint8Array): void {
    this.queue.push({ subject, data });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (this.nc.isClosed()) return;
    for (const m of batch) {
      try {
        this.nc.publish(m.subject, m.data);
      } catch {
        /* closed or draining: the receiver times out and retries */
      }
    }
  }
}
