// Request/reply over one wildcard inbox per connection. nats.js's request() sets a timer and
// builds an Error (for its stack) for every call; at thousands of requests a second that was a
// fifth of a busy process's CPU. Here replies come back on `<inbox>.<token>` to a single
// subscription, and timeouts are found by one periodic sweep.
import { Events, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { connectionInbox } from '../platform/nats.ts';
import { REQUEST_SWEEP_MS } from '../../protocol/config.ts';
import { onePerConnection } from '../platform/nats.ts';
import { outboundFor, type Outbound } from './outbound.ts';

const NO_RESPONDERS = 503;

export class NoRespondersError extends Error {}
export class RequestTimeoutError extends Error {}
/** The connection broke while the request waited: its answer, if any, went with it. */
export class ConnectionLostError extends Error {}

interface Pending {
  resolve(msg: Msg): void;
  reject(err: Error): void;
  deadline: number;
  /** Failed at once when the connection breaks (a read: asking again costs nothing), rather than left to time out. */
  failOnDisconnect: boolean;
}

export class RequestMux {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private readonly out: Outbound;
  private sweep?: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = connectionInbox(nc);
    this.out = outboundFor(nc);
    nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.prefix.length + 1);
        const p = this.pending.get(token);
        if (!p) return;
        this.pending.delete(token);
        if (msg.headers?.code === NO_RESPONDERS) p.reject(new NoRespondersError(`no responders on ${msg.subject}`));
        else p.resolve(msg);
      },
    });
    // A broken connection loses the answers on their way: a read waiting for one is failed at
    // once, to be asked again on the next connection, rather than waiting out its attempt.
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type !== Events.Disconnect) continue;
        for (const [token, p] of this.pending) {
          if (!p.failOnDisconnect) continue;
          this.pending.delete(token);
          p.reject(new ConnectionLostError(`the connection to ${String(s.data)} broke`));
        }
      }
    })().catch(() => { /* the connection closed */ });
  }

  /** Sends at the end of this event-loop turn, with whatever else is published in it (outbound.ts). */
  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs, failOnDisconnect = false): Promise<Msg> {
    if (this.nc.isClosed()) return Promise.reject(new Error('the NATS connection is closed'));
    const token = (this.next++).toString(36);
    const done = new Promise<Msg>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs, failOnDisconnect });
      this.out.publish(subject, data, `${this.prefix}.${token}`, headers, (err) => {
        if (this.pending.delete(token)) reject(err);
      });
    });
    this.sweep ??= setInterval(() => this.expire(), REQUEST_SWEEP_MS);
    return done;
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new RequestTimeoutError('timed out'));
    }
    if (this.pending.size === 0) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }
}

/** The connection's one mux, made on first use. */
export const requestMux = onePerConnection((nc) => new RequestMux(nc));
