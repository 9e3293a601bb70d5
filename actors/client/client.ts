// The apiserver client: every verb as a NATS request to the apiserver queue group, with errors
// rebuilt as the protocol's named classes.
import type { NatsConnection } from 'nats';
import { ConnectionLostError, NoRespondersError, RequestTimeoutError, requestMux } from './requests.ts';
import { READ_HEDGE_MS, REQUEST_MIN_ATTEMPT_MS, REQUEST_RETRY_PAUSE_MS } from '../../protocol/config.ts';
import { decode, encode } from '../../protocol/codec.ts';
import { Conflict, fromWire, StaleLeader, Timeout, Unavailable, type WireError } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import { ACCESS_REVIEW_RESOURCE, apiInstanceSubject, apiSubject, VERSION_RESOURCE } from '../../protocol/subjects.ts';
import type { AccessReview, AccessReviewResult } from '../../protocol/identity.ts';
import { NODE_METRICS_RESOURCE, POD_METRICS_RESOURCE, type NodeUsage, type PodUsage } from '../../protocol/metrics.ts';
import type { ServerVersion } from '../../protocol/version.ts';
import { apiServers } from './apiservers.ts';
import { connectionOrigin } from '../platform/nats.ts';
import type { Binding, KubeObject, ObjectList, Pod } from '../../protocol/types.ts';
import { startWatch, type WatchHandle, type WatchOptions, type WatchUpdate } from './watch.ts';

/** Names the leader lease a write is made under; the apiserver refuses it if the lease moved on. */
export interface Fence {
  /** `namespace/name` of the Lease. */
  lease: string;
  holder: string;
  /** The lease's leaseTransitions when this holder acquired it. */
  term: number;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** `Strict` (default) rejects unknown fields; `Ignore` drops them. */
  fieldValidation?: 'Strict' | 'Ignore';
  fence?: Fence;
}

/**
 * Asks a write to answer with only the version it wrote, not the object (which costs sending and
 * decoding on every write): for writers that have no use for the answer.
 */
export interface AckOnly {
  returnObject: false;
}

/** The answer to a write made with `returnObject: false`; no version when nothing was written (a dry run). */
export interface WriteAck {
  resourceVersion?: string;
}

