// The scheduler's filters: each says why a node cannot take a pod, in Kubernetes' words, or
// nothing when it can. Pure.
import { toleratesTaint } from '../../protocol/tolerations.ts';
import type { NodeSelectorRequirement, Pod, Taint, Toleration } from '../../protocol/types.ts';
import { podHostPorts, podRequests, type NodeInfo, type Requests } from './node-info.ts';

/** What the filters need of a pod, worked out once rather than for every node. */
export interface PodFacts {
  pod: Pod;
  req: Requests;
  hostPorts: number[];
  nodeSelector: [string, string][];
  tolerations: Toleration[];
  tolerable: boolean;
}

/** A cordoned node, as Kubernetes' NodeUnschedulable filter sees it: a pod that tolerates this may go there. */
const UNSCHEDULABLE: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export function podFacts(pod: Pod): PodFacts {
  const tolerations = pod.spec.tolerations ?? [];
  return {
    pod, req: podRequests(pod), hostPorts: podHostPorts(pod),
    nodeSelector: Object.entries(pod.spec.nodeSelector ?? {}),
    tolerations,
    tolerable: toleratesTaint(tolerations, UNSCHEDULABLE),
  };
}

export type Filter = (node: NodeInfo, facts: PodFacts) => string | undefined;

const SCHEDULING_EFFECTS = ['NoSchedule', 'NoExecute'];

/** The first NoSchedule or NoExecute taint no toleration of the pod covers. */
export function untoleratedTaint(taints: Taint[], tolerations: Toleration[] | undefined, effects = SCHEDULING_EFFECTS): Taint | undefined {
  return taints.find((taint) => effects.includes(taint.effect) && !toleratesTaint(tolerations, taint));
}

export function requirementMatches(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  switch (r.operator) {
    case 'In': return has && (r.values ?? []).includes(v);
    case 'NotIn': return !has || !(r.values ?? []).includes(v);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt': return has && Number(v) > Number(r.values?.[0]);
    case 'Lt': return has && Number(v) < Number(r.values?.[0]);
  }
}

export const nodeReady: Filter = (node) => (node.ready ? undefined : 'node(s) were not ready');

export const nodeSchedulable: Filter = (node, facts) =>
  node.unschedulable && !facts.tolerable ? 'node(s) were unschedulable' : undefined;

export const fitsResources: Filter = (node, { req }) => {
  if (node.requested.pods + 1 > node.allocatable.pods) return 'Too many pods';
  if (req.cpu > 0 && node.requested.cpu + req.cpu > node.allocatable.cpu) return 'Insufficient cpu';
  if (req.memory > 0 && node.requested.memory + req.memory > node.allocatable.memory) return 'Insufficient memory';
  return undefined;
};

export const matchesNodeSelector: Filter = (node, facts) => {
  for (const [k, v] of facts.nodeSelector) if (node.labels[k] !== v) return "node(s) didn't match node selector";
  const terms = facts.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && terms.length > 0 && !terms.some((t) => (t.matchExpressions ?? []).every((r) => requirementMatches(r, node.labels)))) {
    return "node(s) didn't match Pod's node affinity/selector";
  }
  return undefined;
};

export const toleratesTaints: Filter = (node, facts) => {
  if (node.taints.length === 0) return undefined;
  const taint = untoleratedTaint(node.taints, facts.tolerations);
  return taint ? `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}` : undefined;
};

export const freeHostPorts: Filter = (node, facts) => {
  for (const p of facts.hostPorts) if (node.hostPorts.has(p)) return "node(s) didn't have free ports for the requested pod ports";
  return undefined;
};

/** In the order Kubernetes runs them: the cheap, decisive ones first. */
export const FILTERS: Filter[] = [nodeSchedulable, nodeReady, matchesNodeSelector, toleratesTaints, freeHostPorts, fitsResources];

export function firstFailure(pod: Pod, node: NodeInfo, facts: PodFacts = podFacts(pod)): string | undefined {
  for (const f of FILTERS) {
    const why = f(node, facts);
    if (why) return why;
  }
  return undefined;
}

/** `0/3 nodes are available: 2 Insufficient memory, 1 node(s) didn't match node selector`. */
export function unschedulableMessage(total: number, reasons: Map<string, number>): string {
  const parts = [...reasons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([reason, n]) => `${n} ${reason}`);
  return `0/${total} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
