// Test hosts for tests and benchmarks: infra/hosts.sh's network namespaces, each with an address
// of its own on one bridge, made with a random prefix and subnet so that no two runs meet, and
// removed by `down` (which first kills whatever still runs inside them).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, spawnProc, type Proc, type TestHost } from './harness.ts';

const HOSTS_SH = join(ROOT, 'infra/hosts.sh');

export interface TestHosts {
  hosts: TestHost[];
  /** Runs a program inside host `i` (0-based); the Proc is the program itself (ip netns exec replaces itself). */
  spawn(i: number, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc;
  /** Cuts host `i` off the network, or only from host `from`. */
  cut(i: number, from?: number): void;
  restore(i: number, from?: number): void;
  down(): void;
}

function run(args: string[]): string {
  const r = spawnSync(HOSTS_SH, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`infra/hosts.sh ${args.join(' ')} exited ${r.status}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** `n` test hosts; fails with the reason (not root, no namespaces) rather than skipping. */
export function makeHosts(n: number, tag: string): TestHosts {
  const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  // A prefix ends in a letter (hosts.sh), and stays short: interface names have 15 characters.
  const prefix = `${tag}${rand(10, 99)}x`;
  const subnet = `10.${rand(80, 99)}.${rand(1, 249)}`;
  const lines = run(['up', String(n), '--prefix', prefix, '--subnet', subnet]).trim().split('\n');
  const hosts = lines.map((l) => {
    const [netns, address] = l.trim().split(/\s+/);
    return { netns, address };
  });
  const fromArgs = (from?: number) => (from === undefined ? [] : ['--from', hosts[from].netns]);
  return {
    hosts,
    spawn: (i, cmd, args, env) => spawnProc('ip', ['netns', 'exec', hosts[i].netns, cmd, ...args], { env }),
    cut: (i, from) => { run(['cut', hosts[i].netns, ...fromArgs(from)]); },
    restore: (i, from) => { run(['restore', hosts[i].netns, ...fromArgs(from)]); },
    down: () => { run(['down', '--prefix', prefix]); },
  };
}
