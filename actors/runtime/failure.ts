// How a process's root actor meets the failure of a part it cannot do without: one log line that
// names the part and the reason, and the reason it stops with (its output's `failure`).
import { errorMessage } from '../../protocol/errors.ts';
import type { Logger } from '../platform/log.ts';

/** Logs that `component` failed with `error`, so the `root` process stops; returns the reason. */
export function partFailed(log: Logger, root: string, component: string, error: unknown): string {
  const failure = `${component} failed: ${errorMessage(error)}`;
  log.error(`${failure}; stopping the ${root}`, { component, err: error });
  return failure;
}
