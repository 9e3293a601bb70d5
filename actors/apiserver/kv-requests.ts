// The KV operations on the apiserver's hot path, spoken directly: a put is a publish to
// `$KV.<bucket>.<key>` with an expected-last-sequence header, answered by a PubAck; a get is a
// JetStream direct get. nats.js's KV view does the same through a request object, a timer and a
// captured Error per call; at thousands of writes a second that was a fifth of the apiserver's
// CPU. Replies come back on one wildcard inbox and time out in a periodic sweep.
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { Timeout, Unavailable } from '../../protocol/errors.ts';

const NO_RESPONDERS = 503;
const NOT_FOUND = 404;

interface Pending {
  resolve(msg: Msg): void;
  reject(err: Error): void;
  deadline: number;
}

export interface RawEntry {
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
}

/** A JetStream API error, such as 10071 "wrong last sequence". */
export class JetStreamError extends Error {
  constructor(readonly errCode: number, message: string) {
    super(message);
  }
}

export class KvRequests {
  private readonly prefix = createInbox();
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private readonly sub: Subscription;
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.prefix.length + 1);
        const p = this.pending.get(token);
        if (!p) return;
        this.pending.delete(token);
        p.resolve(msg);
      },
    });
    this.sweep = setInterval(() => this.expire(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    // Only requests in flight need the sweep, and they hold the process open themselves.
    this.sweep.unref();
  }

  close(): void {
    clearInterval(this.sweep);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new Unavailable('the store connection closed'));
    this.pending.clear();
  }

  request(subject: string, data: Uint8Array, hdrs?: ReturnType<typeof headers>): Promise<Msg> {
    const token = (this.next++).toString(36);
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers: hdrs });
    });
  }

  /** Publishes to a key; `expected` is the revision it must be at (0: must not exist). */
  async put(bucket: string, key: string, data: Uint8Array, expected?: number, operation?: 'DEL'): Promise<number> {
    const h = headers();
    if (expected !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
    if (operation) h.set('KV-Operation', operation);
    const msg = await this.request(`$KV.${bucket}.${key}`, data, h);
    if (msg.headers?.code === NO_RESPONDERS) throw new Unavailable(`the KV bucket ${bucket} is not available (is JetStream enabled?)`);
    const ack = JSON.parse(new TextDecoder().decode(msg.data)) as { seq?: number; error?: { err_code: number; description: string } };
    if (ack.error) throw new JetStreamError(ack.error.err_code, ack.error.description);
    return ack.seq!;
  }

  /** The latest entry of a key, deletes included; null if it never existed or was purged. */
  async get(bucket: string, key: string): Promise<RawEntry | null> {
    const msg = await this.request(`$JS.API.DIRECT.GET.KV_${bucket}`, new TextEncoder().encode(JSON.stringify({ last_by_subj: `$KV.${bucket}.${key}` })));
    const h = msg.headers;
    if (h?.code === NOT_FOUND) return null;
    if (h?.code === NO_RESPONDERS) throw new Unavailable(`the KV bucket ${bucket} is not available for direct reads`);
    if (!h || h.hasError) throw new JetStreamError(h?.code ?? 0, h?.description ?? 'direct get failed');
    return {
      revision: Number(h.get('Nats-Sequence')),
      operation: (h.get('KV-Operation') || 'PUT') as RawEntry['operation'],
      value: msg.data,
    };
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new Timeout(`the store did not answer within ${this.timeoutMs} ms`));
    }
  }
}
