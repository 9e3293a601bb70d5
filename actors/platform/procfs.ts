// What /proc says about processes and process groups (Linux). A pid alone can be reused, so a
// process is named by its pid and its start time; a group counts as alive only while it has a
// member that is not a zombie (orphans wait for init to reap them).
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** User plus system CPU, in clock ticks. */
  cpuTicks: number;
  /** The CPU of its children that it has waited for (cutime plus cstime), in clock ticks. */
  childCpuTicks: number;
  /** Clock ticks since boot: with the pid, names one process even after the pid is reused. */
  startTime: string;
  rssPages: number;
}

export const PAGE_SIZE = 4096;
export const CLOCK_TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat. The command name (field 2) may hold spaces and ')'. */
export function parseProcStat(text: string): ProcStat {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields.length < 22) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  return {
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    childCpuTicks: Number(fields[13]) + Number(fields[14]),
    startTime: fields[19],
    rssPages: Number(fields[21]),
  };
}

export function processStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone
  }
}

/** A process's command line, its arguments separated by NULs; undefined if gone. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // gone
  }
}

/** CPU seconds (user and system) a process has used so far, and its resident memory; undefined if gone. */
export function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  const s = processStat(pid);
  return s && { cpuSeconds: s.cpuTicks / CLOCK_TICKS_PER_SECOND, rssBytes: s.rssPages * PAGE_SIZE };
}

/** The process `pid` started at `startTime` still runs (and, if given, still leads or is in `pgid`). */
export function isRunning(pid: number, startTime: string, pgid?: number): boolean {
  const s = processStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X' && s.startTime === startTime && (pgid === undefined || s.pgrp === pgid);
}

/** Sends `signal` to the group; false if the group is gone (signal 0 only asks). */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // there, but not ours to signal
  }
}

export function listPids(): number[] {
  try {
    return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number);
  } catch {
    return [];
  }
}

/** Every live (non-zombie) process, by the group it belongs to. */
export function membersByGroup(): Map<number, { pid: number; stat: ProcStat }[]> {
  const out = new Map<number, { pid: number; stat: ProcStat }[]>();
  for (const pid of listPids()) {
    const stat = processStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    let list = out.get(stat.pgrp);
    if (!list) out.set(stat.pgrp, (list = []));
    list.push({ pid, stat });
  }
  return out;
}

/** Of these groups, the ones that still have a live member. */
export function liveGroups(pgids: number[]): Set<number> {
  const candidates = pgids.filter((g) => signalGroup(g, 0));
  if (candidates.length === 0) return new Set();
  const members = membersByGroup();
  if (members.size === 0) return new Set(candidates); // no /proc to look closer
  return new Set(candidates.filter((g) => members.has(g)));
}

/** Resident memory of a whole group, in bytes. */
export function groupRssBytes(pgid: number, members = membersByGroup()): number {
  return (members.get(pgid) ?? []).reduce((n, m) => n + m.stat.rssPages * PAGE_SIZE, 0);
}

/**
 * The CPU a process group has used, in seconds: its live members' own and what they reaped of
 * their children's (a member that exits is reaped by another, which then counts it).
 */
export function groupCpuSeconds(pgid: number, members = membersByGroup()): number {
  return (members.get(pgid) ?? []).reduce((n, m) => n + m.stat.cpuTicks + m.stat.childCpuTicks, 0) / CLOCK_TICKS_PER_SECOND;
}

/** The whole machine: CPU seconds busy since boot (/proc/stat), and memory in use (MemTotal − MemAvailable). */
export function machineUsage(): { cpuSeconds: number; memoryBytes: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - cpu[4];
    const mem = Object.fromEntries(readFileSync('/proc/meminfo', 'utf8').split('\n').map((l) => /^(\w+):\s+(\d+)/.exec(l)).filter((m) => m).map((m) => [m![1], Number(m![2]) * 1024]));
    return { cpuSeconds: busy / CLOCK_TICKS_PER_SECOND, memoryBytes: mem.MemTotal - mem.MemAvailable };
  } catch {
    return undefined;
  }
}

/** The groups that still have a live member (not merely zombies awaiting init). */
export function groupsStillAlive<G extends { pgid: number }>(groups: G[]): G[] {
  const live = liveGroups(groups.map((g) => g.pgid));
  return groups.filter((g) => live.has(g.pgid));
}

/** Waits until the groups are gone (or `urgent()`); returns those still alive at the deadline. */
export async function waitForGroups<G extends { pgid: number }>(groups: G[], timeoutMs: number, pollMs: number, urgent = () => false): Promise<G[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = groupsStillAlive(groups);
  while (alive.length > 0 && Date.now() < deadline && !urgent()) {
    await new Promise<void>((r) => setTimeout(r, pollMs));
    alive = groupsStillAlive(alive);
  }
  return alive;
}

/**
 * SIGTERM to the groups, SIGKILL to those still there after `timeoutMs` (or once `urgent()`) and
 * still `ours` (checked again then: within the grace a group's number may have gone to another);
 * returns those killed.
 */
export async function terminateGroups<G extends { pgid: number }>(
  groups: G[], timeoutMs: number, pollMs: number, urgent = () => false, ours: (g: G) => boolean = () => true,
): Promise<G[]> {
  for (const g of groups) signalGroup(g.pgid, 'SIGTERM');
  const stubborn = (await waitForGroups(groups, timeoutMs, pollMs, urgent)).filter(ours);
  for (const g of stubborn) signalGroup(g.pgid, 'SIGKILL');
  return stubborn;
}
