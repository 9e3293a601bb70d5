// The scheduler's scores, each 0 to 100, higher is better. Pure.
import type { NodeInfo, Requests } from './node-info.ts';

function freeShare(used: number, cap: number): number {
  return cap <= 0 ? 0 : Math.max(0, (cap - used) / cap);
}

/** Least allocated: the free share of cpu and memory after placing the pod, averaged. */
export function leastAllocated(node: NodeInfo, req: Requests): number {
  const cpu = freeShare(node.requested.cpu + req.cpu, node.allocatable.cpu);
  const mem = freeShare(node.requested.memory + req.memory, node.allocatable.memory);
  return ((cpu + mem) / 2) * 100;
}

/** Spreading: fewer pods of the same owner on the node scores higher. */
export function spread(node: NodeInfo, owner: string | undefined, maxOnAnyNode: number): number {
  if (!owner || maxOnAnyNode === 0) return 100;
  return ((maxOnAnyNode - (node.owners.get(owner) ?? 0)) / maxOnAnyNode) * 100;
}

export const WEIGHTS = { leastAllocated: 1, spread: 2 };

/** Picks the best of the feasible nodes; `tieBreak` rotates among equals so that ties spread too. */
export function pickNode(feasible: NodeInfo[], req: Requests, owner: string | undefined, tieBreak: number): NodeInfo | undefined {
  if (feasible.length === 0) return undefined;
  let max = 0;
  if (owner) for (const n of feasible) max = Math.max(max, n.owners.get(owner) ?? 0);
  let best: NodeInfo[] = [];
  let bestScore = -Infinity;
  for (const n of feasible) {
    const score = WEIGHTS.leastAllocated * leastAllocated(n, req) + WEIGHTS.spread * spread(n, owner, max);
    if (score > bestScore + 1e-9) [best, bestScore] = [[n], score];
    else if (Math.abs(score - bestScore) <= 1e-9) best.push(n);
  }
  return best[tieBreak % best.length];
}
