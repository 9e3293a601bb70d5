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
  return owner ? spreadOf(node.owners.get(owner) ?? 0, maxOnAnyNode) : 100;
}

function spreadOf(ownPods: number, maxOnAnyNode: number): number {
  return maxOnAnyNode === 0 ? 100 : ((maxOnAnyNode - ownPods) / maxOnAnyNode) * 100;
}

export const WEIGHTS = { leastAllocated: 1, spread: 2 };

/** Picks the best of the feasible nodes; `tieBreak` rotates among equals so that ties spread too. */
export function pickNode(feasible: NodeInfo[], req: Requests, owner: string | undefined, tieBreak: number): NodeInfo | undefined {
  if (feasible.length === 0) return undefined;
  // One lookup of the owner's pods per node; the scores once those are known.
  const scores = new Float64Array(feasible.length);
  let max = 0;
  if (owner) {
    for (let i = 0; i < feasible.length; i++) {
      scores[i] = feasible[i].owners.get(owner) ?? 0;
      if (scores[i] > max) max = scores[i];
    }
  }
  let bestScore = -Infinity;
  for (let i = 0; i < feasible.length; i++) {
    scores[i] = WEIGHTS.leastAllocated * leastAllocated(feasible[i], req) + WEIGHTS.spread * spreadOf(scores[i], max);
    if (scores[i] > bestScore) bestScore = scores[i];
  }
  // The tieBreak-th (modulo their number) of the nodes with the best score.
  let ties = 0;
  for (let i = 0; i < scores.length; i++) if (bestScore - scores[i] <= 1e-9) ties++;
  let nth = tieBreak % ties;
  for (let i = 0; i < scores.length; i++) if (bestScore - scores[i] <= 1e-9 && nth-- === 0) return feasible[i];
  return undefined;
}
