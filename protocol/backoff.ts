// Crash backoff, the one rule the kubelet (CrashLoopBackOff) and `skiff up` both restart by: the
// first restart waits initialMs, each next one twice the last up to maxMs, and a run of
// resetAfterMs starts over, as Kubernetes' kubelet does. The figures come from the config module.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A process that ran this long before exiting starts over from initialMs. */
  resetAfterMs: number;
}

/** The wait before restarting something that exited after running `ranMs`; `previousMs` is the last wait, if any. */
export function nextBackoff(previousMs: number | undefined, ranMs: number, p: BackoffPolicy): number {
  if (previousMs === undefined || ranMs >= p.resetAfterMs) return p.initialMs;
  return Math.min(p.maxMs, Math.max(p.initialMs, previousMs * 2));
}
