// The process groups a `skiff up` runner starts, as its state file (.skiff/up/<pid>.json) records
// them, and how they are stopped: shared by the runner, its guardian and the chaos benchmark.
import { readFileSync } from 'node:fs';
import { isRunning, liveGroups, signalGroup } from '../../actors/lib/procfs.ts';

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

/** Waits until the groups are gone (or `urgent()`); returns those still alive at the deadline. */
export async function waitForGroups(groups: Group[], timeoutMs: number, pollMs: number, urgent = () => false): Promise<Group[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = groupsStillAlive(groups);
  while (alive.length > 0 && Date.now() < deadline && !urgent()) {
    await sleep(pollMs);
    alive = groupsStillAlive(alive);
  }
  return alive;
}

/** The groups that still have a live member (not merely zombies awaiting init). */
export function groupsStillAlive(groups: Group[]): Group[] {
  const live = liveGroups(groups.map((g) => g.pgid));
  return groups.filter((g) => live.has(g.pgid));
}

/** SIGTERM to the groups, SIGKILL to those still there after `timeoutMs` (or once `urgent()`); returns those. */
export async function terminateGroups(groups: Group[], timeoutMs: number, pollMs: number, urgent = () => false): Promise<Group[]> {
  for (const g of groups) signalGroup(g.pgid, 'SIGTERM');
  const stubborn = await waitForGroups(groups, timeoutMs, pollMs, urgent);
  for (const g of stubborn) signalGroup(g.pgid, 'SIGKILL');
  return stubborn;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
