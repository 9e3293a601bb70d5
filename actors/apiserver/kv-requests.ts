// The KV operations on the apiserver's hot path, spoken directly: a put is a publish to the key's
// subject with an expected-last-sequence header, answered by a PubAck; a get is a JetStream direct
// get (the subjects are protocol/subjects.ts's). nats.js's KV view does the same through a request
// object, a timer and a captured Error per call; at thousands of writes a second that was a fifth
// of the apiserver's CPU. Requests go through the connection's shared mux (actors/client/requests.ts).
import { headers, type Msg, type NatsConnection } from 'nats';
import { Timeout, Unavailable } from '../../protocol/errors.ts';
import { jsDirectGetSubject, jsStreamInfoSubject, kvKeySubject, kvStream } from '../../protocol/subjects.ts';
import { NoRespondersError, RequestTimeoutError, requestMux, type RequestMux } from '../client/requests.ts';

const NOT_FOUND = 404;

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
  private readonly mux: RequestMux;

  constructor(nc: NatsConnection, private readonly timeoutMs: number) {
    this.mux = requestMux(nc);
  }

  private async request(subject: string, data: Uint8Array, hdrs?: ReturnType<typeof headers>): Promise<Msg> {
    try {
      return await this.mux.request(subject, data, this.timeoutMs, hdrs);
    } catch (err) {
      if (err instanceof RequestTimeoutError) throw new Timeout(`the store did not answer within ${this.timeoutMs} ms`);
      if (err instanceof NoRespondersError) throw new Unavailable(`nothing answers on ${subject} (is JetStream enabled?)`);
      throw err;
    }
  }

  /** Publishes to a key; `expected` is the revision it must be at (0: must not exist). */
  async put(bucket: string, key: string, data: Uint8Array, expected?: number, operation?: 'DEL'): Promise<number> {
    const h = headers();
    if (expected !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
    if (operation) h.set('KV-Operation', operation);
    const msg = await this.request(kvKeySubject(bucket, key), data, h);
    const ack = JSON.parse(new TextDecoder().decode(msg.data)) as { seq?: number; error?: { err_code: number; description: string } };
    if (ack.error) throw new JetStreamError(ack.error.err_code, ack.error.description);
    return ack.seq!;
  }

  /** The bucket's last revision (its stream's last sequence): a read at or after it sees every write acknowledged so far. */
  async lastSequence(bucket: string): Promise<number> {
    const msg = await this.request(jsStreamInfoSubject(kvStream(bucket)), new Uint8Array());
    const info = JSON.parse(new TextDecoder().decode(msg.data)) as { state?: { last_seq: number }; error?: { err_code: number; description: string } };
    if (info.error || !info.state) throw new JetStreamError(info.error?.err_code ?? 0, info.error?.description ?? `no state for stream ${kvStream(bucket)}`);
    return info.state.last_seq;
  }

  /** The latest entry of a key, deletes included; null if it never existed or was purged. */
  async get(bucket: string, key: string): Promise<RawEntry | null> {
    const msg = await this.request(jsDirectGetSubject(kvStream(bucket)), new TextEncoder().encode(JSON.stringify({ last_by_subj: kvKeySubject(bucket, key) })));
    const h = msg.headers;
    if (h?.code === NOT_FOUND) return null;
    if (!h || h.hasError) throw new JetStreamError(h?.code ?? 0, h?.description ?? 'direct get failed');
    return {
      revision: Number(h.get('Nats-Sequence')),
      operation: (h.get('KV-Operation') || 'PUT') as RawEntry['operation'],
      value: msg.data,
    };
  }

}
