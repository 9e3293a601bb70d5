// The ReplicaSet controller's decisions, as Kubernetes' replica_set.go and replica_set_utils.go
// make them: how many pods to create or which to delete, in what batches, and the status. Pure.
import { podAvailable, podReady } from '../../../protocol/pods.ts';
import type { Pod, ReplicaSet, ReplicaSetStatus } from '../../../protocol/types.ts';
import { labelSelectorMatches } from '../../../protocol/selector.ts';

/** At most this many creates or deletes per sync, as Kubernetes' burstReplicas. */
export const BURST_REPLICAS = 500;

export function isActive(p: Pod): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;
}

/** Slow start: 1, 2, 4, ... so that a failing create costs one request, not hundreds. */
export function slowStartBatches(total: number, initial = 1): number[] {
  const out: number[] = [];
  let size = Math.max(1, initial);
  for (let left = total; left > 0; size *= 2) {
    const n = Math.min(size, left);
    out.push(n);
    left -= n;
  }
  return out;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Kubernetes' ActivePods ordering: the pods it is cheapest to lose come first. Unassigned before
 * assigned, Pending before Running, not ready before ready, ready for less time first, more
 * restarts first, newer first.
 */
export function deletionOrder(a: Pod, b: Pod): number {
  if (!!a.spec.nodeName !== !!b.spec.nodeName) return a.spec.nodeName ? 1 : -1;
  const pa = PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  if (podReady(a) !== podReady(b)) return podReady(a) ? 1 : -1;
  const readySince = (p: Pod) => Date.parse(p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? '') || 0;
  if (podReady(a) && readySince(a) !== readySince(b)) return readySince(b) - readySince(a);
  const restarts = (p: Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  return (Date.parse(b.metadata.creationTimestamp ?? '') || 0) - (Date.parse(a.metadata.creationTimestamp ?? '') || 0);
}

export interface ReplicaSetPlan {
  create: number;
  delete: Pod[];
  status: ReplicaSetStatus;
}

export function computeStatus(rs: ReplicaSet, active: Pod[], now: number): ReplicaSetStatus {
  const minReady = rs.spec.minReadySeconds ?? 0;
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  return {
    replicas: active.length,
    fullyLabeledReplicas: active.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
    readyReplicas: active.filter(podReady).length,
    availableReplicas: active.filter((p) => podAvailable(p, minReady, now)).length,
    observedGeneration: rs.metadata.generation,
  };
}

/** What a sync does, given the ReplicaSet and the pods it owns (active or not). */
export function planReplicaSet(rs: ReplicaSet, owned: Pod[], now: number): ReplicaSetPlan {
  const active = owned.filter(isActive);
  const want = rs.metadata.deletionTimestamp ? 0 : rs.spec.replicas ?? 1;
  const diff = active.length - want;
  return {
    create: diff < 0 ? Math.min(-diff, BURST_REPLICAS) : 0,
    delete: diff > 0 ? [...active].sort(deletionOrder).slice(0, Math.min(diff, BURST_REPLICAS)) : [],
    status: computeStatus(rs, active, now),
  };
}

/** A pod the ReplicaSet may adopt: it matches the selector and has no controller. */
export function adoptable(rs: ReplicaSet, p: Pod): boolean {
  return isActive(p) && !p.metadata.ownerReferences?.some((r) => r.controller) && labelSelectorMatches(rs.spec.selector, p.metadata.labels);
}

export function podFromTemplate(rs: ReplicaSet): Pod {
  const t = rs.spec.template;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}) },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name!, uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: structuredClone(t.spec),
  };
}
