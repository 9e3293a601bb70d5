// Deletion: graceful pod deletion, cascading through ownerReferences, and namespace termination.
import { Conflict, NotFound } from '../../protocol/errors.ts';
import { KINDS, kindInfo, type KindInfo } from '../../protocol/kinds.ts';
import type { KubeObject, Namespace } from '../../protocol/types.ts';
import {
  cacheOf, checkFence, namespaceOf, notFound, parseOptions, requiredString, type ApiContext, type ApiRequest, type RequestOptions,
} from './request.ts';
import { planDeletion } from './strategy.ts';

/** Kinds that never own anything, so deleting one needs no look for dependents. */
const LEAF_KINDS = new Set(['Pod', 'Event', 'Lease', 'Endpoints']);

export async function deleteObject(ctx: ApiContext, info: KindInfo, req: ApiRequest) {
  const opts = parseOptions(req);
  const name = requiredString(req, 'name', `the ${info.singular} to delete`);
  return { object: await deleteByName(ctx, info, name, namespaceOf(info, req), opts, req.origin) };
}

/** A write that lost a race with another is tried again on the fresh object this many times. */
const DELETE_ATTEMPTS = 5;

/**
 * Deletes by name. As in Kubernetes' storage layer, a delete without a resourceVersion
 * precondition that races another write (a kubelet's last status, say) is retried on the new
 * version, with its preconditions checked again; one with a resourceVersion precondition fails.
 */
export async function deleteByName(
  ctx: ApiContext, info: KindInfo, name: string, namespace: string | undefined, opts: RequestOptions, origin?: string,
): Promise<KubeObject> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deleteOnce(ctx, info, name, namespace, opts, origin);
    } catch (err) {
      if (!(err instanceof RaceLost) || attempt >= DELETE_ATTEMPTS || opts.preconditions?.resourceVersion) throw err instanceof RaceLost ? err.conflict : err;
    }
  }
}

class RaceLost extends Error {
  constructor(readonly conflict: Conflict) {
    super(conflict.message);
  }
}

async function casWrite<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw err instanceof Conflict ? new RaceLost(err) : err;
  }
}

async function deleteOnce(
  ctx: ApiContext, info: KindInfo, name: string, namespace: string | undefined, opts: RequestOptions, origin?: string,
): Promise<KubeObject> {
  const stored = await ctx.store.get(info, name, namespace);
  if (!stored) throw notFound(info, name);
  const obj = stored.object;
  const pre = opts.preconditions;
  if (pre?.uid && pre.uid !== obj.metadata.uid) throw new Conflict(`precondition failed: ${info.resource} ${JSON.stringify(name)} has uid ${obj.metadata.uid}, not ${pre.uid}`);
  if (pre?.resourceVersion && pre.resourceVersion !== String(stored.revision)) {
    throw new Conflict(`precondition failed: ${info.resource} ${JSON.stringify(name)} is at resourceVersion ${stored.revision}, not ${pre.resourceVersion}`);
  }
  await ctx.admission.admit({ operation: 'DELETE', info, object: obj, origin, dryRun: opts.dryRun });
  await checkFence(ctx, opts.fence);
  if (info.kind === 'Namespace') return terminateNamespace(ctx, obj as Namespace, stored.revision, opts);
  const plan = planDeletion(info, obj, opts.gracePeriodSeconds, ctx.now());
  if (plan.type === 'pending' || opts.dryRun) return plan.type === 'graceful' ? plan.object : obj;
  if (plan.type === 'graceful') {
    const { revision: rev } = await casWrite(() => ctx.store.update(info, plan.object, stored.revision));
    return { ...plan.object, metadata: { ...plan.object.metadata, resourceVersion: String(rev) } };
  }
  await casWrite(() => ctx.store.delete(info, name, namespace, stored.revision));
  await ctx.admission.deleted(info, obj);
  if (opts.propagationPolicy === 'Orphan') await orphanDependents(ctx, obj);
  else if (!LEAF_KINDS.has(info.kind)) await deleteDependents(ctx, obj, opts);
  return obj;
}

async function syncedCaches(ctx: ApiContext): Promise<void> {
  await Promise.all(KINDS.map(async (info) => cacheOf(ctx, info).waitUntil(await ctx.store.lastRevision(info), ctx.cfg.cacheSyncTimeoutMs)));
}

