// The watch cache of one kind, as Kubernetes' apiserver keeps one: the current objects, a window
// of recent events for watchers that resume, and the watchers themselves. Watchers filtered by
// spec.nodeName are indexed by node, so a kubelet's watch costs nothing when other nodes' pods
// change: per-node delivery. No I/O here; the apiserver feeds KV entries in and sends out what
// `send` is given.
import { Gone } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { fieldsMatch, matches, type FieldRequirement, type Requirement } from '../../protocol/selector.ts';
import type { KubeObject, WatchEventType } from '../../protocol/types.ts';
import { decodeObject, encodeObject, encodeStoredEvent } from '../../protocol/codec.ts';
import { parseStoreKey } from './store.ts';

export interface CacheEntry {
  key: string;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value?: Uint8Array;
}

interface CacheEvent {
  rv: number;
  object?: KubeObject;
  prev?: KubeObject;
  /** The event as each kind of watcher sees it, encoded once for all of them. */
  encoded?: Partial<Record<WatchEventType, Uint8Array>>;
  /**
   * The object's bytes as stored, while the event is first dispatched: an ADDED or MODIFIED is
   * encoded around them rather than by encoding the object again. Not kept: they may be a view
   * of a whole inbound network buffer.
   */
  stored?: Uint8Array;
}

export interface WatchFilter {
  namespace?: string;
  labels: Requirement[];
  fields: FieldRequirement[];
}

export interface OutEvent {
  type: WatchEventType;
  object: KubeObject;
  initialEventsEnd?: boolean;
}

export interface Watcher {
  readonly id: number;
  readonly filter: WatchFilter;
  readonly node?: string;
  /** `encoded` is `e` in msgpack, shared by every watcher that gets the same event. */
  send: (e: OutEvent, encoded: Uint8Array) => void;
}

/** Own writes remembered at most, should their entries go missing. */
const OWN_WRITES_LIMIT = 4096;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function nodeOf(obj: KubeObject | undefined): string | undefined {
  return (obj?.spec as { nodeName?: string } | undefined)?.nodeName || undefined;
}

/** The node a filter confines a watch to, if it has `spec.nodeName=<node>`. */
export function filterNode(filter: WatchFilter): string | undefined {
  return filter.fields.find((f) => f.field === 'spec.nodeName' && f.op === '=' && f.value !== '')?.value;
}

export function filterMatches(filter: WatchFilter, obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  if (filter.namespace && obj.metadata.namespace !== filter.namespace) return false;
  return matches(filter.labels, obj.metadata.labels) && fieldsMatch(filter.fields, obj as unknown as Record<string, unknown>);
}

/** What a watcher sees of a change, Kubernetes' way: leaving its filter is a DELETED. */
export function eventFor(filter: WatchFilter, ev: CacheEvent): OutEvent | null {
  const was = filterMatches(filter, ev.prev);
  const is = filterMatches(filter, ev.object);
  if (is) return { type: was ? 'MODIFIED' : 'ADDED', object: ev.object as KubeObject };
  // The last state the watcher saw, at the revision that removed it from view.
  if (was) return { type: 'DELETED', object: { ...ev.prev!, metadata: { ...ev.prev!.metadata, resourceVersion: String(ev.rv) } } };
  return null;
}

function deliver(w: Watcher, ev: CacheEvent): void {
  const out = eventFor(w.filter, ev);
  if (!out) return;
  const memo = (ev.encoded ??= {});
  w.send(out, (memo[out.type] ??= out.object === ev.object && ev.stored ? encodeStoredEvent(out.type, ev.stored, String(ev.rv)) : encodeObject(out)));
}

type Index = Map<string, Set<string>>;
function indexAdd(ix: Index, k: string, v: string) {
  let s = ix.get(k);
  if (!s) ix.set(k, (s = new Set()));
  s.add(v);
}
function indexDel(ix: Index, k: string, v: string) {
  const s = ix.get(k);
  if (s && s.delete(v) && s.size === 0) ix.delete(k);
}

