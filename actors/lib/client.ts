// The apiserver client: every verb as a NATS request to the apiserver queue group, with errors
// rebuilt as the protocol's named classes.
import { ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { decode, encode } from '../../protocol/codec.ts';
import { fromWire, Timeout, Unavailable, type WireError } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import { apiSubject } from '../../protocol/subjects.ts';
import type { KubeObject, ObjectList } from '../../protocol/types.ts';
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
}

const WRITES = new Set(['create', 'update', 'status', 'patch', 'delete']);

function resourceOf(obj: KubeObject): string {
  const info = kindInfo(obj?.kind);
  if (!info) return String(obj?.kind ?? 'unknown').toLowerCase();
  return info.resource;
}

export class ApiClient {
  constructor(readonly nc: NatsConnection, readonly opts: ClientOptions) {}

  /** The same connection, with every write fenced by the lease term a leader holds. */
  fenced(fence: Fence): ApiClient {
    return new ApiClient(this.nc, { ...this.opts, fence });
  }

  async call(resource: string, verb: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.opts.fence && WRITES.has(verb)) body = { ...body, options: { ...(body.options as object | undefined), fence: this.opts.fence } };
    let reply;
    try {
      reply = await this.nc.request(apiSubject(resource, verb, this.opts.origin), encode('request', body), {
        timeout: this.opts.timeoutMs,
      });
    } catch (err) {
      const code = (err as NatsError).code;
      if (code === ErrorCode.NoResponders) {
        throw new Unavailable(`no apiserver is answering on ${this.nc.getServer()}; start the masters with: skiff up`);
      }
      if (code === ErrorCode.Timeout) throw new Timeout(`the apiserver did not answer ${resource}.${verb} within ${this.opts.timeoutMs} ms`);
      throw new Unavailable(`request ${resource}.${verb} failed: ${(err as Error).message}`, { cause: err });
    }
    const msg = decode(reply.data);
    if (msg.type === 'error') throw fromWire(msg.error as WireError);
    return msg;
  }

  async get<T extends KubeObject = KubeObject>(resource: string, name: string, namespace?: string): Promise<T> {
    return (await this.call(resource, 'get', { name, namespace })).object as T;
  }

  async list<T extends KubeObject = KubeObject>(resource: string, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return (await this.call(resource, 'list', { ...opts })).list as ObjectList<T>;
  }

  async create<T extends KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    return (await this.call(resourceOf(obj), 'create', { object: obj, options: opts })).object as T;
  }

  async update<T extends KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    return (await this.call(resourceOf(obj), 'update', { object: obj, options: opts })).object as T;
  }

  /** Writes only `status`; spec and metadata.generation are left alone. */
  async updateStatus<T extends KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    return (await this.call(resourceOf(obj), 'status', { object: obj, options: opts })).object as T;
  }

  /** A JSON merge patch, retried on conflict by the apiserver. */
  async patch<T extends KubeObject = KubeObject>(
    resource: string, name: string, namespace: string | undefined, patch: unknown,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<T> {
    const { subresource, ...options } = opts;
    return (await this.call(resource, 'patch', { name, namespace, patch, subresource, options })).object as T;
  }

  /** Returns the object as it was deleted, or as it now is when deletion is graceful. */
  async delete<T extends KubeObject = KubeObject>(resource: string, name: string, namespace?: string, opts: DeleteOptions = {}): Promise<T> {
    return (await this.call(resource, 'delete', { name, namespace, options: opts })).object as T;
  }

  watch(resource: string, opts: WatchOptions, onUpdate: (u: WatchUpdate) => void): WatchHandle {
    return startWatch(this, resource, opts, onUpdate);
  }
}
