// The object store: one JetStream KV bucket per kind, key `<namespace>.<name>` (`_.<name>` for
// cluster-scoped kinds), resourceVersion = KV revision, every write a compare-and-swap; and a
// `skiff-claims` bucket for what no two objects may share (node ports and ClusterIPs, claims.ts).
import { StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { decodeObject, encodeObject } from '../../protocol/codec.ts';
import { AlreadyExists, Conflict, errorMessage, Unavailable } from '../../protocol/errors.ts';
import { STORE_UNANSWERED_MS } from '../../protocol/config.ts';
import { KINDS, type KindInfo } from '../../protocol/kinds.ts';
import { kvBucket, kvStream } from '../../protocol/subjects.ts';
import type { Config } from '../../protocol/config.ts';
import type { KubeObject } from '../../protocol/types.ts';
import { checkSize } from '../../protocol/validate.ts';
import { JetStreamError, KvRequests, type RawEntry } from './kv-requests.ts';

const CLUSTER_SCOPE = '_';
/** Keys that apiservers claim to agree on what no two objects may share (node ports). */
const CLAIMS_BUCKET = 'skiff-claims';
const WRONG_LAST_SEQUENCE = 10071;

export function storeKey(info: KindInfo, name: string, namespace?: string): string {
  return `${info.namespaced ? namespace : CLUSTER_SCOPE}.${name}`;
}

export function parseStoreKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('.');
  const scope = key.slice(0, i);
  return { name: key.slice(i + 1), ...(scope === CLUSTER_SCOPE ? {} : { namespace: scope }) };
}

export interface Stored<T extends KubeObject = KubeObject> {
  object: T;
  revision: number;
}

/** An object as it is at rest: its msgpack without resourceVersion, and its revision. */
export interface StoredBytes {
  bytes: Uint8Array;
  revision: number;
}

/** The object as served: stored bytes plus the revision as resourceVersion. */
export function fromEntry<T extends KubeObject>(entry: { value: Uint8Array; revision: number }): T {
  const obj = decodeObject<T>(entry.value);
  obj.metadata.resourceVersion = String(entry.revision);
  return obj;
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamError && err.errCode === WRONG_LAST_SEQUENCE;
}

/** The stored bytes: the object without its resourceVersion, refused if over 1 MiB. */
export function forStorage(obj: KubeObject): Uint8Array {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const bytes = encodeObject({ ...obj, metadata });
  checkSize(`${obj.kind} ${JSON.stringify(obj.metadata.name)}`, bytes.length);
  return bytes;
}

/**
 * Copies of each bucket: SKIFF_KV_REPLICAS, or one per server up to 3 (Raft's quorum survives one
 * server's loss from 3). The servers are those the process was given (SKIFF_NATS_URL) or the
 * cluster told it of, whichever is more.
 */
export function kvReplicas(cfg: Config, nc?: Pick<NatsConnection, 'info'>): number {
  if (cfg.kvReplicas > 0) return cfg.kvReplicas;
  const given = cfg.natsUrl.split(',').filter((u) => u.trim() !== '').length;
  return Math.min(3, Math.max(given, nc?.info?.connect_urls?.length ?? 1));
}

/**
 * A bucket made with fewer copies (by one server, or an older skiff) is given more: JetStream adds
 * them live, and direct gets go off (a follower's copy may trail). Says whether any replica may
 * answer the bucket's gets: only one with a single copy and direct gets on.
 */
async function withCopies(jsm: JetStreamManager, stream: string, replicas: number): Promise<boolean> {
  const { config } = await jsm.streams.info(stream);
  const copies = config.num_replicas ?? 1;
  if (copies < replicas) {
    await jsm.streams.update(stream, { ...config, num_replicas: replicas, allow_direct: false });
    return false;
  }
  return copies === 1 && config.allow_direct === true;
}

export class Store {
  /** When each bucket last left quickLastRevision unanswered; and the buckets being asked now. */
  private readonly unanswered = new Map<string, number>();
  private readonly probing = new Set<string>();

  private constructor(private readonly kv: KvRequests) {}

  static async open(nc: NatsConnection, cfg: Config): Promise<Store> {
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    const storage = cfg.kvStorage === 'memory' ? StorageType.Memory : StorageType.File;
    const replicas = kvReplicas(cfg, nc);
    const direct = new Set<string>();
    const bucket = async (name: string, ttl = 0) => {
      try {
        await js.views.kv(name, { history: 1, storage, ttl, allow_direct: replicas === 1, replicas });
        if (await withCopies(jsm, kvStream(name), replicas)) direct.add(name);
      } catch (err) {
        const short = /insufficient resources|replicas > 1 not supported/i.test(errorMessage(err));
        throw new Error(`cannot open the store's bucket ${name} with ${replicas} ${replicas === 1 ? 'copy' : 'copies'}: ${errorMessage(err)}${
          short ? ' (the NATS cluster has fewer servers with JetStream than that: run more, e.g. skiff up -m nats=3, or set SKIFF_KV_REPLICAS=1)' : ''}`, { cause: err });
      }
    };
    await Promise.all([
      ...KINDS.map((info) => bucket(kvBucket(info.resource), info.kind === 'Lease' ? cfg.leaseBucketTtlMs : info.kind === 'Event' ? cfg.eventTtlMs : 0)),
      bucket(CLAIMS_BUCKET),
    ]);
    return new Store(new KvRequests(nc, cfg.requestTimeoutMs, direct));
  }

