// The watch streams an apiserver serves: each watcher gets its events, numbered, on a subject of
// its own, the events of one turn of the event loop in one message, and a numbered heartbeat as a
// request; a watcher that answers no heartbeat three times (or has no subscriber left) is dropped.
import { ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { encode, encodeWatchEvents, encodeWithRaw } from '../../protocol/codec.ts';
import type { Outbound } from '../client/outbound.ts';
import type { WatchCache, WatchFilter, Watcher } from './watch-cache.ts';

/**
 * A watch's events of one turn go out as one message, up to this size: under load a watcher of
 * every pod gets several events per turn, and each NATS message costs the server and the client
 * more than the bytes in it.
 */
const BATCH_BYTES = 256 * 1024;

interface Stream {
  cache: WatchCache;
  watcher?: Watcher;
  deliver: string;
  /** The number of the last event (or heartbeat) given to this stream. */
  seq: number;
  /** Events not yet sent, numbered from pendingSeq: they go out together at the end of the turn. */
  pending: Uint8Array[];
  pendingBytes: number;
  pendingSeq: number;
  misses: number;
  heartbeatInFlight: boolean;
}

export class WatchStreams {
  private readonly streams = new Set<Stream>();
  /** Streams with events waiting for the end of the turn. */
  private readonly batching = new Set<Stream>();

  constructor(private readonly nc: NatsConnection, private readonly out: Outbound, private readonly heartbeatTimeoutMs: number) {}

  get size(): number {
    return this.streams.size;
  }

  /** Streams the cache's events after `fromRv` (all, listed first, without it) to `deliver`; `sent` counts each. */
  open(cache: WatchCache, filter: WatchFilter, fromRv: number | undefined, deliver: string, sent: () => void): void {
    const s: Stream = { cache, deliver, seq: 0, pending: [], pendingBytes: 0, pendingSeq: 0, misses: 0, heartbeatInFlight: false };
    s.watcher = cache.watch(filter, fromRv, (_e, encoded) => {
      sent();
      if (s.pending.length > 0 && s.pendingBytes + encoded.length > BATCH_BYTES) this.sendPending(s);
      s.seq++;
      if (s.pending.length === 0) s.pendingSeq = s.seq;
      s.pending.push(encoded);
      s.pendingBytes += encoded.length;
      if (this.batching.size === 0) setImmediate(() => this.flush());
      this.batching.add(s);
    });
    this.streams.add(s);
  }

  /** Each watcher gets a numbered heartbeat as a request; one nobody answers is dropped. */
  heartbeat(): void {
    // Events still waiting go first: a heartbeat carries the next number.
    this.flush();
    for (const s of this.streams) {
      if (s.heartbeatInFlight) continue;
      s.heartbeatInFlight = true;
      s.seq++;
      this.nc
        .request(s.deliver, encode('watch', { seq: s.seq, resourceVersion: String(s.cache.rv) }), { timeout: this.heartbeatTimeoutMs })
        .then(() => { s.misses = 0; })
        .catch((err: NatsError) => {
          if (err.code === ErrorCode.NoResponders || ++s.misses >= 3) this.drop(s);
        })
        .finally(() => { s.heartbeatInFlight = false; });
    }
  }

  stopAll(): void {
    for (const s of [...this.streams]) this.drop(s);
  }

  /** A stream's waiting events, as one message (a lone event as `event`). */
  private sendPending(s: Stream): void {
    const n = s.pending.length;
    if (n === 0) return;
    this.out.publish(s.deliver, n === 1 ? encodeWithRaw('watch', { seq: s.pendingSeq }, 'event', s.pending[0]) : encodeWatchEvents(s.pendingSeq, s.pending));
    s.pending = [];
    s.pendingBytes = 0;
  }

  /** Sends every stream's waiting events, then everything else waiting to go out, in order. */
  private flush(): void {
    for (const s of this.batching) this.sendPending(s);
    this.batching.clear();
    this.out.flush();
  }

  private drop(s: Stream): void {
    if (s.watcher) s.cache.unwatch(s.watcher);
    this.streams.delete(s);
    this.batching.delete(s);
    s.pending = [];
  }
}
