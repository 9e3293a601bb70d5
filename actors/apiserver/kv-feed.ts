// Every entry of one KV bucket, in revision order, from a given revision on: what feeds a watch
// cache. It is an ordered push consumer, as nats.js's `kv.watch()` makes, spoken directly: every
// write in the cluster passes through here once per apiserver, and nats.js's watch decoded each
// message's headers, built a JsMsg, a KvEntry and an iterator promise for it, some 8% of a busy
// apiserver's time. The rules are the same as nats.js's ordered consumer:
// - the consumer is ephemeral, ack-less, with flow control and idle heartbeats;
// - each message's consumer sequence must follow the last one, and a heartbeat names the last one
//   sent; a gap, or heartbeats that stop coming, makes a new consumer from the revision after the
//   last one applied;
// - a delete or purge is a message without data and with a `KV-Operation` header.
// While no consumer can be made (JetStream electing a meta leader after its server died: some 12 s
// measured, while the streams already took writes), the entries the store is known to hold are
// read one by one from the stream's leader (`readEntry`), so that the cache moves on meanwhile.
// It is caught up once it has delivered the revision that was the bucket's last when it started
// (`caughtUpAt`), or when the server says nothing is pending: at consumer creation, or by an idle
// heartbeat. The pending count each message carries is not trusted for this: with history 1 an
// overwrite removes the key's previous entry, and one removed after the consumer counted it but
// before delivering it leaves the count one too high for good (nats-server 2.9; seen as an
// apiserver that never finished loading its cache while leases were being renewed).
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { KV_FEED_HEARTBEAT_MS, KV_FEED_STALL_MS, STORE_ATTEMPT_MS } from '../../protocol/config.ts';
import { jsConsumerCreateSubject, jsConsumerDeleteSubject, kvKeyPrefix, kvKeysWildcard, kvStream, parseAckSubject } from '../../protocol/subjects.ts';

export interface FeedEntry {
  key: string;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
}

export interface KvFeedOptions {
  /** First revision wanted; 0 or absent: everything the bucket holds. */
  fromRevision?: number;
  onEntry(e: FeedEntry): void;
  /** Once, when the entries that were in the bucket when the feed started have all come. */
  onCaughtUp?(): void;
  /** The bucket's last revision (stream sequence) when the feed starts (KvRequests.lastSequence). */
  caughtUpAt: number;
  /** A consumer could not be made (the bucket is gone, say; the feed keeps retrying), or onEntry threw. */
  onError?(err: Error): void;
  /**
   * The feed's consumer is gone and a new one is being made (`false`), or is there again
   * (`true`): meanwhile nothing arrives, so nobody should wait for the feed to catch up.
   */
  onFollowing?(following: boolean): void;
  /** Idle heartbeats; two missed and the feed makes a new consumer. Default KV_FEED_HEARTBEAT_MS. */
  heartbeatMs?: number;
  requestTimeoutMs: number;
  /** A consumer that could not be made is tried again after this. */
  retryMs: number;
  /** The entry at a revision, null if a later one replaced it (KvRequests.entryAt): what bridges a time without a consumer. */
  readEntry?(revision: number): Promise<FeedEntry | null>;
}

/** How many entries the bridge reads at once. */
const BRIDGE_WINDOW = 64;

const STATUS_CONTROL = 100;
export class KvFeed {
  private readonly stream: string;
  private readonly keyPrefix: string;
  private readonly heartbeatMs: number;
  private sub?: Subscription;
  private consumer?: string;
  /** Revision of the last entry delivered. */
  private lastRevision: number;
  private consumerSeq = 0;
  private lastActivity = Date.now();
  private lastCheck = Date.now();
  private lastStallCheck = Date.now();
  private caughtUp = false;
  private stopped = false;
  private generation = 0;
  private monitor?: NodeJS.Timeout;
  private stallCheck?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  /** The earliest revision the store was known to have and this feed had not delivered, and since when. */
  private expected?: { revision: number; since: number };
  /** A consumer is being made: a stall is not judged meanwhile (JetStream may be electing leaders). */
  private creating = false;
  /** The highest revision the store is known to hold. */
  private known = 0;
  private bridging = false;

