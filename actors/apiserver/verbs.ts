// The verbs: create, get, list, update, status, bind, patch. Each takes the decoded request and
// returns the response body; what they share is in request.ts, deletion in deletion.ts and watch in
// server.ts.
import { randomUUID } from 'node:crypto';
import { LIST_CACHE_STILL_MS, LIST_STORE_WAIT_MS } from '../../protocol/config.ts';
import { AlreadyExists, BadRequest, Conflict, Invalid, NotFound, type FieldError } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { applyMergePatch, deepEqual, sameEntries } from '../../protocol/merge-patch.ts';
import { dns1123Label, generatedName } from '../../protocol/names.ts';
import { isPlainObject } from '../../protocol/schema.ts';
import { validateObject } from '../../protocol/validate.ts';
import type { KubeObject, ObjectList, Pod } from '../../protocol/types.ts';
import {
  cacheOf, checkFence, namespaceOf, notFound, optionalString, parseFilter, parseOptions, requiredString,
  type ApiContext, type ApiRequest, type RequestOptions,
} from './request.ts';
import { finishedFinalizing, prepareBinding, prepareCreate, prepareStatusUpdate, prepareUpdate } from './strategy.ts';
import { deleteByName } from './deletion.ts';
import { forStorage, storeKey, type Stored, type StoredBytes } from './store.ts';

const MAX_RETRIES = 8;

function checkTarget(info: KindInfo, req: ApiRequest, obj: Record<string, unknown>): void {
  if (obj.kind !== undefined && obj.kind !== info.kind) {
    throw new BadRequest(`the object is a ${String(obj.kind)}, but the request was sent to ${info.resource}`);
  }
  const meta = obj.metadata;
  const ns = optionalString(req, 'namespace');
  if (info.namespaced && ns && isPlainObject(meta) && meta.namespace !== undefined && meta.namespace !== ns) {
    throw new BadRequest(`metadata.namespace ${JSON.stringify(meta.namespace)} does not match the request's namespace ${JSON.stringify(ns)}`);
  }
}

function inputObject(info: KindInfo, req: ApiRequest): Record<string, unknown> {
  if (!isPlainObject(req.object)) throw new BadRequest('field object: required, a map holding the object');
  checkTarget(info, req, req.object);
  const ns = optionalString(req, 'namespace');
  const meta = isPlainObject(req.object.metadata) ? req.object.metadata : {};
  return {
    ...req.object,
    kind: info.kind,
    apiVersion: req.object.apiVersion ?? info.apiVersion,
    metadata: info.namespaced && ns && meta.namespace === undefined ? { ...meta, namespace: ns } : req.object.metadata,
  };
}

const METADATA_STATUS = new Set(['metadata', 'status']);
const RESOURCE_VERSION = new Set(['resourceVersion']);

/** The bytes `obj` is stored as; the watch cache is told, so that it need not decode their entry. */
function expectWrite(ctx: ApiContext, info: KindInfo, obj: KubeObject): Uint8Array {
  const bytes = forStorage(obj);
  cacheOf(ctx, info).expect(storeKey(info, obj.metadata.name!, obj.metadata.namespace), bytes, obj);
  return bytes;
}

/**
 * Equal but for resourceVersion. Metadata and status first: a write nearly always changes one of
 * them (a spec change bumps generation), so the spec is walked only for a write that changed nothing.
 */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  return sameEntries(a.metadata as Record<string, unknown>, b.metadata as Record<string, unknown>, RESOURCE_VERSION)
    && deepEqual(a.status, b.status)
    && sameEntries(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, METADATA_STATUS);
}

/**
 * What a verb that answers with one object returns: the object as stored (its bytes, which the
 * response carries as they are: encodeWithStoredObject), or, when nothing was stored (a dry run,
 * a write that changed nothing), the object itself.
 */
export interface ObjectResult {
  object?: KubeObject;
  stored?: StoredBytes;
}

