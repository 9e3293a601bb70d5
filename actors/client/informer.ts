// An informer: a local cache of one resource kept current by a resumable watch, with indexes by
// namespace, by label, by spec.nodeName and by controlling owner, and handlers told of each add, update and delete.
// Handlers should only enqueue keys (see workqueue.ts); the worker reads the cache.
import type { KubeObject } from '../../protocol/types.ts';
import type { ApiClient } from './client.ts';
import type { WatchHandle, WatchOptions, WatchUpdate } from './watch.ts';
import { createLogger } from '../platform/log.ts';

const log = createLogger({ component: 'informer' });

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export type InformerOptions = Omit<WatchOptions, 'resourceVersion'>;

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : `${obj.metadata.name}`;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

type Index = Map<string, Set<string>>;

function addTo(index: Index, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}

function removeFrom(index: Index, value: string, key: string): void {
  const set = index.get(value);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(value);
}

function sameIndexKeys(a: KubeObject, b: KubeObject): boolean {
  if (a.metadata.namespace !== b.metadata.namespace || nodeNameOf(a) !== nodeNameOf(b)) return false;
  if (a.metadata.ownerReferences?.find((r) => r.controller)?.uid !== b.metadata.ownerReferences?.find((r) => r.controller)?.uid) return false;
  const la = a.metadata.labels ?? {};
  const lb = b.metadata.labels ?? {};
  const ka = Object.keys(la);
  if (ka.length !== Object.keys(lb).length) return false;
  for (const k of ka) if (la[k] !== lb[k]) return false;
  return true;
}

function nodeNameOf(obj: KubeObject): string | undefined {
  return (obj.spec as { nodeName?: string } | undefined)?.nodeName || undefined;
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly byNamespace: Index = new Map();
  private readonly byLabel: Index = new Map();
  private readonly byNode: Index = new Map();
  private readonly byOwner: Index = new Map();
  private readonly handlers: InformerHandlers<T>[] = [];
  private watch?: WatchHandle;
  private relisting?: Set<string>;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];

  constructor(private readonly client: ApiClient, readonly resource: string, private readonly opts: InformerOptions) {}

  on(handlers: InformerHandlers<T>): this {
    this.handlers.push(handlers);
    return this;
  }

  start(): this {
    this.watch ??= this.client.watch(this.resource, this.opts, (u) => this.apply(u));
    return this;
  }

  stop(): void {
    this.watch?.stop();
    this.watch = undefined;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves once the first full listing has been loaded. */
  synced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  resourceVersion(): string | undefined {
    return this.watch?.resourceVersion();
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(name: string, namespace?: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  get size(): number {
    return this.items.size;
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  listByNamespace(namespace: string): T[] {
    return this.fromIndex(this.byNamespace.get(namespace));
  }

  listByLabel(key: string, value: string): T[] {
    return this.fromIndex(this.byLabel.get(`${key}=${value}`));
  }

  /**
   * The objects of `namespace` that may match the equality terms `labels`: those carrying one of
   * them, from the label index (`preferred`, if it is one of the terms, else the first), or the
   * whole namespace when there are no terms. The caller matches the rest of the selector.
   */
  candidates(namespace: string, labels: Record<string, string>, preferred?: string): T[] {
    const terms = Object.entries(labels);
    const pick = terms.find(([k]) => k === preferred) ?? terms[0];
    if (!pick) return this.listByNamespace(namespace);
    return this.listByLabel(pick[0], pick[1]).filter((o) => o.metadata.namespace === namespace);
  }

  listByNode(nodeName: string): T[] {
    return this.fromIndex(this.byNode.get(nodeName));
  }

  /** Objects whose controlling owner has this uid. */
  listByOwner(uid: string): T[] {
    return this.fromIndex(this.byOwner.get(uid));
  }

  private fromIndex(keys: Set<string> | undefined): T[] {
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.items.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  private index(key: string, obj: T, add: boolean): void {
    const op = add ? addTo : removeFrom;
    if (obj.metadata.namespace) op(this.byNamespace, obj.metadata.namespace, key);
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) op(this.byLabel, `${k}=${v}`, key);
    const node = nodeNameOf(obj);
    if (node) op(this.byNode, node, key);
    const owner = obj.metadata.ownerReferences?.find((r) => r.controller)?.uid;
    if (owner) op(this.byOwner, owner, key);
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.items.get(key);
    // Most updates are status: the indexed fields seldom change, so leave the indexes alone then.
    const reindex = !old || !sameIndexKeys(old, obj);
    if (old && reindex) this.index(key, old, false);
    this.items.set(key, obj);
    if (reindex) this.index(key, obj, true);
    if (!old) this.tell((h) => h.add?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.tell((h) => h.update?.(old, obj));
  }

  /**
   * Tells every handler; one that throws is logged and the others are still told. The cache has
   * already changed, so a watch replaying the event would tell nobody again: the failure stays here.
   */
  private tell(call: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        call(h);
      } catch (err) {
        log.error('an informer handler failed', { resource: this.resource, err });
      }
    }
  }

  private remove(key: string, last?: T): void {
    const old = this.items.get(key);
    if (!old) return;
    this.index(key, old, false);
    this.items.delete(key);
    this.tell((h) => h.delete?.(last ?? old));
  }

  private apply(u: WatchUpdate): void {
    switch (u.type) {
      case 'RESYNC':
        this.relisting = new Set();
        return;
      case 'SYNCED': {
        const seen = this.relisting;
        this.relisting = undefined;
        if (seen) for (const key of [...this.items.keys()]) if (!seen.has(key)) this.remove(key);
        if (!this.syncedOnce) {
          this.syncedOnce = true;
          for (const w of this.syncWaiters.splice(0)) w();
        }
        return;
      }
      case 'ADDED':
      case 'MODIFIED':
        this.relisting?.add(objectKey(u.object));
        this.upsert(u.object as T);
        return;
      case 'DELETED':
        this.remove(objectKey(u.object), u.object as T);
        return;
    }
  }
}
