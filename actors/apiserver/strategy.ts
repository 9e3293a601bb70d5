// What the apiserver does to an object on create, update, status update and delete, as pure
// functions in the manner of Kubernetes' registry strategies.
import type { FieldError } from '../../protocol/errors.ts';
import { Conflict, Invalid } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { deepEqual, sameEntries } from '../../protocol/merge-patch.ts';
import type { KubeObject, ObjectMeta, Pod } from '../../protocol/types.ts';

const SERVER_META: ReadonlySet<string> = new Set<keyof ObjectMeta>(['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']);

/**
 * A copy of `obj` without the keys in `drop`. Objects are built rather than trimmed with `delete`,
 * which turns a V8 object into a slow dictionary for everything that reads or encodes it later.
 */
function without<T extends object>(obj: T, drop: ReadonlySet<string>): T {
  const out: Record<string, unknown> = {};
  for (const k in obj) if (!drop.has(k)) out[k] = obj[k];
  return out as T;
}

const STATUS: ReadonlySet<string> = new Set(['status']);

export function prepareCreate(info: KindInfo, obj: KubeObject, ctx: { now: Date; uid: string }): KubeObject {
  const metadata: ObjectMeta = without(obj.metadata, SERVER_META);
  metadata.uid = ctx.uid;
  metadata.creationTimestamp = ctx.now.toISOString();
  if (info.specFields.length) metadata.generation = 1;
  const out: KubeObject = info.hasStatus && !info.statusOnCreate ? without(obj, STATUS) : { ...obj };
  out.metadata = metadata;
  if (info.kind === 'Namespace') out.status = { phase: 'Active' };
  return out;
}

function specOf(info: KindInfo, obj: KubeObject): unknown[] {
  return info.specFields.map((f) => obj[f]);
}

/** What a pod update may change in its spec: nodeName (once) and tolerations. */
const MUTABLE_POD_SPEC = new Set(['nodeName', 'tolerations']);

/** Fields an update may not change, as Kubernetes' ValidateUpdate functions hold them. */
function immutableChanges(info: KindInfo, old: KubeObject, next: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (info.kind === 'Pod') {
    const o = (old as Pod).spec;
    const n = (next as Pod).spec;
    if (o.nodeName && n.nodeName !== o.nodeName) {
      errs.push({ path: 'spec.nodeName', message: `field is immutable once set (the pod is bound to ${o.nodeName})` });
    }
    if (!sameEntries(o as unknown as Record<string, unknown>, n as unknown as Record<string, unknown>, MUTABLE_POD_SPEC)) {
      errs.push({ path: 'spec', message: 'pod updates may not change fields other than spec.nodeName (once) and spec.tolerations; delete and recreate the pod, or let its Deployment replace it' });
    }
  }
  if (info.kind === 'Deployment' || info.kind === 'ReplicaSet') {
    if (!deepEqual((old.spec as { selector?: unknown }).selector, (next.spec as { selector?: unknown }).selector)) errs.push({ path: 'spec.selector', message: 'field is immutable (create a new object to change its selector)' });
  }
  return errs;
}

/** A spec write: identity and status are kept from the stored object; generation follows spec. */
export function prepareUpdate(info: KindInfo, old: KubeObject, incoming: KubeObject): KubeObject {
  const errs = immutableChanges(info, old, incoming);
  if (errs.length) throw new Invalid(`${info.kind} ${JSON.stringify(old.metadata.name)}`, errs);
  const metadata = without(incoming.metadata, SERVER_META) as Record<string, unknown>;
  for (const f of SERVER_META) if (old.metadata[f as keyof ObjectMeta] !== undefined) metadata[f] = old.metadata[f as keyof ObjectMeta];
  const out: KubeObject = info.hasStatus ? without(incoming, STATUS) : { ...incoming };
  out.metadata = metadata as ObjectMeta;
  if (info.hasStatus && old.status !== undefined) out.status = old.status;
  if (specChanged(info, old, incoming)) metadata.generation = (old.metadata.generation ?? 0) + 1;
  return out;
}