export async function createObject(ctx: ApiContext, info: KindInfo, req: ApiRequest): Promise<ObjectResult> {
  const opts = parseOptions(req);
  const { object } = validateObject(inputObject(info, req), { strict: opts.strict, creating: true, checkSize: false });
  const obj = prepareCreate(info, object, { now: ctx.now(), uid: randomUUID() });
  await ctx.admission.admit({ operation: 'CREATE', info, object: obj, origin: req.origin, dryRun: opts.dryRun });
  await checkFence(ctx, opts.fence);
  const generate = !obj.metadata.name;
  for (let attempt = 0; ; attempt++) {
    // A fresh object per generated name: the watch cache may hold on to the one it was told of.
    const named = generate ? { ...obj, metadata: { ...obj.metadata, name: generatedName(obj.metadata.generateName!) } } : obj;
    if (opts.dryRun) return { object: named };
    try {
      return { stored: await ctx.store.create(info, named, expectWrite(ctx, info, named)) };
    } catch (err) {
      if (!(generate && err instanceof AlreadyExists && attempt < 3)) throw err;
    }
  }
}

/** A get reads the store (never a cache that may lag) and answers with the bytes as stored. */
export async function getObject(ctx: ApiContext, info: KindInfo, req: ApiRequest): Promise<ObjectResult> {
  const name = requiredString(req, 'name', `the ${info.singular} to get`);
  const stored = await ctx.store.getBytes(info, name, namespaceOf(info, req));
  if (!stored) throw notFound(info, name);
  return { stored };
}

/**
 * A consistent list: served from the watch cache once it has caught up with the store. While the
 * store cannot say where it is within LIST_STORE_WAIT_MS (a replicated bucket electing a leader
 * after a server died), or the cache cannot catch up in time (its feed being made again, or
 * standing still for LIST_CACHE_STILL_MS because its consumer went with a server), the cache is
 * served as it is, as Kubernetes serves a list at resourceVersion 0: reads never stop.
 * "In time" is at most half of what is left of the client's attempt: an answer after the client
 * has given up on the attempt helps nobody, and every attempt would wait just as long. A store
 * that has just left a list unanswered is not asked again for a moment (Store.quickLastRevision).
 */
