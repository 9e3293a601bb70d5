// What a node pool should do, pure: how many nodes to add so that the pods that fit nowhere fit
// (cluster-autoscaler's scale-up, decided by Karpenter's rule of provisioning for the pending pods
// directly), and which empty nodes to remove. The fit is the scheduler's own filters on a node made
// from the pool's template, so a pool grows only for pods its nodes would take: the fewest nodes
// that hold them all, by first fit, largest pod first.
import { parseDuration } from '../../../protocol/duration.ts';
import type { Node, NodePool, Pod } from '../../../protocol/types.ts';
import { firstFailure, podFacts } from '../../scheduler/filters.ts';
import { account, nodeInfoFrom, podRequests, type NodeInfo } from '../../scheduler/node-info.ts';
import { NODE_POOL_LABEL } from '../provider.ts';

/** A node of a pool as the plan sees it. */
export interface PoolNode {
  name: string;
  /** Its Node, once registered. */
  node?: Node;
  /** Ready and initialized: pods are scheduled there. */
  ready: boolean;
  /** Pods bound to it that have not ended. */
  pods: Pod[];
}

export interface PoolView {
  pool: NodePool;
  nodes: PoolNode[];
}

/** A Node as the pool's template makes it: what the scheduler would see of a new node. */
export function templateNode(pool: NodePool, name = `${pool.metadata.name}-template`): Node {
  const t = pool.spec.template;
  const resources = { cpu: t.capacity.cpu, memory: t.capacity.memory, pods: '110' };
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { ...t.labels, [NODE_POOL_LABEL]: pool.metadata.name!, 'kubernetes.io/hostname': name } },
    spec: { taints: t.taints ?? [] },
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/**
 * What a pool's node can still take: a ready node as it is, with the pods bound to it (the
 * scheduler may not have placed the pending pods there yet: it has just become ready); one
 * registered but not ready yet, or still being made, as its template.
 */
function roomOn(view: PoolView, n: PoolNode): NodeInfo {
  const info = nodeInfoFrom(n.ready && n.node ? n.node : templateNode(view.pool, n.name));
  for (const p of n.pods) account(info, `${p.metadata.namespace}/${p.metadata.name}`, p, 1);
  return info;
}

export interface ScaleUp {
  /** Nodes to add, by pool. */
  add: Map<string, number>;
  /** Pods that will fit, by the pool they are placed in (new or upcoming nodes). */
  placed: Map<string, Pod[]>;
  /** Pods no pool's node would take, with why (the first filter that refused, per pool). */
  unfit: { pod: Pod; why: string }[];
  /** Pools that would have grown past maxNodes. */
  atMax: Set<string>;
}

const byName = (a: PoolView, b: PoolView) => a.pool.metadata.name!.localeCompare(b.pool.metadata.name!);

/**
 * The fewest nodes, per pool, for `pending` (pods the scheduler found no node for), counting the
 * room on the pools' nodes first: those coming up, and those just ready that the scheduler has not
 * placed the pods on yet (cluster-autoscaler too leaves out pods that fit an existing node). Pools
 * are tried in name order; a pool never goes past its max.
 */
export function planScaleUp(views: PoolView[], pending: Pod[]): ScaleUp {
  const out: ScaleUp = { add: new Map(), placed: new Map(), unfit: [], atMax: new Set() };
  const pools = [...views].sort(byName);
  const open = pools.flatMap((v) => v.nodes.map((n) => ({ pool: v.pool.metadata.name!, info: roomOn(v, n) })));
  const size = new Map(pools.map((v) => [v.pool.metadata.name!, v.nodes.length]));
  const order = [...pending].sort((a, b) => {
    const ra = podRequests(a);
    const rb = podRequests(b);
    return rb.cpu - ra.cpu || rb.memory - ra.memory || a.metadata.name!.localeCompare(b.metadata.name!);
  });
  for (const pod of order) {
    const facts = podFacts(pod);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const place = (pool: string, info: NodeInfo) => {
      account(info, key, pod, 1);
      out.placed.set(pool, [...(out.placed.get(pool) ?? []), pod]);
    };
    const fits = open.find((o) => firstFailure(pod, o.info, facts) === undefined);
    if (fits) {
      place(fits.pool, fits.info);
      continue;
    }
    const why: string[] = [];
    let placed = false;
    for (const v of pools) {
      const name = v.pool.metadata.name!;
      const fresh = nodeInfoFrom(templateNode(v.pool, `${name}-new-${open.length}`));
      const refusal = firstFailure(pod, fresh, facts);
      if (refusal) {
        why.push(`${name}: ${refusal}`);
        continue;
      }
      if ((size.get(name) ?? 0) >= v.pool.spec.maxNodes) {
        out.atMax.add(name);
        why.push(`${name}: at its maximum of ${v.pool.spec.maxNodes} nodes`);
        continue;
      }
      size.set(name, (size.get(name) ?? 0) + 1);
      out.add.set(name, (out.add.get(name) ?? 0) + 1);
      open.push({ pool: name, info: fresh });
      place(name, fresh);
      placed = true;
      break;
    }
    if (!placed) out.unfit.push({ pod, why: why.length ? why.join('; ') : 'no node pool' });
  }
  return out;
}

/** How long a pool's empty node waits before it goes, in ms. */
export function consolidateAfterMs(pool: NodePool): number {
  return parseDuration(pool.spec.consolidateAfter ?? '30s', 'spec.consolidateAfter');
}

/**
 * The ready nodes of the pool to remove now: those empty (no pod bound that has not ended) since
 * at least consolidateAfter, as `emptySince` records, never taking the pool below minNodes; and,
 * updated in place, when each node was first seen empty.
 */
export function planScaleDown(view: PoolView, emptySince: Map<string, number>, now: number): string[] {
  const wait = consolidateAfterMs(view.pool);
  const min = view.pool.spec.minNodes ?? 0;
  let left = view.nodes.length;
  const out: string[] = [];
  for (const n of [...view.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!n.ready || n.pods.length > 0) {
      emptySince.delete(n.name);
      continue;
    }
    if (!emptySince.has(n.name)) emptySince.set(n.name, now);
    if (now - emptySince.get(n.name)! >= wait && left > min) {
      out.push(n.name);
      left--;
    }
  }
  return out;
}
