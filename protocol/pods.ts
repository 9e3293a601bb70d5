// A pod's readiness and availability, as Kubernetes' podutil reads them from the Ready condition.
// The ReplicaSet and Endpoints controllers count by them, and `skiff drain` orders evictions by
// them, so all three must agree.
import type { Pod } from './types.ts';

/** The Ready condition is True. */
export function podReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Ready for at least minReadySeconds (Kubernetes' IsPodAvailable). */
export function podAvailable(p: Pod, minReadySeconds: number, now: number): boolean {
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(ready.lastTransitionTime ?? '');
  return !Number.isNaN(since) && now - since >= minReadySeconds * 1000;
}