/** The object from a write's answer, or only its version when the write asked for no object. */
function answer<T>(msg: Record<string, unknown>, opts: Partial<AckOnly>): T | WriteAck {
  if (opts.returnObject !== false) return msg.object as T;
  return typeof msg.resourceVersion === 'string' ? { resourceVersion: msg.resourceVersion } : {};
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ClientOptions {
  /** The node this client speaks for, appended to its request subjects. */
  origin?: string;
  timeoutMs: number;
  /** Every write made through this client carries this fence (a leader's client). */
  fence?: Fence;
  /** Keep retrying while no apiserver is subscribed (actors during a restart); the CLI says so at once. */
  waitForApiserver?: boolean;
  /**
   * How long one attempt may take before the next is sent (default: a third of the timeout, at
   * least a second). Lease renewals use a short one: an answer takes milliseconds, and a renewal
   * stuck on a hung apiserver must not outlive the lease.
   */
  attemptTimeoutMs?: number;
}

/** A request is tried up to about this many times within its timeout, each attempt at least REQUEST_MIN_ATTEMPT_MS. */
const ATTEMPTS = 3;

const WRITES = new Set(['create', 'update', 'status', 'bind', 'patch', 'delete']);
const READS = new Set(['get', 'list']);

/**
 * `first()`; if it has not settled within `delayMs`, `second()` as well (when there is one), and
 * whichever succeeds first. Fails with the first's error once every attempt made has failed.
 */
export function hedged<T>(first: () => Promise<T>, second: (() => Promise<T> | undefined) | undefined, delayMs: number): Promise<T> {
  if (!second) return first();
  return new Promise<T>((resolve, reject) => {
    let pending = 1;
    let firstError: unknown;
    let settled = false;
    const fail = (err: unknown, isFirst: boolean) => {
      if (isFirst) firstError = err;
      if (--pending === 0 && !settled) {
        settled = true;
        clearTimeout(timer);
        reject(firstError ?? err);
      }
    };
    const win = (v: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    first().then(win, (err) => fail(err, true));
    const timer = setTimeout(() => {
      if (settled) return;
      const p = second();
      if (!p) return;
      pending++;
      p.then(win, (err) => fail(err, false));
    }, delayMs);
  });
}

function resourceOf(obj: KubeObject): string {
  const info = kindInfo(obj?.kind);
  if (!info) return String(obj?.kind ?? 'unknown').toLowerCase();
  return info.resource;
}

/** The object a write is to, for ApiServers.pick: its resource, namespace and name. */
function writeAffinity(resource: string, body: Record<string, unknown>): string | undefined {
  const meta = (body.object as { metadata?: { name?: string; namespace?: string } } | undefined)?.metadata;
  const name = (body.name as string | undefined) ?? meta?.name;
  return name ? `${resource}/${(body.namespace as string | undefined) ?? meta?.namespace ?? ''}/${name}` : undefined;
}

export class ApiClient {
  readonly opts: ClientOptions;

  /** Requests carry the connection's identity (its credentials) unless `opts.origin` names one. */
  constructor(readonly nc: NatsConnection, opts: ClientOptions) {
    this.opts = { ...opts, origin: opts.origin ?? connectionOrigin(nc) };
  }

  /** The same connection, with every write fenced by the lease term a leader holds. */
  fenced(fence: Fence): ApiClient {
    return new ApiClient(this.nc, { ...this.opts, fence });
  }

  /** The same connection, with other timeouts (for lease renewals). */
  withTimeouts(timeoutMs: number, attemptTimeoutMs: number): ApiClient {
    return new ApiClient(this.nc, { ...this.opts, timeoutMs, attemptTimeoutMs });
  }

  /**
   * One request, retried within the timeout when an attempt goes unanswered: an apiserver that
   * hangs (paused, overloaded) keeps its place in the queue group until NATS notices, and a retry
   * most likely reaches another. Each attempt carries its deadline, and an apiserver refuses work
   * whose deadline has passed, so an attempt given up on is never carried out later; writes are
   * compare-and-swap or idempotent, which makes the retry of a lost answer safe.
   */
  async call(resource: string, verb: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.opts.fence && WRITES.has(verb)) body = { ...body, options: { ...(body.options as object | undefined), fence: this.opts.fence } };
    const budget = this.opts.timeoutMs;
    const started = Date.now();
    const servers = this.nc.isClosed() ? undefined : apiServers(this.nc);
    const unanswered = new Set<string>();
    // A write attempt went unanswered: it may have been carried out, its answer lost.
    let writeMayHaveLanded = false;
    for (;;) {
      const left = budget - (Date.now() - started);
      const attemptMs = Math.max(1, Math.min(left, this.opts.attemptTimeoutMs ?? Math.max(REQUEST_MIN_ATTEMPT_MS, budget / ATTEMPTS)));
      // An apiserver heard from lately, one that has not let this request down; else the queue group.
      const instance = servers?.pick(unanswered, WRITES.has(verb) ? writeAffinity(resource, body) : undefined);
      const subject = instance ? apiInstanceSubject(instance, resource, verb, this.opts.origin) : apiSubject(resource, verb, this.opts.origin);
      const send = (to: string) => requestMux(this.nc).request(to, encode('request', { ...body, deadline: Date.now() + attemptMs }), attemptMs, undefined, READS.has(verb));
      // A read unanswered for READ_HEDGE_MS is asked of a second apiserver too, the first answer
      // taken: one whose NATS server has just died would otherwise hold it for a whole attempt.
      const hedge = instance && READS.has(verb) ? () => {
        const second = servers!.pick(new Set([...unanswered, instance]));
        return second ? send(apiInstanceSubject(second, resource, verb, this.opts.origin)) : undefined;
      } : undefined;
      let reply;
      try {
        reply = await hedged(() => send(subject), hedge, READ_HEDGE_MS);
      } catch (err) {
        const timeLeft = budget - (Date.now() - started) > REQUEST_RETRY_PAUSE_MS;
        // Our own connection broke under a read: ask again at once (it goes out on the next connection).
        if (err instanceof ConnectionLostError && timeLeft) continue;
        if (instance && err instanceof NoRespondersError) {
          servers!.forget(instance); // it has gone since its last beat
          continue;
        }
        if (instance && err instanceof RequestTimeoutError) unanswered.add(instance);
        if (err instanceof RequestTimeoutError && WRITES.has(verb)) writeMayHaveLanded = true;
        if (err instanceof NoRespondersError) {
          if (this.opts.waitForApiserver && timeLeft) {
            await new Promise((r) => setTimeout(r, REQUEST_RETRY_PAUSE_MS));
            continue;
          }
          throw new Unavailable(`no apiserver is answering on ${this.nc.getServer()}; start the masters with: skiff up`);
        }
        if (err instanceof RequestTimeoutError) {
          if (timeLeft) continue;
          throw new Timeout(`the apiserver did not answer ${resource}.${verb} within ${budget} ms`);
        }
        throw new Unavailable(`request ${resource}.${verb} failed: ${(err as Error).message}`, { cause: err });
      }
      const msg = decode(reply.data);
      if (msg.type === 'error') {
        const err = fromWire(msg.error as WireError);
        // The retry of a write whose first attempt may have landed can conflict with that very
        // attempt (its own create, its own compare-and-swap): not "not done", but "not known".
        if (writeMayHaveLanded && err instanceof Conflict && !(err instanceof StaleLeader)) {
          throw new Timeout(`${resource}.${verb}: an attempt went unanswered and the retry met a conflict, which that attempt may have caused: it may or may not have been carried out; read the object again (${err.message})`);
        }
        throw err;
      }
      return msg;
    }
  }

  /** Whether a user may do something (the kubelet before logs and exec; skiff auth can-i). */
  async reviewAccess(review: AccessReview): Promise<AccessReviewResult> {
    return (await this.call(ACCESS_REVIEW_RESOURCE, 'create', { review })).result as AccessReviewResult;
  }

  /** What each node uses, as its kubelet last said (protocol/metrics.ts). */
  async nodeMetrics(): Promise<Omit<NodeUsage, 'pods'>[]> {
    return (await this.call(NODE_METRICS_RESOURCE, 'list', {})).items as Omit<NodeUsage, 'pods'>[];
  }

  /** What each pod uses, in one namespace or (none given) all. */
  async podMetrics(namespace?: string): Promise<(PodUsage & { node: string; timestamp: number; windowMs: number; requestsPerSecond?: number; activeConnections?: number })[]> {
    return (await this.call(POD_METRICS_RESOURCE, 'list', { namespace })).items as (PodUsage & { node: string; timestamp: number; windowMs: number; requestsPerSecond?: number; activeConnections?: number })[];
  }

  /** The answering apiserver's build and protocol version. */
  async version(): Promise<ServerVersion> {
    return (await this.call(VERSION_RESOURCE, 'get', {})).version as ServerVersion;
  }

  async get<T extends KubeObject = KubeObject>(resource: string, name: string, namespace?: string): Promise<T> {
    return (await this.call(resource, 'get', { name, namespace })).object as T;
  }

  async list<T extends KubeObject = KubeObject>(resource: string, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return (await this.call(resource, 'list', { ...opts })).list as ObjectList<T>;
  }

  create<T extends KubeObject>(obj: T, opts: WriteOptions & AckOnly): Promise<WriteAck>;
  create<T extends KubeObject>(obj: T, opts?: WriteOptions): Promise<T>;
  async create<T extends KubeObject>(obj: T, opts: WriteOptions & Partial<AckOnly> = {}): Promise<T | WriteAck> {
    return answer<T>(await this.call(resourceOf(obj), 'create', { object: obj, options: opts }), opts);
  }

  async update<T extends KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    return (await this.call(resourceOf(obj), 'update', { object: obj, options: opts })).object as T;
  }

  /** Writes only `status`; spec and metadata.generation are left alone. */
  updateStatus<T extends KubeObject>(obj: T, opts: WriteOptions & AckOnly): Promise<WriteAck>;
  updateStatus<T extends KubeObject>(obj: T, opts?: WriteOptions): Promise<T>;
  async updateStatus<T extends KubeObject>(obj: T, opts: WriteOptions & Partial<AckOnly> = {}): Promise<T | WriteAck> {
    return answer<T>(await this.call(resourceOf(obj), 'status', { object: obj, options: opts }), opts);
  }

  /**
   * Puts a pod on a node (Kubernetes' pods/binding): a Conflict if it is bound already, being
   * deleted, or (given `uid`) not the pod of that uid any more. Returns the pod as bound (only its
   * version with returnObject: false).
   */
  bind(namespace: string, name: string, nodeName: string, opts: WriteOptions & AckOnly & { uid?: string }): Promise<WriteAck>;
  bind(namespace: string, name: string, nodeName: string, opts?: WriteOptions & { uid?: string }): Promise<Pod>;
  async bind(namespace: string, name: string, nodeName: string, opts: WriteOptions & Partial<AckOnly> & { uid?: string } = {}): Promise<Pod | WriteAck> {
    const { uid, ...options } = opts;
    const binding: Binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, ...(uid ? { uid } : {}) }, target: { kind: 'Node', name: nodeName } };
    return answer<Pod>(await this.call('pods', 'bind', { object: binding, namespace, options }), options);
  }

  /** A JSON merge patch, retried on conflict by the apiserver. */
  patch(resource: string, name: string, namespace: string | undefined, patch: unknown, opts: WriteOptions & AckOnly & { subresource?: 'status' }): Promise<WriteAck>;
  patch<T extends KubeObject = KubeObject>(resource: string, name: string, namespace: string | undefined, patch: unknown, opts?: WriteOptions & { subresource?: 'status' }): Promise<T>;
  async patch<T extends KubeObject = KubeObject>(
    resource: string, name: string, namespace: string | undefined, patch: unknown,
    opts: WriteOptions & Partial<AckOnly> & { subresource?: 'status' } = {},
  ): Promise<T | WriteAck> {
    const { subresource, ...options } = opts;
    return answer<T>(await this.call(resource, 'patch', { name, namespace, patch, subresource, options }), options);
  }

  /** Returns the object as it was deleted, or as it now is when deletion is graceful. */
  async delete<T extends KubeObject = KubeObject>(resource: string, name: string, namespace?: string, opts: DeleteOptions = {}): Promise<T> {
    return (await this.call(resource, 'delete', { name, namespace, options: opts })).object as T;
  }

  watch(resource: string, opts: WatchOptions, onUpdate: (u: WatchUpdate) => void): WatchHandle {
    return startWatch(this, resource, opts, onUpdate);
  }
}
