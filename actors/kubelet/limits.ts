// Resource limits. Where the host gives us a cgroup v2 with the memory controller, each container
// gets a cgroup with memory.max (and cpu.max when the cpu controller is there too), and the kernel
// enforces them. Otherwise memory is enforced by a watchdog that sums the group's RSS and kills it
// past the limit, and CPU limits are not enforced. Either way an over-limit container ends with
// reason OOMKilled. The mode is detected once, by trying it, and reported on the Node.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LimitModes {
  memory: 'cgroup' | 'watchdog';
  cpu: 'cgroup' | 'none';
}

export interface CgroupHost {
  /** The directory under which this node makes one cgroup per container. */
  root: string;
  modes: LimitModes;
}

function cgroup2Mount(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (post?.startsWith('cgroup2 ')) return pre.split(' ')[4];
    }
  } catch {
    /* no /proc */
  }
  return undefined;
}

function ownCgroup(): string {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line ? line.slice(3) : '/';
  } catch {
    return '/';
  }
}

/**
 * Tries to set up cgroup v2 limits for this node: a parent cgroup with the memory (and if possible
 * cpu) controller delegated to its children, proven by moving a short-lived process into a child
 * with a memory limit. Any failure means the watchdog.
 */
export function detectCgroups(nodeName: string, mode: 'auto' | 'cgroup' | 'watchdog'): CgroupHost | undefined {
  if (mode === 'watchdog') return undefined;
  const mount = cgroup2Mount();
  if (!mount) return undefined;
  const parent = join(mount, ownCgroup());
  try {
    const available = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!available.includes('memory')) return undefined;
    const root = join(parent, `skiff-${nodeName}`);
    mkdirSync(root, { recursive: true });
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory');
    let cpu: LimitModes['cpu'] = 'none';
    if (available.includes('cpu')) {
      try {
        writeFileSync(join(parent, 'cgroup.subtree_control'), '+cpu');
        writeFileSync(join(root, 'cgroup.subtree_control'), '+memory +cpu');
        cpu = 'cgroup';
      } catch {
        writeFileSync(join(root, 'cgroup.subtree_control'), '+memory');
      }
    } else writeFileSync(join(root, 'cgroup.subtree_control'), '+memory');
    // Prove it: a process moved into a limited child shows up there.
    const probe = join(root, 'selftest');
    mkdirSync(probe, { recursive: true });
    writeFileSync(join(probe, 'memory.max'), String(64 * 1024 * 1024));
    const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${probe}/cgroup.procs && cat /proc/self/cgroup`], { encoding: 'utf8' });
    rmdirSync(probe);
    if (r.status !== 0 || !r.stdout.includes('selftest')) return undefined;
    return { root, modes: { memory: 'cgroup', cpu } };
  } catch {
    return undefined;
  }
}

export const WATCHDOG_MODES: LimitModes = { memory: 'watchdog', cpu: 'none' };

/** The cgroup for one container instance, with its limits written; its path goes to the shim. */
export function containerCgroup(host: CgroupHost, id: string, limits: { memoryBytes?: number; cpuMillis?: number }): string {
  const dir = join(host.root, id);
  mkdirSync(dir, { recursive: true });
  if (limits.memoryBytes) {
    writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
    try {
      writeFileSync(join(dir, 'memory.swap.max'), '0');
    } catch {
      /* no swap accounting */
    }
  }
  if (limits.cpuMillis && host.modes.cpu === 'cgroup') {
    const period = 100_000;
    writeFileSync(join(dir, 'cpu.max'), `${Math.max(1000, Math.round((limits.cpuMillis / 1000) * period))} ${period}`);
  }
  return dir;
}

/** The kernel killed something in this cgroup for going over memory.max. */
export function cgroupOomKilled(dir: string): boolean {
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.events'), 'utf8'));
    return !!m && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

export function removeCgroup(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* still has processes, or already gone */
  }
}
