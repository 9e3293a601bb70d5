// The node lifecycle controller's decisions, from two witnesses: the node's Lease (renewed through
// the apiserver) and gossip (SWIM, node to node). Gossip's "dead" is acted on at once: it rests
// on the node's peers finding nobody at its address, or on a suspicion it failed to refute. A
// late lease alone is weaker evidence when gossip still hears the node, since then the node is
// running and only its path to the control plane is slow: the node goes NotReady (no new pods),
// and its pods stay until the witnesses agree or a longer grace runs out. Pure.
import { toleratedForMs } from '../../../protocol/tolerations.ts';
import type { Condition, Lease, MemberState, Node, Pod, Taint } from '../../../protocol/types.ts';

export const UNREACHABLE = 'node.kubernetes.io/unreachable';
const OURS = 'NodeStatusUnknown';

/** How long since the node last showed life: its lease's renewal, or its registration if it has no lease yet. */
export function leaseAgeMs(lease: Lease | undefined, now: number, registered?: string): number {
  const renewed = Date.parse(lease?.spec.renewTime ?? '');
  if (!Number.isNaN(renewed)) return now - renewed;
  const created = Date.parse(registered ?? '');
  return Number.isNaN(created) ? Infinity : now - created;
}

/** ready: nothing to do. unreachable: NotReady, no new pods. lost: NotReady, and its pods are evicted. */
export type NodeHealth = 'ready' | 'unreachable' | 'lost';

export interface HealthConfig {
  /** A lease older than this is late. */
  graceMs: number;
  /** A late lease is acted on alone, whatever gossip says, after this. */
  evictionGraceMs: number;
}

/**
 * The verdict on one node, from its lease's age and gossip's view of it (undefined: gossip has no
 * word). Gossip's "dead" decides at once when the node's peers found nobody at its address (its
 * process is gone); a death by a suspicion that ran out (`bySuspicion`) can also be a slow or lossy
 * link, so while the lease is fresh the node is only kept from new pods.
 */
export function nodeHealth(leaseAge: number, gossip: MemberState | undefined, cfg: HealthConfig, bySuspicion = false): NodeHealth {
  if (gossip === 'dead') return bySuspicion && leaseAge <= cfg.graceMs ? 'unreachable' : 'lost';
  if (leaseAge <= cfg.graceMs) return 'ready';
  if ((gossip === 'alive' || gossip === 'suspect') && leaseAge <= cfg.evictionGraceMs) return 'unreachable';
  return 'lost';
}

export interface NodeChange {
  conditions?: Condition[];
  taints?: Taint[];
}

const MESSAGES: Record<Exclude<NodeHealth, 'ready'>, (gossip: MemberState | undefined) => string> = {
  unreachable: (gossip) => (gossip === 'dead'
    ? 'Gossip declared the node dead after a suspicion it did not refute, but its kubelet still renews its lease: its pods stay until both agree it is gone.'
    : 'Kubelet stopped posting node status; gossip still hears the node, so its pods stay until both agree it is gone.'),
  lost: (gossip) => (gossip === 'dead' ? 'Gossip declared the node dead.' : 'Kubelet stopped posting node status.'),
};

/** What to write to the node, if anything, to match its health. */
export function nodeChange(node: Node, health: NodeHealth, now: number, gossip?: MemberState): NodeChange | undefined {
  const ts = new Date(now).toISOString();
  const conditions = node.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const taints = node.spec?.taints ?? [];
  const others = taints.filter((t) => t.key !== UNREACHABLE);
  const ours = taints.filter((t) => t.key === UNREACHABLE);
  const change: NodeChange = {};
  if (health === 'ready') {
    if (ours.length) change.taints = others;
    if (ready?.status === 'Unknown' && ready.reason === OURS) {
      change.conditions = [
        ...conditions.filter((c) => c.type !== 'Ready'),
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet renewed its lease', lastTransitionTime: ts, lastHeartbeatTime: ts },
      ];
    }
  } else {
    const message = MESSAGES[health](gossip);
    if (ready?.status !== 'Unknown' || ready.message !== message) {
      change.conditions = [
        ...conditions.filter((c) => c.type !== 'Ready'),
        { type: 'Ready', status: 'Unknown', reason: OURS, message, lastTransitionTime: ready?.status === 'Unknown' ? ready.lastTransitionTime : ts, lastHeartbeatTime: ready?.lastHeartbeatTime },
      ];
    }
    const effects: Taint['effect'][] = health === 'lost' ? ['NoSchedule', 'NoExecute'] : ['NoSchedule'];
    const want = effects.map((effect) => ours.find((t) => t.effect === effect) ?? { key: UNREACHABLE, effect, timeAdded: ts });
    if (want.length !== ours.length || want.some((t) => !ours.includes(t))) change.taints = [...others, ...want];
  }
  return change.conditions || change.taints ? change : undefined;
}

/**
 * The event a change is worth: NodeNotReady when Ready leaves True, NodeReady when it returns;
 * none when only the message changes (unreachable, then lost; gossip forgetting a dead member).
 */
export function readyEvent(node: Node, change: NodeChange | undefined): 'NodeReady' | 'NodeNotReady' | undefined {
  const next = change?.conditions?.find((c) => c.type === 'Ready')?.status;
  if (!next || next === node.status?.conditions?.find((c) => c.type === 'Ready')?.status) return undefined;
  return next === 'True' ? 'NodeReady' : 'NodeNotReady';
}

/**
 * When a pod on an unreachable node is to be evicted: at once unless it tolerates the NoExecute
 * taint, after the least tolerationSeconds its matching tolerations give, never if they give none.
 */
export function evictionDueAt(pod: Pod, taint: Taint, defaultToleranceMs = 0): number | 'never' {
  const added = Date.parse(taint.timeAdded ?? '') || 0;
  const toleratedMs = toleratedForMs(pod.spec.tolerations, taint);
  if (toleratedMs === 'forever') return 'never';
  return added + (toleratedMs ?? defaultToleranceMs);
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
