// The KV operations on the apiserver's hot path, spoken directly: a put is a publish to the key's
// subject with an expected-last-sequence header, answered by a PubAck; a get is a JetStream direct
// get (the subjects are protocol/subjects.ts's). nats.js's KV view does the same through a request
// object, a timer and a captured Error per call; at thousands of writes a second that was a fifth
// of the apiserver's CPU. Requests go through the connection's shared mux (actors/client/requests.ts).
import { headers, nuid, type Msg, type NatsConnection } from 'nats';
import { REQUEST_RETRY_PAUSE_MS, STORE_ATTEMPT_MS } from '../../protocol/config.ts';
import { Timeout, Unavailable } from '../../protocol/errors.ts';
import { jsDirectGetSubject, jsMsgGetSubject, jsStreamInfoSubject, kvKeyPrefix, kvKeySubject, kvStream } from '../../protocol/subjects.ts';
import { NoRespondersError, RequestTimeoutError, requestMux, type RequestMux } from '../client/requests.ts';

const NOT_FOUND = 404;

export interface RawEntry {
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
  /** The Nats-Msg-Id it was published with (a message get says it; a direct get does not). */
  msgId?: string;
}

/** JetStream's "wrong last sequence": a conditional write whose key had moved on. */
const WRONG_LAST_SEQUENCE = 10071;

/** A JetStream API error, such as 10071 "wrong last sequence". */
export class JetStreamError extends Error {
  constructor(readonly errCode: number, message: string) {
    super(message);
  }
}

export class KvRequests {
  private readonly mux: RequestMux;
  /** Told of every revision a bucket was seen to hold: a write's, or its last (the feeds' stall check). */
  onRevision?: (bucket: string, revision: number) => void;
  /** The conditional write to each key (its subject) in flight from here, which the next one waits for. */
  private readonly inFlight = new Map<string, Promise<number>>();

  /**
   * `direct`: the buckets whose gets any replica may answer (a direct get). Any other bucket is
   * read from its stream's leader (a message get): a follower's copy may trail the quorum that
   * acknowledged a write by a few entries, and a read after a write must see it.
   */
  constructor(nc: NatsConnection, private readonly timeoutMs: number, private readonly direct: ReadonlySet<string> = new Set()) {
    this.mux = requestMux(nc);
  }

  private async request(subject: string, data: Uint8Array, hdrs?: ReturnType<typeof headers>, timeoutMs = this.timeoutMs): Promise<Msg> {
    try {
      return await this.mux.request(subject, data, timeoutMs, hdrs);
    } catch (err) {
      throw failure(err, subject, timeoutMs);
    }
  }

