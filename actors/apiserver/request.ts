// What every verb gets: the apiserver's context, the request's fields and options read with
// errors that name them, and the checks several verbs share (the namespace, the fence).
import { BadRequest, NotFound, StaleLeader } from '../../protocol/errors.ts';
import type { Config } from '../../protocol/config.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { isPlainObject } from '../../protocol/schema.ts';
import { parseFieldSelector, parseSelector, SelectorError } from '../../protocol/selector.ts';
import type { Lease, Namespace } from '../../protocol/types.ts';
import type { Fence } from '../client/client.ts';
import type { AdmissionChain } from './admission.ts';
import type { Store } from './store.ts';
import type { WatchCache, WatchFilter } from './watch-cache.ts';

export interface ApiContext {
  store: Store;
  caches: Map<string, WatchCache>;
  admission: AdmissionChain;
  cfg: Config;
  now(): Date;
  /** Told of every fenced write: accepted, or refused as from a stale leader. */
  onFence?: (fence: Fence, accepted: boolean) => void;
}

export interface ApiRequest {
  name?: unknown;
  namespace?: unknown;
  object?: unknown;
  patch?: unknown;
  subresource?: unknown;
  options?: unknown;
  labelSelector?: unknown;
  fieldSelector?: unknown;
  resourceVersion?: unknown;
  sendInitialEvents?: unknown;
  deliver?: unknown;
  /** When the client gives up on this attempt (ms since the epoch). */
  deadline?: unknown;
  /** Set by the server from the subject: the node that sent the request. */
  origin?: string;
}

export interface RequestOptions {
  dryRun: boolean;
  strict: boolean;
  fence?: Fence;
  propagationPolicy: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export function optionalString(req: ApiRequest, field: keyof ApiRequest): string | undefined {
  const v = req[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new BadRequest(`field ${field}: must be a string`);
  return v;
}

export function requiredString(req: ApiRequest, field: keyof ApiRequest, what: string): string {
  const v = optionalString(req, field);
  if (v === undefined) throw new BadRequest(`field ${field}: required (${what})`);
  return v;
}

/**
 * Whether the client wants the object back (the default), or only the version written:
 * `options.returnObject: false`, as HTTP's `Prefer: return=minimal`, for a writer that has no use
 * for the answer (the scheduler's binds, the kubelets' status writes, a ReplicaSet's creates). It
 * saves sending the whole object (its stored bytes) and decoding it on the busiest writes.
 */
export function returnsObject(req: ApiRequest): boolean {
  const o = req.options;
  const v = isPlainObject(o) ? o.returnObject : undefined;
  if (v !== undefined && typeof v !== 'boolean') throw new BadRequest('options.returnObject: must be true or false');
  return v !== false;
}

export function parseOptions(req: ApiRequest): RequestOptions {
  const o = req.options ?? {};
  if (!isPlainObject(o)) throw new BadRequest('field options: must be a map');
  const policy = o.propagationPolicy ?? 'Background';
  if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
    throw new BadRequest(`options.propagationPolicy: unsupported value ${JSON.stringify(policy)} (supported: Background, Foreground, Orphan)`);
  }
  if (o.gracePeriodSeconds !== undefined && (typeof o.gracePeriodSeconds !== 'number' || o.gracePeriodSeconds < 0)) {
    throw new BadRequest('options.gracePeriodSeconds: must be a non-negative number');
  }
  const fence = o.fence;
  if (fence !== undefined && !(isPlainObject(fence) && typeof fence.lease === 'string' && typeof fence.holder === 'string' && typeof fence.term === 'number')) {
    throw new BadRequest('options.fence: must be { lease, holder, term }');
  }
  return {
    dryRun: o.dryRun === true,
    strict: o.fieldValidation !== 'Ignore',
    fence: fence as Fence | undefined,
    propagationPolicy: policy,
    gracePeriodSeconds: o.gracePeriodSeconds as number | undefined,
    preconditions: isPlainObject(o.preconditions) ? (o.preconditions as RequestOptions['preconditions']) : undefined,
  };
}

export function namespaceOf(info: KindInfo, req: ApiRequest): string | undefined {
  if (!info.namespaced) return undefined;
  return optionalString(req, 'namespace') ?? 'default';
}

export function cacheOf(ctx: ApiContext, info: KindInfo): WatchCache {
  const c = ctx.caches.get(info.resource);
  if (!c) throw new Error(`no cache for ${info.resource}`);
  return c;
}

export function notFound(info: KindInfo, name: string): NotFound {
  return new NotFound(`${info.resource} ${JSON.stringify(name)} not found`);
}

export function parseFilter(info: KindInfo, req: ApiRequest): WatchFilter {
  try {
    return {
      namespace: info.namespaced ? optionalString(req, 'namespace') : undefined,
      labels: parseSelector(optionalString(req, 'labelSelector') ?? ''),
      fields: parseFieldSelector(optionalString(req, 'fieldSelector') ?? ''),
    };
  } catch (err) {
    if (err instanceof SelectorError) throw new BadRequest(err.message);
    throw err;
  }
}

/**
 * Refuses a leader-only write whose lease has since passed to someone else, or lapsed. The lease
 * is read from the watch cache, which sees a takeover within milliseconds; a takeover needs the old
 * term to have expired first, so a write refused here can only come from a deposed leader.
 */
export async function checkFence(ctx: ApiContext, fence: Fence | undefined): Promise<void> {
  if (!fence) return;
  const [ns, name] = fence.lease.includes('/') ? fence.lease.split('/', 2) : ['kube-system', fence.lease];
  const leases = ctx.caches.get('leases')!;
  const lease = (leases.getByKey(ns, name) as Lease | undefined) ?? (await ctx.store.get<Lease>(leases.info, name, ns))?.object;
  const spec = lease?.spec;
  const why = !spec ? 'the lease does not exist'
    : spec.holderIdentity !== fence.holder ? `the lease is now held by ${JSON.stringify(spec.holderIdentity ?? '')}`
    : (spec.leaseTransitions ?? 0) !== fence.term ? `the lease moved to term ${spec.leaseTransitions}`
    : Date.parse(spec.renewTime ?? '') + (spec.leaseDurationSeconds ?? 0) * 1000 < ctx.now().getTime() ? 'the lease has expired'
    : '';
  ctx.onFence?.(fence, !why);
  if (why) throw new StaleLeader(`write refused: ${fence.holder} no longer leads ${fence.lease} (${why})`);
}

export async function getNamespaceForAdmission(ctx: ApiContext, name: string): Promise<Namespace | undefined> {
  const info = ctx.caches.get('namespaces')!.info;
  return (cacheOf(ctx, info).getByKey(undefined, name) as Namespace | undefined) ?? (await ctx.store.get<Namespace>(info, name))?.object;
}
