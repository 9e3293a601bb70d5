// A node's dead-man's switch (platform/dead-mans-switch.ts): no container outlives its kubelet for
// long. A kubelet killed with SIGKILL (or crashed) and started again re-adopts its containers; one
// that never comes back would leave them running for ever, beside the replacements the node
// lifecycle controller has made elsewhere. So at start the kubelet claims its data directory
// (kubelet.pid: its pid and start time) and starts a reaper. A clean stop stands it down; after any
// other end and the grace, unless another kubelet has claimed the directory in the meantime, it
// kills every process group the pod records name.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDeadMansSwitch, type DeadMansSwitch } from '../platform/dead-mans-switch.ts';
import { programCommand } from '../platform/entry.ts';
import { isRunning, processStat } from '../platform/procfs.ts';
import { killOrphanGroups, stopOrphanGroups } from './runtime.ts';
import { loadPodStates, recordedGroups } from './state.ts';

const CLAIM_FILE = 'kubelet.pid';

export class DataDirInUse extends Error {}

interface Claim {
  pid: number;
  startTicks: string;
}

function readClaim(dataDir: string): Claim | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dataDir, CLAIM_FILE), 'utf8')) as Claim;
    return Number.isInteger(c.pid) && typeof c.startTicks === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

/** The live process that has claimed the directory, if any. */
export function claimant(dataDir: string): Claim | undefined {
  const c = readClaim(dataDir);
  return c && isRunning(c.pid, c.startTicks) ? c : undefined;
}

/** Makes this process the directory's kubelet; throws DataDirInUse while another live one is. */
export function claimDataDir(dataDir: string, pid = process.pid): void {
  const other = claimant(dataDir);
  if (other && other.pid !== pid) {
    throw new DataDirInUse(`data directory ${dataDir} is in use by another node process (pid ${other.pid}); give this node another name or SKIFF_NODE_DATA_DIR`);
  }
  const stat = processStat(pid);
  if (!stat) throw new Error(`no /proc entry for pid ${pid}`);
  mkdirSync(dataDir, { recursive: true });
  const tmp = join(dataDir, `${CLAIM_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify({ pid, startTicks: stat.startTime } satisfies Claim));
  renameSync(tmp, join(dataDir, CLAIM_FILE));
}

/**
 * What the reaper does once the grace has passed: nothing if a process other than the dead
 * kubelet has claimed the directory since, live or not (it re-adopted the containers; its own stop
 * or its own reaper decides what becomes of them: one stopped with --keep-pods left them on
 * purpose), else kills every group the pod records name. Returns the groups killed.
 */
export function reapAbandoned(dataDir: string, deadPid: number): number[] {
  const now = readClaim(dataDir);
  if (now && now.pid !== deadPid) return [];
  return killOrphanGroups(groupsRecordedIn(dataDir));
}

/** Stops every group the directory's pod records name as a kubelet stops its pods (SIGTERM, SIGKILL after `graceMs`); returns them. */
export function stopRecordedGroups(dataDir: string, graceMs: number): Promise<number[]> {
  return stopOrphanGroups(groupsRecordedIn(dataDir), graceMs);
}

const groupsRecordedIn = (dataDir: string) => loadPodStates(dataDir).flatMap(recordedGroups);

/** Starts the reaper of this kubelet's containers; its output goes to `reaper.log` in the data directory. */
export function startReaper(dataDir: string, graceMs: number): DeadMansSwitch {
  return startDeadMansSwitch({ command: programCommand('actors/kubelet/reaper-main', [dataDir, String(process.pid)]), graceMs, logFile: join(dataDir, 'reaper.log') });
}