export class WatchCache {
  /** Last store revision applied. */
  rv = 0;
  ready = false;
  /** Whether the feed behind the cache is delivering; false while its consumer is made again (kv-feed.ts). */
  following = true;
  private oldestRv = 0;
  private readonly objects = new Map<string, KubeObject>();
  private readonly byNode: Index = new Map();
  private readonly byOwner: Index = new Map();
  private events: CacheEvent[] = [];
  private start = 0;
  private readonly general = new Set<Watcher>();
  private readonly nodeWatchers = new Map<string, Set<Watcher>>();
  private waiters: { rv: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** When the cache last applied an entry (or was made ready): how a wait tells a cache catching up from one standing still. */
  private movedAt = Date.now();
  /** The `movedAt` at which a wait last gave up on the cache standing still: until it moves again, later waits give up at once. */
  private stillAt?: number;
  /** Objects this apiserver is writing, by store key, until their entries come back from the KV. */
  private readonly own = new Map<string, { bytes: Uint8Array; object: KubeObject }>();
  private nextId = 1;

  /** Entries of the bucket that were not an object, and were passed over. */
  undecodable = 0;

  constructor(readonly info: KindInfo, private readonly capacity: number) {}

  get size(): number {
    return this.objects.size;
  }

  get watcherCount(): number {
    let n = this.general.size;
    for (const s of this.nodeWatchers.values()) n += s.size;
    return n;
  }

  /** Applies one KV entry, in revision order, and tells the watchers it concerns. */
  apply(entry: CacheEntry): void {
    if (entry.revision <= this.rv) return;
    const { namespace, name } = parseStoreKey(entry.key);
    const key = namespace ? `${namespace}/${name}` : name;
    const prev = this.objects.get(key);
    let object: KubeObject | undefined;
    if (entry.operation === 'PUT' && entry.value) {
      object = this.own.size ? this.takeOwn(entry) : undefined;
      if (!object) {
        object = decodeStored(entry.value);
        // Not an object of ours (written to the bucket by something else): passed over, counted,
        // rather than stopping this kind's cache, and with it the apiserver, for good.
        if (!object) {
          this.undecodable++;
          this.rv = entry.revision;
          return this.wake();
        }
        object.metadata.resourceVersion = String(entry.revision);
      }
    }
    if (prev) this.unindex(key, prev);
    if (object) {
      this.objects.set(key, object);
      this.index(key, object);
    } else this.objects.delete(key);
    this.rv = entry.revision;
    if (!this.ready || (!prev && !object)) return this.wake();
    const ev: CacheEvent = { rv: entry.revision, object, prev, stored: object ? entry.value : undefined };
    this.record(ev);
    this.dispatch(ev);
    ev.stored = undefined;
    this.wake();
  }

  /**
   * This apiserver is about to write `object` (without resourceVersion) to store key `storeKey`
   * as `bytes`. When an entry with exactly those bytes comes back for that key, the cache takes
   * the object rather than decoding the entry again: equal bytes are an equal object, whoever
   * wrote them, so a write that failed and is never echoed cannot mislead it. The entry may come
   * back before the store's acknowledgement does, which is why the match is not by revision. The
   * object must not be changed afterwards; nothing changes objects the cache holds.
   */
  expect(storeKey: string, bytes: Uint8Array, object: KubeObject): void {
    if (this.own.size >= OWN_WRITES_LIMIT) this.own.clear(); // writes whose entries never came
    this.own.set(storeKey, { bytes, object });
  }

  /** Own writes still waiting for their entries. */
  get ownPending(): number {
    return this.own.size;
  }

  private takeOwn(entry: CacheEntry): KubeObject | undefined {
    const own = this.own.get(entry.key);
    if (!own || !entry.value || !sameBytes(own.bytes, entry.value)) return undefined;
    this.own.delete(entry.key);
    return { ...own.object, metadata: { ...own.object.metadata, resourceVersion: String(entry.revision) } };
  }

  /** The initial snapshot is loaded; `rv` is the store's revision when it was taken. */
  markReady(rv: number): void {
    this.rv = Math.max(this.rv, rv);
    this.oldestRv = this.rv;
    this.ready = true;
    this.wake();
  }

  list(filter: WatchFilter): KubeObject[] {
    const node = filterNode(filter);
    const keys = node ? this.byNode.get(node) ?? new Set<string>() : this.objects.keys();
    const out: KubeObject[] = [];
    for (const k of keys) {
      const o = this.objects.get(k);
      if (o && filterMatches(filter, o)) out.push(o);
    }
    return out;
  }

  getByKey(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Objects naming `uid` in their ownerReferences. */
  dependents(uid: string): KubeObject[] {
    return [...(this.byOwner.get(uid) ?? [])].map((k) => this.objects.get(k)).filter((o): o is KubeObject => !!o);
  }

  /**
   * Starts a watcher. From `fromRv` it replays what it missed; without one it sends every current
   * object as ADDED and then a BOOKMARK marking the end of the initial events.
   */
  watch(filter: WatchFilter, fromRv: number | undefined, send: Watcher['send']): Watcher {
    if (fromRv !== undefined && fromRv < this.oldestRv) {
      throw new Gone(`too old resource version: ${fromRv} (the watch cache of ${this.info.resource} starts at ${this.oldestRv}); relist`);
    }
    const w: Watcher = { id: this.nextId++, filter, node: filterNode(filter), send };
    const direct = (e: OutEvent) => send(e, encodeObject(e));
    if (fromRv === undefined) {
      for (const o of this.list(filter)) direct({ type: 'ADDED', object: o });
      direct({ type: 'BOOKMARK', object: this.bookmark(), initialEventsEnd: true });
    } else {
      for (let i = this.firstAfter(fromRv); i < this.events.length; i++) deliver(w, this.events[i]);
    }
    if (w.node) {
      let set = this.nodeWatchers.get(w.node);
      if (!set) this.nodeWatchers.set(w.node, (set = new Set()));
      set.add(w);
    } else this.general.add(w);
    return w;
  }

  unwatch(w: Watcher): void {
    if (w.node) {
      const set = this.nodeWatchers.get(w.node);
      if (set?.delete(w) && set.size === 0) this.nodeWatchers.delete(w.node);
    } else this.general.delete(w);
  }

  bookmark(): KubeObject {
    return { apiVersion: this.info.apiVersion, kind: this.info.kind, metadata: { resourceVersion: String(this.rv) } };
  }

  /**
   * The feed has lost its consumer (its server died) or has one again. While it has none the
   * cache cannot move: waiting for it is given up at once, now and until it follows again.
   */
  setFollowing(following: boolean): void {
    this.following = following;
    if (following) return;
    for (const w of this.waiters.splice(0)) w.reject(this.notFed());
  }

  /**
   * Resolves once revision `rv` has been applied; rejects after `timeoutMs`, at once while the feed
   * is not following, or once the cache, still short of `rv`, has applied nothing for `stillMs`: a
   * feed whose consumer's server died delivers nothing until it is made again (KV_FEED_STALL_MS),
   * and waiting on it helps nobody, while a cache that moves is worth waiting for. Once a wait has
   * given up so, the next ones give up at once until the cache moves again.
   */
  waitUntil(rv: number, timeoutMs: number, stillMs = Infinity): Promise<void> {
    if (this.ready && this.rv >= rv) return Promise.resolve();
    if (this.ready && !this.following) return Promise.reject(this.notFed());
    if (stillMs < timeoutMs && this.stillAt === this.movedAt) return Promise.reject(this.standingStill(rv, Date.now() - this.movedAt));
    return new Promise((resolve, reject) => {
      const since = Date.now();
      const timers: NodeJS.Timeout[] = [];
      const settle = (err?: Error) => {
        for (const t of timers) clearTimeout(t);
        if (err) this.waiters = this.waiters.filter((w) => w !== waiter);
        (err ? reject(err) : resolve());
      };
      const waiter = { rv, resolve: () => settle(), reject: settle };
      timers.push(setTimeout(() => settle(new Error(`the ${this.info.resource} cache is at revision ${this.rv}, still short of ${rv} after ${timeoutMs} ms`)), timeoutMs));
      const still = (confirm = false) => {
        const idle = Date.now() - Math.max(this.movedAt, since);
        if (idle < stillMs) timers[1] = setTimeout(still, stillMs - idle);
        // Timers run before the I/O that waited behind a busy event loop: what it brings is applied first.
        else if (!confirm) setImmediate(() => still(true));
        else {
          this.stillAt = this.movedAt;
          settle(this.standingStill(rv, idle));
        }
      };
      if (stillMs < timeoutMs) timers[1] = setTimeout(still, stillMs);
      this.waiters.push(waiter);
    });
  }

  private standingStill(rv: number, idleMs: number): Error {
    return new Error(`the ${this.info.resource} cache is at revision ${this.rv}, short of ${rv}, and has not moved for ${idleMs} ms`);
  }

  private notFed(): Error {
    return new Error(`the ${this.info.resource} cache is not being fed (its feed is being made again)`);
  }

  private wake(): void {
    this.movedAt = Date.now();
    if (!this.ready || this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.rv >= w.rv ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  private dispatch(ev: CacheEvent): void {
    for (const w of this.general) deliver(w, ev);
    const a = nodeOf(ev.prev);
    const b = nodeOf(ev.object);
    if (a) for (const w of this.nodeWatchers.get(a) ?? []) deliver(w, ev);
    if (b && b !== a) for (const w of this.nodeWatchers.get(b) ?? []) deliver(w, ev);
  }

  private record(ev: CacheEvent): void {
    this.events.push(ev);
    if (this.events.length - this.start > this.capacity) {
      this.oldestRv = this.events[this.start].rv;
      this.start++;
      if (this.start > this.capacity) {
        this.events = this.events.slice(this.start);
        this.start = 0;
      }
    }
  }

  private firstAfter(rv: number): number {
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private index(key: string, o: KubeObject): void {
    const node = nodeOf(o);
    if (node) indexAdd(this.byNode, node, key);
    for (const ref of o.metadata.ownerReferences ?? []) indexAdd(this.byOwner, ref.uid, key);
  }

  private unindex(key: string, o: KubeObject): void {
    const node = nodeOf(o);
    if (node) indexDel(this.byNode, node, key);
    for (const ref of o.metadata.ownerReferences ?? []) indexDel(this.byOwner, ref.uid, key);
  }
}

function decodeStored(bytes: Uint8Array): KubeObject | undefined {
  try {
    const object = decodeObject<KubeObject>(bytes);
    return typeof object?.metadata === 'object' && object.metadata !== null ? object : undefined;
  } catch {
    return undefined;
  }
}