  async get<T extends KubeObject>(info: KindInfo, name: string, namespace?: string): Promise<Stored<T> | null> {
    const stored = await this.getBytes(info, name, namespace);
    return stored && { object: fromEntry<T>({ value: stored.bytes, revision: stored.revision }), revision: stored.revision };
  }

  /** The stored bytes of an object, undecoded; null if absent. */
  async getBytes(info: KindInfo, name: string, namespace?: string): Promise<StoredBytes | null> {
    const entry = await this.kv.get(kvBucket(info.resource), storeKey(info, name, namespace));
    if (!entry || entry.operation !== 'PUT') return null;
    return { bytes: entry.value, revision: entry.revision };
  }

  /** Creates the key; a key whose last entry is a delete counts as absent. */
  async create(info: KindInfo, obj: KubeObject, bytes = forStorage(obj)): Promise<StoredBytes> {
    const bucket = kvBucket(info.resource);
    const key = storeKey(info, obj.metadata.name as string, obj.metadata.namespace);
    try {
      return { bytes, revision: await this.kv.put(bucket, key, bytes, 0) };
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const last = await this.kv.get(bucket, key);
    if (last && last.operation !== 'PUT') {
      try {
        return { bytes, revision: await this.kv.put(bucket, key, bytes, last.revision) };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new AlreadyExists(`${info.resource} ${JSON.stringify(obj.metadata.name)} already exists`);
  }

  /** Compare-and-swap on `revision`: a stale one is a Conflict. */
  async update(info: KindInfo, obj: KubeObject, revision: number, bytes = forStorage(obj)): Promise<StoredBytes> {
    const key = storeKey(info, obj.metadata.name as string, obj.metadata.namespace);
    try {
      return { bytes, revision: await this.kv.put(kvBucket(info.resource), key, bytes, revision) };
    } catch (err) {
      if (isWrongLastSequence(err)) throw conflict(info, obj.metadata.name as string);
      throw err;
    }
  }

  /** Deletes if still at `revision`, leaving a tombstone that watchers see. */
  async delete(info: KindInfo, name: string, namespace: string | undefined, revision: number): Promise<void> {
    try {
      await this.kv.put(kvBucket(info.resource), storeKey(info, name, namespace), new Uint8Array(), revision, 'DEL');
    } catch (err) {
      if (isWrongLastSequence(err)) throw conflict(info, name);
      throw err;
    }
  }

  /** A claim (node-ports.ts): its value and revision; a released one has no value, a never-made one is null. */
  async getClaim(key: string): Promise<{ value?: Uint8Array; revision: number } | null> {
    const entry = await this.kv.get(CLAIMS_BUCKET, key);
    if (!entry) return null;
    return entry.operation === 'PUT' ? { value: entry.value, revision: entry.revision } : { revision: entry.revision };
  }

  /** Writes a claim if its key is at `revision` (0: never made); false if another write came first. */
  async putClaim(key: string, value: Uint8Array, revision: number): Promise<boolean> {
    try {
      await this.kv.put(CLAIMS_BUCKET, key, value, revision);
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  /** Releases a claim still at `revision`. */
  async dropClaim(key: string, revision: number): Promise<void> {
    try {
      await this.kv.put(CLAIMS_BUCKET, key, new Uint8Array(), revision, 'DEL');
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }

  /** `seen` is told of every revision a bucket was seen to hold (kv-feed.ts's stall check). */
  onRevision(seen: (bucket: string, revision: number) => void): void {
    this.kv.onRevision = seen;
  }

  /**
   * The bucket's last revision within `timeoutMs`, for a read that serves what it has otherwise
   * (a list): while the bucket elects a leader, asking costs every list the whole wait, so for
   * STORE_UNANSWERED_MS after one went unanswered the answer is "not now" at once, and a single
   * question in the background finds out when the bucket answers again.
   */
  quickLastRevision(info: KindInfo, timeoutMs: number): Promise<number> {
    const bucket = kvBucket(info.resource);
    const since = this.unanswered.get(bucket);
    if (since !== undefined && Date.now() - since < STORE_UNANSWERED_MS) {
      if (!this.probing.has(bucket)) void this.askLast(bucket, timeoutMs).catch(() => { /* still electing */ });
      return Promise.reject(new Unavailable(`the ${bucket} bucket did not answer ${Date.now() - since} ms ago (electing a leader?)`));
    }
    return this.askLast(bucket, timeoutMs);
  }

  private async askLast(bucket: string, timeoutMs: number): Promise<number> {
    this.probing.add(bucket);
    try {
      const revision = await this.kv.lastSequence(bucket, timeoutMs);
      this.unanswered.delete(bucket);
      return revision;
    } catch (err) {
      this.unanswered.set(bucket, Date.now());
      throw err;
    } finally {
      this.probing.delete(bucket);
    }
  }

  /** The entry at one revision of a kind's bucket, with its key; null if a later one replaced it (KvRequests.entryAt). */
  entryAt(info: KindInfo, revision: number): Promise<(RawEntry & { key: string }) | null> {
    return this.kv.entryAt(kvBucket(info.resource), revision);
  }

  /** The bucket's last revision: a read at or after it sees every write acknowledged so far. */
  lastRevision(info: KindInfo, timeoutMs?: number): Promise<number> {
    return this.kv.lastSequence(kvBucket(info.resource), timeoutMs);
  }
}

export function conflict(info: KindInfo, name: string): Conflict {
  return new Conflict(
    `Operation cannot be fulfilled on ${info.resource} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`,
  );
}
