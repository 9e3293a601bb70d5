// The process groups a `skiff up` runner starts, as its state file (.skiff/up/<pid>.json) records
// them: shared by the runner, its guardian and the chaos benchmark (stopping them is
// terminateGroups in actors/platform/procfs.ts).
import { readFileSync } from 'node:fs';
import { isRunning } from '../../actors/platform/procfs.ts';

/** A process group a runner started; the leader's start time tells a reused pid apart. */
export interface Group { name: string; pgid: number; startTime: string }
export interface StateFile { runner: { pid: number; startTime: string }; groups: Group[] }

/** A runner's state file (.skiff/up/<pid>.json), or why it is not one. */
export function readStateFile(path: string): StateFile {
  const state = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
  if (typeof state.runner?.pid !== 'number' || !Array.isArray(state.groups)) throw new Error('not a skiff up state file');
  return state;
}

/**
 * The groups a runner that is gone left running, by its state file (a group whose leader's pid
 * now names another process is not its); undefined while the runner still runs.
 */
export function leftRunning(path: string): { runner: number; groups: Group[] } | undefined {
  const state = readStateFile(path);
  if (isRunning(state.runner.pid, state.runner.startTime)) return undefined;
  return { runner: state.runner.pid, groups: state.groups.filter((g) => isRunning(g.pgid, g.startTime, g.pgid)) };
}
