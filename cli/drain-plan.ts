// The pure part of `skiff drain`: which of a node's pods may go (kubectl's filters and words), and
// in what order, so that no ReplicaSet loses more than one ready replica at a time.
import { podReady } from '../protocol/pods.ts';
import type { OwnerReference, Pod, ReplicaSet } from '../protocol/types.ts';

export const UNMANAGED_REFUSAL = 'cannot delete Pods that declare no controller (use --force to override)';
export const UNMANAGED_WARNING = 'deleting Pods that declare no controller';
export const LOCAL_STORAGE_REFUSAL = 'cannot delete Pods with local storage (use --delete-emptydir-data to override)';
export const LOCAL_STORAGE_WARNING = 'deleting Pods with local storage';

export interface DrainOptions {
  force: boolean;
  deleteEmptyDirData: boolean;
}

export interface PodOwner {
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

/** Pods evicted one after another: those of one controller, or a single pod that has none. */
export interface EvictionGroup {
  owner?: PodOwner;
  pods: Pod[];
}

export interface DrainPlan {
  /** `reason: ns/a, ns/b`; any refusal means nothing may be evicted. */
  refusals: string[];
  /** `what: ns/a, ns/b`, for pods evicted only because a flag allowed it. */
  warnings: string[];
  groups: EvictionGroup[];
}

export function podKey(p: Pod): string {
  return `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
}

export function controllerOf(p: Pod): OwnerReference | undefined {
  return p.metadata.ownerReferences?.find((r) => r.controller === true);
}

function finished(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

function hasLocalStorage(p: Pod): boolean {
  return p.spec.volumes?.some((v) => v.emptyDir !== undefined) ?? false;
}

function grouped(reasons: Map<string, string[]>): string[] {
  return [...reasons].map(([reason, pods]) => `${reason}: ${pods.join(', ')}`);
}

/** kubectl's filters: a finished pod may always go; otherwise a pod needs a controller, and no emptyDir, unless a flag says so. */
export function planDrain(pods: Pod[], opts: DrainOptions): DrainPlan {
  const refusals = new Map<string, string[]>();
  const warnings = new Map<string, string[]>();
  const note = (to: Map<string, string[]>, reason: string, p: Pod) => to.set(reason, [...(to.get(reason) ?? []), podKey(p)]);
  const byOwner = new Map<string, EvictionGroup>();
  const alone: EvictionGroup[] = [];
  for (const p of [...pods].sort((a, b) => podKey(a).localeCompare(podKey(b)))) {
    const owner = controllerOf(p);
    if (!finished(p)) {
      if (!owner) note(opts.force ? warnings : refusals, opts.force ? UNMANAGED_WARNING : UNMANAGED_REFUSAL, p);
      if (hasLocalStorage(p)) note(opts.deleteEmptyDirData ? warnings : refusals, opts.deleteEmptyDirData ? LOCAL_STORAGE_WARNING : LOCAL_STORAGE_REFUSAL, p);
    }
    if (!owner) {
      alone.push({ pods: [p] });
      continue;
    }
    const namespace = p.metadata.namespace ?? 'default';
    const key = `${namespace}/${owner.uid}`;
    const group = byOwner.get(key) ?? { owner: { kind: owner.kind, name: owner.name, namespace, uid: owner.uid }, pods: [] };
    group.pods.push(p);
    byOwner.set(key, group);
  }
  // Pods that are not ready cost the owner nothing, so they go first.
  for (const g of byOwner.values()) g.pods.sort((a, b) => Number(podReady(a)) - Number(podReady(b)));
  return { refusals: grouped(refusals), warnings: grouped(warnings), groups: [...byOwner.values(), ...alone] };
}

/**
 * Whether the group's pod at `index` must wait for its owner to recover before it is evicted:
 * a ready pod of a ReplicaSet that already lost a ready pod to this drain.
 */
export function waitsForOwner(group: EvictionGroup, index: number): boolean {
  return group.owner?.kind === 'ReplicaSet' && podReady(group.pods[index]) && group.pods.slice(0, index).some(podReady);
}

/** Evicting one more ready pod would still leave at least spec.replicas − 1 ready. */
export function ownerCanLoseOne(rs: ReplicaSet): boolean {
  return (rs.status?.readyReplicas ?? 0) - 1 >= (rs.spec.replicas ?? 1) - 1;
}
