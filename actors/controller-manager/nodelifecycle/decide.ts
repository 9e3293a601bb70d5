// The node lifecycle controller's decisions: a node whose Lease is not renewed within the grace
// period goes Ready=Unknown and gets the unreachable NoExecute taint; its pods are evicted once
// their toleration of that taint runs out (0 s unless the pod says otherwise); a node that renews
// again is Ready and untainted. Pure.
import type { Condition, Lease, Node, Pod, Taint } from '../../../protocol/types.ts';

export const UNREACHABLE = 'node.kubernetes.io/unreachable';
const OURS = 'NodeStatusUnknown';

/** How long since the node last showed life: its lease's renewal, or its registration if it has no lease yet. */
export function leaseAgeMs(lease: Lease | undefined, now: number, registered?: string): number {
  const renewed = Date.parse(lease?.spec.renewTime ?? '');
  if (!Number.isNaN(renewed)) return now - renewed;
  const created = Date.parse(registered ?? '');
  return Number.isNaN(created) ? Infinity : now - created;
}

export function isUnreachable(node: Node): boolean {
  return (node.spec?.taints ?? []).some((t) => t.key === UNREACHABLE && t.effect === 'NoExecute');
}

export interface NodeChange {
  conditions?: Condition[];
  taints?: Taint[];
}

/** What to write to the node, if anything, given whether its lease is fresh. */
export function nodeChange(node: Node, fresh: boolean, now: number): NodeChange | undefined {
  const ts = new Date(now).toISOString();
  const conditions = node.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const taints = node.spec?.taints ?? [];
  const ourTaints = taints.filter((t) => t.key === UNREACHABLE);
  if (!fresh) {
    const change: NodeChange = {};
    if (ready?.status !== 'Unknown') {
      change.conditions = [
        ...conditions.filter((c) => c.type !== 'Ready'),
        { type: 'Ready', status: 'Unknown', reason: OURS, message: 'Kubelet stopped posting node status.', lastTransitionTime: ts, lastHeartbeatTime: ready?.lastHeartbeatTime },
      ];
    }
    if (!isUnreachable(node)) {
      change.taints = [...taints.filter((t) => t.key !== UNREACHABLE), { key: UNREACHABLE, effect: 'NoSchedule', timeAdded: ts }, { key: UNREACHABLE, effect: 'NoExecute', timeAdded: ts }];
    }
    return change.conditions || change.taints ? change : undefined;
  }
  const change: NodeChange = {};
  if (ourTaints.length) change.taints = taints.filter((t) => t.key !== UNREACHABLE);
  if (ready?.status === 'Unknown' && ready.reason === OURS) {
    change.conditions = [
      ...conditions.filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet renewed its lease', lastTransitionTime: ts, lastHeartbeatTime: ts },
    ];
  }
  return change.conditions || change.taints ? change : undefined;
}

/**
 * When a pod on an unreachable node is to be evicted: at once unless it tolerates the taint, after
 * tolerationSeconds if it gives them, never if it tolerates the taint for good.
 */
export function evictionDueAt(pod: Pod, taint: Taint, defaultToleranceMs = 0): number | 'never' {
  const added = Date.parse(taint.timeAdded ?? '') || 0;
  const t = (pod.spec.tolerations ?? []).find((x) =>
    (!x.effect || x.effect === 'NoExecute') && ((x.operator ?? 'Equal') === 'Exists' ? !x.key || x.key === taint.key : x.key === taint.key && (x.value ?? '') === (taint.value ?? '')));
  if (!t) return added + defaultToleranceMs;
  if (t.tolerationSeconds === undefined) return 'never';
  return added + Math.max(0, t.tolerationSeconds) * 1000;
}

/** Unhealthy share past which the disruption is taken for a control-plane problem (Kubernetes' unhealthyZoneThreshold). */
export const UNHEALTHY_THRESHOLD = 0.55;

/**
 * Whether to evict at all. When every node, or most of a cluster of more than two unhealthy
 * nodes, looks unreachable at once, the likelier story is that the control plane cannot hear
 * them (a hung apiserver, a partition on our side), not that they all died; evicting would only
 * turn a blip into an outage. Kubernetes stops evictions in a fully disrupted zone for the same
 * reason.
 */
export function evictionsAllowed(total: number, unhealthy: number): boolean {
  if (total === 0 || unhealthy === 0) return true;
  if (unhealthy === total) return false;
  return !(unhealthy > 2 && unhealthy / total >= UNHEALTHY_THRESHOLD);
}
