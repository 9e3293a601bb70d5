// Pure rules of a container's life: whether it restarts after an exit, and the backoff a pod's
// annotations ask for. The backoff rule itself is protocol/backoff.ts, shared with `skiff up`.
// Kubernetes waits 10 s doubling to 5 min; skiff processes start in milliseconds, so the default
// is 1 s doubling to 60 s, reset after 10 minutes of clean running as Kubernetes does.
import type { BackoffPolicy } from '../../protocol/backoff.ts';
import { DurationError, parseDuration } from '../../protocol/duration.ts';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 10 * 60_000 };

/** Whether a container that exited with `exitCode` is started again. */
export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

export const BACKOFF_INITIAL_ANNOTATION = 'skiff.io/backoff-initial';
export const BACKOFF_MAX_ANNOTATION = 'skiff.io/backoff-max';

/** The node's policy, overridden by the pod's annotations where they hold valid durations. */
export function podBackoff(node: BackoffPolicy, annotations: Record<string, string> | undefined): BackoffPolicy {
  const initialMs = annotatedMs(annotations, BACKOFF_INITIAL_ANNOTATION) ?? node.initialMs;
  const maxMs = Math.max(initialMs, annotatedMs(annotations, BACKOFF_MAX_ANNOTATION) ?? node.maxMs);
  return { ...node, initialMs, maxMs };
}

/** The annotation's duration; undefined when it is absent or not a duration, so the node's policy holds. */
function annotatedMs(annotations: Record<string, string> | undefined, key: string): number | undefined {
  const text = annotations?.[key];
  if (text === undefined) return undefined;
  try {
    return parseDuration(text, key);
  } catch (err) {
    if (err instanceof DurationError) return undefined;
    throw err;
  }
}