  constructor(private readonly nc: NatsConnection, readonly bucket: string, private readonly opts: KvFeedOptions) {
    this.stream = kvStream(bucket);
    this.keyPrefix = kvKeyPrefix(bucket);
    this.heartbeatMs = opts.heartbeatMs ?? KV_FEED_HEARTBEAT_MS;
    this.lastRevision = Math.max(0, (opts.fromRevision ?? 0) - 1);
  }

  /**
   * Resolves once the first consumer exists; rejects if it cannot be made. `resume`: never rejects;
   * a consumer that cannot be made yet is tried again, and bridged meanwhile, as after a reset.
   */
  async start(resume = false): Promise<void> {
    if (resume) this.reset();
    else await this.subscribe(this.opts.requestTimeoutMs);
    this.monitor = setInterval(() => this.checkHeartbeats(), this.heartbeatMs);
    this.stallCheck = setInterval(() => this.checkExpected(), KV_FEED_STALL_MS);
  }

  /**
   * The store is known to hold `revision` (a write's answer, a list's look at the store). A feed
   * that delivers nothing at all for KV_FEED_STALL_MS after that has lost its consumer: the server
   * holding it died or was cut off. Heartbeats would tell too, but only after two of them (10 s), a
   * time when the cache, and every watch and consistent list on it, would stand still.
   */
  expect(revision: number): void {
    this.known = Math.max(this.known, revision);
    if (revision <= this.lastRevision) return;
    if (!this.expected || this.expected.revision <= this.lastRevision) this.expected = { revision, since: Date.now() };
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.monitor);
    clearInterval(this.stallCheck);
    clearTimeout(this.retry);
    this.drop();
  }

  /**
   * `timeoutMs`: a first consumer gets the whole request timeout (a loaded cluster starting up);
   * a replacement gets STORE_ATTEMPT_MS and is tried again, as a JetStream electing a meta leader
   * leaves a request unanswered rather than failing it.
   */
  private async subscribe(timeoutMs: number): Promise<void> {
    const generation = ++this.generation;
    this.drop();
    const inbox = createInbox();
    this.consumerSeq = 0;
    this.lastActivity = Date.now();
    this.sub = this.nc.subscribe(inbox, { callback: (err, msg) => { if (!err && generation === this.generation) this.receive(msg); } });
    const start = this.lastRevision + 1;
    const config = {
      deliver_subject: inbox,
      filter_subject: kvKeysWildcard(this.bucket),
      ack_policy: 'none',
      max_deliver: 1,
      flow_control: true,
      idle_heartbeat: this.heartbeatMs * 1e6,
      mem_storage: true,
      num_replicas: 1,
      replay_policy: 'instant',
      ...(start > 1 ? { deliver_policy: 'by_start_sequence', opt_start_seq: start } : { deliver_policy: 'all' }),
    };
    this.creating = true;
    const reply = await this.nc.request(jsConsumerCreateSubject(this.stream), new TextEncoder().encode(JSON.stringify({ stream_name: this.stream, config })), {
      timeout: timeoutMs,
    }).finally(() => { if (generation === this.generation) this.creating = false; });
    const info = JSON.parse(new TextDecoder().decode(reply.data)) as { name?: string; num_pending?: number; error?: { description: string } };
    if (info.error || !info.name) throw new Error(`cannot follow ${this.stream}: ${info.error?.description ?? 'no consumer made'}`);
    // Replaced (or stopped) while it was being made: not wanted any more.
    if (generation !== this.generation) return this.deleteConsumer(info.name);
    this.consumer = info.name;
    this.opts.onFollowing?.(true);
    if (info.num_pending === 0) this.markCaughtUp();
  }

  private receive(msg: Msg): void {
    this.lastActivity = Date.now();
    const ack = msg.reply ? parseAckSubject(msg.reply) : undefined;
    if (!ack) return this.control(msg);
    if (ack.consumerSeq !== this.consumerSeq + 1) return this.reset();
    this.consumerSeq = ack.consumerSeq;
    if (ack.streamSeq <= this.lastRevision) return;
    // Only deletes and purges come without data, so only they need their headers read.
    const operation = msg.data.length > 0 ? 'PUT' : ((msg.headers?.get('KV-Operation') || 'PUT') as FeedEntry['operation']);
    this.deliver({ key: msg.subject.slice(this.keyPrefix.length), revision: ack.streamSeq, operation, value: msg.data });
  }

  private deliver(entry: FeedEntry): void {
    this.lastRevision = entry.revision;
    try {
      this.opts.onEntry(entry);
    } catch (err) {
      // Thrown into nats.js's parser it would break the connection; the entry is reported instead.
      this.opts.onError?.(err as Error);
    }
    if (entry.revision >= this.opts.caughtUpAt) this.markCaughtUp();
  }

  /**
   * No consumer, and the store known to be ahead: its entries are read from the stream's leader,
   * a window at a time and delivered in order, until a consumer is there again or the feed has
   * what the store was known to hold. A revision with no entry (replaced since) is passed over.
   */
  private async bridge(): Promise<void> {
    const read = this.opts.readEntry;
    if (!read || this.bridging) return;
    this.bridging = true;
    try {
      while (!this.stopped && !this.consumer && this.lastRevision < this.known) {
        const from = this.lastRevision + 1;
        const window = Array.from({ length: Math.min(BRIDGE_WINDOW, this.known - this.lastRevision) }, (_, i) => from + i);
        const entries = await Promise.all(window.map((revision) => read(revision)));
        // A consumer made meanwhile may have delivered some of them already.
        for (const [i, entry] of entries.entries()) {
          if (window[i] <= this.lastRevision) continue;
          if (entry) this.deliver(entry);
          else this.lastRevision = window[i];
        }
      }
    } catch (err) {
      this.opts.onError?.(err as Error); // the store is not answering either: the next stall check tries again
    } finally {
      this.bridging = false;
    }
  }

  /** Heartbeats and flow control; any other status message means the consumer is gone. */
  private control(msg: Msg): void {
    const h = msg.headers;
    if (h?.code !== STATUS_CONTROL) return this.reset();
    if (msg.reply) {
      this.nc.publish(msg.reply); // flow control: ready for more
      return;
    }
    const stalled = h.get('Nats-Consumer-Stalled');
    if (stalled) this.nc.publish(stalled);
    const last = Number(h.get('Nats-Last-Consumer') || 0);
    if (last !== this.consumerSeq) this.reset();
    else if (!this.caughtUp) this.markCaughtUp(); // a heartbeat comes only when nothing is pending
  }

  private markCaughtUp(): void {
    if (this.caughtUp) return;
    this.caughtUp = true;
    this.opts.onCaughtUp?.();
  }

  private checkHeartbeats(): void {
    if (this.nc.isClosed()) return this.stop();
    const now = Date.now();
    const late = now - this.lastCheck > 2 * this.heartbeatMs;
    this.lastCheck = now;
    // This process was stopped or starved, not the server silent: what is queued comes first.
    if (late) this.lastActivity = now;
    else if (now - this.lastActivity > 2 * this.heartbeatMs) this.reset();
  }

  private checkExpected(): void {
    const now = Date.now();
    const late = now - this.lastStallCheck > 2 * KV_FEED_STALL_MS;
    this.lastStallCheck = now;
    if (!this.consumer) void this.bridge();
    const e = this.expected;
    if (!e || this.creating) return;
    if (this.lastRevision >= e.revision) this.expected = undefined;
    // Entries are coming, only not that far yet (the consumer lives); or this process was starved
    // and what is queued comes first: watch on from here.
    else if (late || this.lastActivity >= e.since) this.expected = { revision: e.revision, since: now };
    else if (now - e.since >= KV_FEED_STALL_MS) {
      this.expected = undefined;
      this.reset();
    }
  }

  /** A new consumer, from the revision after the last one delivered. */
  private reset(): void {
    if (this.stopped) return;
    this.opts.onFollowing?.(false);
    clearTimeout(this.retry);
    this.subscribe(Math.min(STORE_ATTEMPT_MS, this.opts.requestTimeoutMs)).catch((err: Error) => {
      this.opts.onError?.(err);
      void this.bridge();
      if (!this.stopped) this.retry = setTimeout(() => this.reset(), this.opts.retryMs);
    });
  }

  private drop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.consumer) this.deleteConsumer(this.consumer);
    this.consumer = undefined;
  }

  private deleteConsumer(name: string): void {
    if (this.nc.isClosed()) return;
    this.nc.request(jsConsumerDeleteSubject(this.stream, name), new Uint8Array(), { timeout: this.opts.requestTimeoutMs }).catch(() => {});
  }
}