  /**
   * Publishes to a key; `expected` is the revision it must be at (0: must not exist). While a
   * replicated bucket elects a new leader (a server died), nothing answers, or an answer is lost:
   * the publish is sent again until the timeout, under one message id, so that JetStream stores
   * it once and answers a repeat with the first one's revision.
   */
  async put(bucket: string, key: string, data: Uint8Array, expected?: number, operation?: 'DEL'): Promise<number> {
    if (expected === undefined) return this.publish(bucket, key, data, expected, operation);
    // One conditional write to a key in flight at a time from this apiserver: nats-server before
    // 2.9.21 checks the expected sequence of a replicated stream's subject against what it has
    // applied, not against proposals still in flight, so two concurrent writes expecting the same
    // revision could both be acknowledged, and one of them lost (nats-server#4320; Debian bookworm
    // ships 2.9.10). Waiting for the previous one closes that race among this apiserver's
    // requests; clients send an object's writes to one apiserver (ApiServers.pick's affinity), so
    // that the race between apiservers is left only while clients disagree on which apiservers
    // there are.
    const subject = kvKeySubject(bucket, key);
    const mine = (this.inFlight.get(subject) ?? Promise.resolve()).catch(() => {}).then(() => this.publish(bucket, key, data, expected, operation));
    this.inFlight.set(subject, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(subject) === mine) this.inFlight.delete(subject);
    }
  }

  private async publish(bucket: string, key: string, data: Uint8Array, expected?: number, operation?: 'DEL'): Promise<number> {
    const h = headers();
    if (expected !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
    if (operation) h.set('KV-Operation', operation);
    const msgId = nuid.next();
    h.set('Nats-Msg-Id', msgId);
    const deadline = Date.now() + this.timeoutMs;
    // An attempt went unanswered: it may have been stored, its answer lost.
    let unanswered = false;
    for (;;) {
      const left = deadline - Date.now();
      let msg: Msg;
      try {
        msg = await this.mux.request(kvKeySubject(bucket, key), data, Math.max(1, Math.min(left, STORE_ATTEMPT_MS)), h);
      } catch (err) {
        const again = (err instanceof NoRespondersError || err instanceof RequestTimeoutError) && deadline - Date.now() > REQUEST_RETRY_PAUSE_MS;
        if (err instanceof RequestTimeoutError) unanswered = true;
        if (!again) throw failure(err, kvKeySubject(bucket, key), this.timeoutMs);
        if (err instanceof NoRespondersError) await new Promise((r) => setTimeout(r, REQUEST_RETRY_PAUSE_MS));
        continue;
      }
      const ack = JSON.parse(new TextDecoder().decode(msg.data)) as { seq?: number; error?: { err_code: number; description: string } };
      if (ack.error?.err_code === WRONG_LAST_SEQUENCE && expected !== undefined && unanswered) return this.afterLostAnswer(bucket, key, msgId);
      if (ack.error) throw new JetStreamError(ack.error.err_code, ack.error.description);
      this.onRevision?.(bucket, ack.seq!);
      return ack.seq!;
    }
  }

  /**
   * A conditional write sent again after an unanswered attempt, refused because the key has moved
   * on: perhaps by the first attempt itself, stored while its answer was lost to a leader change
   * (a new stream leader need not know the first attempt's message id, so the repeat is not
   * recognised as one and fails its own condition). Found stored: its revision. Replaced since by
   * another write: whether it was stored cannot be told, so the answer is neither success nor a
   * conflict, which the caller would take as "not stored". (Public for its test.)
   */
  async afterLostAnswer(bucket: string, key: string, msgId: string): Promise<number> {
    const latest = await this.getFromLeader(bucket, key);
    if (latest?.msgId === msgId) {
      this.onRevision?.(bucket, latest.revision);
      return latest.revision;
    }
    throw new Timeout(`a write to ${key} went unanswered while the store changed leaders, and the key has moved on since: it may or may not have been stored; read it again`);
  }

  /** The bucket's last revision (its stream's last sequence): a read at or after it sees every write acknowledged so far. */
  async lastSequence(bucket: string, timeoutMs = this.timeoutMs): Promise<number> {
    const msg = await this.request(jsStreamInfoSubject(kvStream(bucket)), new Uint8Array(), undefined, timeoutMs);
    const info = JSON.parse(new TextDecoder().decode(msg.data)) as { state?: { last_seq: number }; error?: { err_code: number; description: string } };
    if (info.error || !info.state) throw new JetStreamError(info.error?.err_code ?? 0, info.error?.description ?? `no state for stream ${kvStream(bucket)}`);
    this.onRevision?.(bucket, info.state.last_seq);
    return info.state.last_seq;
  }

  /** The latest entry of a key, deletes included; null if it never existed or was purged. */
  async get(bucket: string, key: string): Promise<RawEntry | null> {
    if (!this.direct.has(bucket)) return this.getFromLeader(bucket, key);
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

  private async getFromLeader(bucket: string, key: string): Promise<RawEntry | null> {
    return (await this.messageGet(bucket, { last_by_subj: kvKeySubject(bucket, key) }))?.entry ?? null;
  }

  /**
   * The entry at one revision, with its key, from the stream's leader; null if none is there (a
   * later entry of the same key replaced it). A stream's leader answers this while JetStream has
   * no meta leader, when no consumer can be made (kv-feed.ts's bridge).
   */
  async entryAt(bucket: string, revision: number): Promise<(RawEntry & { key: string }) | null> {
    const got = await this.messageGet(bucket, { seq: revision });
    return got && { ...got.entry, key: got.subject.slice(kvKeyPrefix(bucket).length) };
  }

  private async messageGet(bucket: string, query: { last_by_subj: string } | { seq: number }): Promise<{ subject: string; entry: RawEntry } | null> {
    const msg = await this.request(jsMsgGetSubject(kvStream(bucket)), new TextEncoder().encode(JSON.stringify(query)));
    const reply = JSON.parse(new TextDecoder().decode(msg.data)) as {
      message?: { subject: string; seq: number; hdrs?: string; data?: string };
      error?: { code: number; err_code: number; description: string };
    };
    if (reply.error?.code === NOT_FOUND) return null;
    if (reply.error || !reply.message) throw new JetStreamError(reply.error?.err_code ?? 0, reply.error?.description ?? 'message get failed');
    const hdrs = reply.message.hdrs ? Buffer.from(reply.message.hdrs, 'base64').toString('latin1') : '';
    const operation = /\r\nKV-Operation:\s*(\w+)/i.exec(hdrs)?.[1] ?? 'PUT';
    const msgId = /\r\nNats-Msg-Id:\s*(\S+)/i.exec(hdrs)?.[1];
    return {
      subject: reply.message.subject,
      entry: {
        revision: reply.message.seq,
        operation: operation as RawEntry['operation'],
        ...(msgId ? { msgId } : {}),
        value: reply.message.data ? new Uint8Array(Buffer.from(reply.message.data, 'base64')) : new Uint8Array(),
      },
    };
  }
}

function failure(err: unknown, subject: string, timeoutMs: number): unknown {
  if (err instanceof RequestTimeoutError) return new Timeout(`the store did not answer within ${timeoutMs} ms`);
  if (err instanceof NoRespondersError) return new Unavailable(`nothing answers on ${subject} (is JetStream enabled, and has the bucket a leader?)`);
  return err;
}