function dependentsOf(ctx: ApiContext, owner: KubeObject): KubeObject[] {
  const uid = owner.metadata.uid;
  if (!uid) return [];
  return KINDS.flatMap((info) => cacheOf(ctx, info).dependents(uid));
}

/** Background cascade: each dependent is deleted in turn, and its own dependents after it. */
async function deleteDependents(ctx: ApiContext, owner: KubeObject, opts: RequestOptions): Promise<void> {
  await syncedCaches(ctx);
  const childOpts: RequestOptions = { ...opts, preconditions: undefined, fence: undefined, propagationPolicy: 'Background', gracePeriodSeconds: undefined };
  // The owner is gone already: a dependent that a controller writes at the same moment is retried
  // by deleteByName, and left to its controller or the garbage collector after that.
  await Promise.all(dependentsOf(ctx, owner).map(async (dep) => {
    try {
      await deleteByName(ctx, kindInfo(dep.kind)!, dep.metadata.name!, dep.metadata.namespace, childOpts);
    } catch (err) {
      if (!(err instanceof NotFound) && !(err instanceof Conflict)) throw err;
    }
  }));
}

async function orphanDependents(ctx: ApiContext, owner: KubeObject): Promise<void> {
  await syncedCaches(ctx);
  for (const dep of dependentsOf(ctx, owner)) {
    const info = kindInfo(dep.kind)!;
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await ctx.store.get(info, dep.metadata.name!, dep.metadata.namespace);
      if (!stored) break;
      const refs = (stored.object.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      const next = { ...stored.object, metadata: { ...stored.object.metadata, ownerReferences: refs.length ? refs : undefined } };
      try {
        await ctx.store.update(info, next, stored.revision);
        break;
      } catch (err) {
        if (!(err instanceof Conflict)) throw err;
      }
    }
  }
}

/**
 * Marks the namespace Terminating, deletes what is in it, and removes the namespace once it is
 * empty. Pods bound to nodes stop gracefully, so the namespace may stay Terminating a while; the
 * apiserver's sweep finishes it.
 */
async function terminateNamespace(ctx: ApiContext, ns: Namespace, revision: number, opts: RequestOptions): Promise<KubeObject> {
  const info = kindInfo('Namespace')!;
  let current: Namespace = ns;
  if (ns.status?.phase !== 'Terminating') {
    current = { ...ns, metadata: { ...ns.metadata, deletionTimestamp: ctx.now().toISOString() }, status: { phase: 'Terminating' } };
    if (opts.dryRun) return current;
    const { revision: rev } = await ctx.store.update(info, current, revision);
    current.metadata.resourceVersion = String(rev);
  }
  return (await finishNamespace(ctx, current.metadata.name!)) ?? current;
}

/** One pass of namespace cleanup. Returns the deleted namespace, or undefined if it is not empty yet. */
export async function finishNamespace(ctx: ApiContext, name: string): Promise<KubeObject | undefined> {
  await syncedCaches(ctx);
  const opts: RequestOptions = { dryRun: false, strict: true, propagationPolicy: 'Background' };
  for (const info of KINDS) {
    if (!info.namespaced) continue;
    for (const obj of cacheOf(ctx, info).list({ namespace: name, labels: [], fields: [] })) {
      try {
        await deleteByName(ctx, info, obj.metadata.name!, name, opts);
      } catch (err) {
        if (!(err instanceof NotFound)) throw err;
      }
    }
  }
  await syncedCaches(ctx);
  const left = KINDS.filter((k) => k.namespaced).reduce((n, info) => n + cacheOf(ctx, info).list({ namespace: name, labels: [], fields: [] }).length, 0);
  if (left > 0) return undefined;
  const info = kindInfo('Namespace')!;
  const stored = await ctx.store.get(info, name);
  if (!stored) return undefined;
  await ctx.store.delete(info, name, undefined, stored.revision);
  return stored.object;
}

/** Finishes namespaces left Terminating (by pods still stopping, or an apiserver that died mid-way). */
export async function sweepTerminatingNamespaces(ctx: ApiContext): Promise<void> {
  const info = kindInfo('Namespace')!;
  for (const ns of cacheOf(ctx, info).list({ labels: [], fields: [] }) as Namespace[]) {
    if (ns.status?.phase !== 'Terminating') continue;
    try {
      await finishNamespace(ctx, ns.metadata.name!);
    } catch (err) {
      if (!(err instanceof NotFound) && !(err instanceof Conflict)) throw err;
    }
  }
}