/** Whether an update changes the spec; for a pod, immutableChanges has found the rest of it equal. */
function specChanged(info: KindInfo, old: KubeObject, incoming: KubeObject): boolean {
  if (info.kind === 'Pod') {
    const o = (old as Pod).spec;
    const n = (incoming as Pod).spec;
    return o.nodeName !== n.nodeName || !deepEqual(o.tolerations, n.tolerations);
  }
  return info.specFields.length > 0 && !deepEqual(specOf(info, old), specOf(info, incoming));
}

/**
 * A binding (Kubernetes' assignPod): the pod gets its node, once, and PodScheduled=True; the rest
 * is the stored pod's. A pod already bound elsewhere, or being deleted, is a Conflict. Unlike
 * Kubernetes, a binding to the node the pod already has returns the pod unchanged (no write): the
 * client retries a request whose answer was lost, and that retry must not fail.
 */
export function prepareBinding(old: Pod, nodeName: string, now: Date): Pod {
  const { name, namespace, deletionTimestamp } = old.metadata;
  const pod = `pod ${namespace}/${name}`;
  if (old.spec.nodeName === nodeName) return old;
  if (old.spec.nodeName) throw new Conflict(`${pod} is already assigned to node ${JSON.stringify(old.spec.nodeName)}`);
  if (deletionTimestamp) throw new Conflict(`${pod} is being deleted, cannot be assigned to a node`);
  const conditions = (old.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
  conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: now.toISOString() });
  return {
    ...old,
    metadata: { ...old.metadata, generation: (old.metadata.generation ?? 0) + 1 },
    spec: { ...old.spec, nodeName },
    status: { ...old.status, conditions },
  };
}

/** A status write: everything but status comes from the stored object. */
export function prepareStatusUpdate(old: KubeObject, incoming: KubeObject): KubeObject {
  return { ...old, metadata: { ...old.metadata }, status: incoming.status };
}

/** A non-pod object marked for deletion whose last finalizer an update has just removed: to be deleted now. */
export function finishedFinalizing(info: KindInfo, obj: KubeObject): boolean {
  return info.kind !== 'Pod' && obj.metadata.deletionTimestamp !== undefined && !obj.metadata.finalizers?.length;
}

export type DeletionPlan =
  | { type: 'now' }
  /** Mark it: set deletionTimestamp and let the kubelet stop the processes and finish the delete. */
  | { type: 'graceful'; object: KubeObject }
  /** Already terminating with no shorter grace asked: nothing to do. */
  | { type: 'pending' };

export function planDeletion(info: KindInfo, obj: KubeObject, gracePeriodSeconds: number | undefined, now: Date): DeletionPlan {
  if (info.kind !== 'Pod') {
    // Finalizers, as in Kubernetes: the object is marked and stays until the last one is removed
    // (finishedFinalizing), by whoever put it there (the cloud controller's load balancer cleanup).
    if (!obj.metadata.finalizers?.length) return { type: 'now' };
    if (obj.metadata.deletionTimestamp) return { type: 'pending' };
    return { type: 'graceful', object: { ...obj, metadata: { ...obj.metadata, deletionTimestamp: now.toISOString(), deletionGracePeriodSeconds: 0 } } };
  }
  const pod = obj as Pod;
  const grace = gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (!pod.spec.nodeName || grace === 0 || terminal) return { type: 'now' };
  const current = pod.metadata.deletionGracePeriodSeconds;
  if (pod.metadata.deletionTimestamp && current !== undefined && current <= grace) return { type: 'pending' };
  return {
    type: 'graceful',
    object: {
      ...pod,
      metadata: { ...pod.metadata, deletionTimestamp: pod.metadata.deletionTimestamp ?? now.toISOString(), deletionGracePeriodSeconds: grace },
    },
  };
}
