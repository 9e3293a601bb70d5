// `skiff up`'s dead-man's switch (actors/platform/dead-mans-switch.ts): a runner killed with SIGKILL,
// or crashed, no longer leaves its whole cluster running until the next `skiff up` reclaims it.
// Its guardian, told nothing by the runner's end, stops the groups the runner's state file names
// as the runner itself would: SIGTERM, then SIGKILL after the stop timeout.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDeadMansSwitch, type DeadMansSwitch } from '../../actors/platform/dead-mans-switch.ts';
import { programCommand } from '../../actors/platform/entry.ts';
import { terminateGroups } from '../../actors/platform/procfs.ts';
import { leftRunning } from './groups.ts';

/** Starts the guardian of the runner whose state file this is; its output goes to guardian.log beside it. */
export function startGuardian(stateFile: string, stopTimeoutMs: number, pollMs: number): DeadMansSwitch {
  return startDeadMansSwitch({
    command: programCommand('cli/up/guardian-main', [stateFile, String(stopTimeoutMs), String(pollMs)]),
    graceMs: 0,
    logFile: join(stateFile, '..', 'guardian.log'),
  });
}

/**
 * Stops what a runner that is gone left running: SIGTERM to its groups, SIGKILL to those left
 * after `stopTimeoutMs`, looking every `pollMs`; then removes the state file. Nothing if the runner
 * still runs.
 */
export async function stopAbandoned(stateFile: string, stopTimeoutMs: number, pollMs: number, say: (line: string) => void): Promise<void> {
  const left = leftRunning(stateFile);
  if (!left) return;
  for (const g of left.groups) say(`skiff up ${left.runner} is gone: stopping ${g.name} (process group ${g.pgid})`);
  for (const g of await terminateGroups(left.groups, stopTimeoutMs, pollMs)) say(`sent SIGKILL to ${g.name} after ${stopTimeoutMs / 1000}s`);
  rmSync(stateFile, { force: true });
}