export async function listObjects(ctx: ApiContext, info: KindInfo, req: ApiRequest) {
  const filter = parseFilter(info, req);
  const cache = cacheOf(ctx, info);
  const left = typeof req.deadline === 'number' ? (req.deadline - Date.now()) / 2 : Infinity;
  // A cache whose feed is being made again cannot catch up: served as it is, at once.
  if (!cache.ready || cache.following) await ctx.store.quickLastRevision(info, LIST_STORE_WAIT_MS)
    .then((revision) => cache.waitUntil(revision, Math.max(0, Math.min(ctx.cfg.cacheSyncTimeoutMs, left)), LIST_CACHE_STILL_MS))
    .catch((err) => { if (!cache.ready) throw err; });
  const items = cache.list(filter).sort((a, b) =>
    (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name!.localeCompare(b.metadata.name!));
  const list: ObjectList = { apiVersion: info.apiVersion, kind: `${info.kind}List`, metadata: { resourceVersion: String(cache.rv) }, items };
  return { list };
}

/**
 * The object as the watch cache holds it, when that is at least as new as `atLeast`: it saves a
 * store read on most updates. A stale cache costs only a failed compare-and-swap and a re-read.
 */
function cachedRead(ctx: ApiContext, info: KindInfo, name: string, namespace: string | undefined, atLeast?: string): Stored | null {
  const cache = cacheOf(ctx, info);
  if (!cache.ready) return null;
  const object = cache.getByKey(namespace, name);
  const revision = Number(object?.metadata.resourceVersion);
  if (!object || (atLeast !== undefined && revision < Number(atLeast))) return null;
  return { object, revision };
}

/** Reads, transforms and compare-and-swaps, retrying on conflict unless the caller pinned a version. */
async function guaranteedUpdate(
  ctx: ApiContext, info: KindInfo, name: string, namespace: string | undefined, opts: RequestOptions, origin: string | undefined,
  transform: (current: KubeObject, revision: number) => KubeObject,
  pinnedVersion: string | undefined,
): Promise<ObjectResult> {
  for (let attempt = 0; ; attempt++) {
    const cached = attempt === 0 ? cachedRead(ctx, info, name, namespace, pinnedVersion) : null;
    const stored = cached ?? (await ctx.store.get(info, name, namespace));
    if (!stored) throw notFound(info, name);
    if (pinnedVersion !== undefined && pinnedVersion !== String(stored.revision)) {
      throw new Conflict(`Operation cannot be fulfilled on ${info.resource} ${JSON.stringify(name)}: the object has been modified (you sent resourceVersion ${pinnedVersion}, it is now at ${stored.revision}); read it again and retry`);
    }
    const next = transform(stored.object, stored.revision);
    // Admission may fill in what the write left out (a service's node ports), so compare after it.
    await ctx.admission.admit({ operation: 'UPDATE', info, object: next, oldObject: stored.object, origin, dryRun: opts.dryRun });
    if (sameContent(next, stored.object)) return { object: stored.object };
    await checkFence(ctx, opts.fence);
    if (opts.dryRun) return { object: next };
    try {
      const written = await ctx.store.update(info, next, stored.revision, expectWrite(ctx, info, next));
      await ctx.admission.updated(info, stored.object, next);
      if (finishedFinalizing(info, next)) {
        await deleteByName(ctx, info, name, namespace, { ...opts, preconditions: undefined, fence: undefined }, origin).catch((err) => { if (!(err instanceof NotFound)) throw err; });
      }
      return { stored: written };
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
      if (cached && pinnedVersion === undefined) continue; // the cache was behind: read the store
      if (pinnedVersion !== undefined || attempt >= MAX_RETRIES) throw err;
    }
  }
}

export async function updateObject(ctx: ApiContext, info: KindInfo, req: ApiRequest) {
  const opts = parseOptions(req);
  const { object } = validateObject(inputObject(info, req), { strict: opts.strict, checkSize: false });
  const { name, namespace, resourceVersion, uid } = object.metadata;
  return guaranteedUpdate(ctx, info, name!, namespace, opts, req.origin, (current) => {
    if (uid && uid !== current.metadata.uid) throw new Conflict(`${info.resource} ${JSON.stringify(name)} was deleted and recreated (uid changed); read it again and retry`);
    return prepareUpdate(info, current, object);
  }, resourceVersion);
}

/** pods' `bind`: the scheduler's write, a Binding naming the pod and its node, as Kubernetes' pods/binding. */
export async function bindPod(ctx: ApiContext, info: KindInfo, req: ApiRequest): Promise<ObjectResult> {
  if (info.kind !== 'Pod') throw new BadRequest(`only pods can be bound, not ${info.resource}`);
  const opts = parseOptions(req);
  const binding = req.object;
  if (!isPlainObject(binding)) throw new BadRequest('field object: required, a Binding ({ metadata: { name, uid? }, target: { name } })');
  const meta = isPlainObject(binding.metadata) ? binding.metadata : {};
  const target = isPlainObject(binding.target) ? binding.target : {};
  const errs: FieldError[] = [];
  if (binding.kind !== undefined && binding.kind !== 'Binding') errs.push({ path: 'kind', message: `must be Binding, not ${JSON.stringify(binding.kind)}` });
  if (typeof meta.name !== 'string' || !meta.name) errs.push({ path: 'metadata.name', message: 'required (the pod to bind)' });
  if (meta.uid !== undefined && typeof meta.uid !== 'string') errs.push({ path: 'metadata.uid', message: 'must be a string' });
  if (target.kind !== undefined && target.kind !== 'Node') errs.push({ path: 'target.kind', message: `must be Node, not ${JSON.stringify(target.kind)}` });
  // A node's name follows the Node kind's rule.
  if (typeof target.name !== 'string' || !target.name) errs.push({ path: 'target.name', message: 'required (the node to bind to)' });
  else for (const message of dns1123Label(target.name)) errs.push({ path: 'target.name', message });
  const asked = optionalString(req, 'namespace');
  if (typeof meta.namespace === 'string' && meta.namespace && asked && meta.namespace !== asked) {
    errs.push({ path: 'metadata.namespace', message: `${JSON.stringify(meta.namespace)} does not match the request's namespace ${JSON.stringify(asked)}` });
  }
  if (errs.length) throw new Invalid('Binding', errs);
  const name = meta.name as string;
  const uid = meta.uid as string | undefined;
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : asked ?? 'default';
  const now = ctx.now();
  return guaranteedUpdate(ctx, info, name, namespace, opts, req.origin, (current) => {
    if (uid && uid !== current.metadata.uid) throw new Conflict(`pod ${namespace}/${name} was deleted and made again (uid changed); this binding was for the old one`);
    return prepareBinding(current as Pod, target.name as string, now);
  }, undefined);
}

export async function updateStatus(ctx: ApiContext, info: KindInfo, req: ApiRequest) {
  if (!info.hasStatus) throw new BadRequest(`${info.resource} have no status subresource`);
  const opts = parseOptions(req);
  const input = inputObject(info, req);
  const meta = isPlainObject(input.metadata) ? input.metadata : {};
  if (typeof meta.name !== 'string') throw new Invalid(info.kind, [{ path: 'metadata.name', message: 'required' }]);
  if (input.status !== undefined && !isPlainObject(input.status)) throw new Invalid(info.kind, [{ path: 'status', message: 'must be a map' }]);
  const namespace = info.namespaced ? (typeof meta.namespace === 'string' ? meta.namespace : 'default') : undefined;
  const pinned = typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' ? meta.resourceVersion : undefined;
  const uid = typeof meta.uid === 'string' && meta.uid !== '' ? meta.uid : undefined;
  return guaranteedUpdate(ctx, info, meta.name, namespace, opts, req.origin, (current) => {
    // The status of an object that was deleted and made again under its name is not this one's.
    if (uid && uid !== current.metadata.uid) throw new Conflict(`${info.resource} ${JSON.stringify(meta.name)} was deleted and recreated (uid changed); this status is for the old one`);
    return prepareStatusUpdate(current, input as KubeObject);
  }, pinned);
}

export async function patchObject(ctx: ApiContext, info: KindInfo, req: ApiRequest) {
  const opts = parseOptions(req);
  const name = requiredString(req, 'name', `the ${info.singular} to patch`);
  const patch = req.patch;
  if (!isPlainObject(patch)) throw new BadRequest('field patch: required, a JSON merge patch (a map)');
  const status = req.subresource === 'status';
  if (status && !info.hasStatus) throw new BadRequest(`${info.resource} have no status subresource`);
  const pm = isPlainObject(patch.metadata) ? patch.metadata : {};
  const pinned = typeof pm.resourceVersion === 'string' ? pm.resourceVersion : undefined;
  return guaranteedUpdate(ctx, info, name, namespaceOf(info, req), opts, req.origin, (current) => {
    if (status) return prepareStatusUpdate(current, applyMergePatch(current, { status: patch.status }) as KubeObject);
    const merged = applyMergePatch(current, patch) as KubeObject;
    merged.metadata = { ...merged.metadata, name: current.metadata.name, namespace: current.metadata.namespace };
    const { object } = validateObject(merged, { strict: opts.strict, checkSize: false });
    return prepareUpdate(info, current, object);
  }, pinned);
}
