// The process runtime: a container is a process group. Each runs under a tiny /bin/sh shim that
// leads the group, passes signals to the command's group-mates as the kernel does anyway, and
// writes the command's exit code to a file when it ends; so the kubelet learns how a container
// ended even when it was not its parent (after the kubelet itself restarted and re-adopted it).
// The Runtime interface lets the benchmark's hollow nodes run the same kubelet on a fake.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { ADOPTED_CONTAINER_POLL_MS } from '../../protocol/config.ts';
import { groupRssBytes, groupsStillAlive, isRunning, processStat, signalGroup, terminateGroups } from '../platform/procfs.ts';

export interface LaunchSpec {
  /** command followed by args */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** stdout and stderr are appended here */
  logFile: string;
  /** the shim writes the exit code here */
  exitFile: string;
  /** a cgroup v2 directory the shim moves itself into before starting the command */
  cgroup?: string;
}

/** A running container, as recorded in the kubelet's state directory. */
export interface ProcessHandle {
  /** The shim's pid, which is also the process group id. */
  pgid: number;
  /** The shim's start time in clock ticks since boot: tells a reused pid apart. */
  startTicks: string;
  startedAt: string;
  exitFile: string;
}

export interface ExitInfo {
  exitCode: number;
  /** Set when the whole group was killed by a signal before the shim could record a code. */
  signal?: NodeJS.Signals;
}

export interface Runtime {
  start(spec: LaunchSpec): Promise<ProcessHandle>;
  /** Resolves when the container has ended (whether or not we are its parent). */
  wait(h: ProcessHandle, signal: AbortSignal): Promise<ExitInfo>;
  /** Sends a signal to the container's whole group. */
  signal(h: ProcessHandle, sig: NodeJS.Signals): void;
  /** The container still runs. */
  alive(h: ProcessHandle): boolean;
  /** Resident memory of the container's group. */
  memoryBytes(h: ProcessHandle): number;
  /** Runs a one-off command in a container's environment (exec probes, skiff exec). */
  exec(spec: Pick<LaunchSpec, 'argv' | 'env' | 'cwd'>, onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal?: AbortSignal): Promise<number>;
}

// $0: the exit file; $1: a cgroup to join first, or '-'. The trap keeps the shim alive through a
// SIGTERM to the group, so that it can record the code the command exits with.
const SHIM = '[ "$1" = - ] || echo $$ > "$1/cgroup.procs" || exit 125; shift; trap : TERM INT HUP; "$@"; c=$?; echo $c > "$0"; exit $c';
const KILLED_EXIT = 137;

function readExitFile(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export class ProcessRuntime implements Runtime {
  private readonly children = new Map<number, ChildProcess>();
  private readonly exits = new Map<number, ExitInfo>();

  async start(spec: LaunchSpec): Promise<ProcessHandle> {
    rmSync(spec.exitFile, { force: true });
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', SHIM, spec.exitFile, spec.cgroup ?? '-', ...spec.argv], {
        cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const pgid = child.pid!;
    // An exit recorded under this number was an earlier process's, which nobody waited for (its
    // wait aborted): the kernel hands numbers out again.
    this.exits.delete(pgid);
    this.children.set(pgid, child);
    child.once('exit', (code, signal) => {
      this.exits.set(pgid, { exitCode: code ?? KILLED_EXIT, ...(signal ? { signal } : {}) });
      this.children.delete(pgid);
    });
    child.unref();
    return { pgid, startTicks: processStat(pgid)?.startTime ?? '', startedAt: new Date().toISOString(), exitFile: spec.exitFile };
  }

  async wait(h: ProcessHandle, signal: AbortSignal): Promise<ExitInfo> {
    const child = this.children.get(h.pgid);
    if (child) {
      // Our child until its exit event, which takes it out of `children`: while it is in there,
      // any exit recorded under its number belongs to an earlier process with the same number.
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } else {
      // Not our child (re-adopted after a kubelet restart): watch /proc until it is gone.
      while (!signal.aborted && this.alive(h)) await new Promise((r) => setTimeout(r, ADOPTED_CONTAINER_POLL_MS));
    }
    if (signal.aborted) throw new Error('aborted');
    // The group may outlive its leader; the container is over when the shim is.
    const recorded = readExitFile(h.exitFile);
    const exit = this.exits.get(h.pgid);
    this.exits.delete(h.pgid);
    if (recorded !== undefined) return { exitCode: recorded };
    return { exitCode: exit?.signal ? 128 + signalNumber(exit.signal) : exit?.exitCode ?? KILLED_EXIT, ...(exit?.signal ? { signal: exit.signal } : {}) };
  }

  signal(h: ProcessHandle, sig: NodeJS.Signals): void {
    signalGroup(h.pgid, sig);
  }

  alive(h: ProcessHandle): boolean {
    if (this.children.has(h.pgid)) return true;
    return isRunning(h.pgid, h.startTicks, h.pgid);
  }

  memoryBytes(h: ProcessHandle): number {
    return groupRssBytes(h.pgid);
  }

  exec(spec: Pick<LaunchSpec, 'argv' | 'env' | 'cwd'>, onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal?: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const [cmd, ...args] = spec.argv;
      const child = spawn(cmd, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => onOutput?.('stdout', d));
      child.stderr!.on('data', (d: Buffer) => onOutput?.('stderr', d));
      const abort = () => signalGroup(child.pid!, 'SIGKILL');
      signal?.addEventListener('abort', abort, { once: true });
      child.once('error', (err) => reject(err));
      child.once('close', (code, sig) => {
        signal?.removeEventListener('abort', abort);
        signalGroup(child.pid!, 'SIGKILL'); // nothing it started outlives it
        resolve(code ?? 128 + signalNumber(sig ?? 'SIGKILL'));
      });
    });
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 };
  return n[sig] ?? 9;
}

type RecordedGroup = { pgid: number; startTicks: string };

/** A group whose leader is gone but members live is still ours; a live leader must be the one recorded. */
const stillRecorded = (g: RecordedGroup): boolean => {
  const leader = processStat(g.pgid);
  return !leader || leader.startTime === g.startTicks;
};

/** The live groups among those an earlier kubelet recorded that are still its (pid and start time). */
function ownLiveGroups(groups: RecordedGroup[]): RecordedGroup[] {
  return groupsStillAlive(groups).filter(stillRecorded);
}

/** Kills groups recorded by an earlier kubelet that no pod owns any more; returns those killed. */
export function killOrphanGroups(groups: RecordedGroup[]): number[] {
  const killed = ownLiveGroups(groups).map((g) => g.pgid);
  for (const pgid of killed) signalGroup(pgid, 'SIGKILL');
  return killed;
}

/**
 * Stops recorded groups as a kubelet stops its pods: SIGTERM, then SIGKILL to those still there
 * after `graceMs`. Returns the groups it stopped.
 */
export async function stopOrphanGroups(groups: RecordedGroup[], graceMs: number): Promise<number[]> {
  const ours = ownLiveGroups(groups);
  await terminateGroups(ours, graceMs, 50, undefined, stillRecorded);
  return ours.map((g) => g.pgid);
}
