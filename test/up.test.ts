// `skiff up` end to end: the real runner as a child process, over fixture processes that record
// their PIDs (test/fixtures/up/serve.mjs), on free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listPids, processCommandLine, processStat } from '../actors/platform/procfs.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures', 'up');
const SERVE = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(fixtures, 'serve.mjs'))}`;
/** Generous: the box has two shared cores, and every waiter returns as soon as its condition holds. */
const DEADLINE_MS = 30_000;

interface PidRecord { ps: string; port: number; pid: number; role: 'leader' | 'child'; startedAt: number }
interface Runner { child: ChildProcess; output(): string; exited: Promise<number | null> }

let scenario: Scenario | undefined;

class Scenario {
  readonly dir = mkdtempSync(join(tmpdir(), 'skiff-up-'));
  private readonly runners: Runner[] = [];

  constructor(procfile: string) {
    writeFileSync(join(this.dir, 'Procfile'), procfile);
    writeFileSync(join(this.dir, '.env'), `# for serve.mjs\nexport UP_TEST_DIR="${this.dir}"\n`);
    scenario = this;
  }

  start(args: string[], env: Record<string, string> = {}): Runner {
    const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'run-up.ts'),
      '-f', join(this.dir, 'Procfile'), '-e', join(this.dir, '.env'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (b) => { output += b; });
    child.stderr!.on('data', (b) => { output += b; });
    // 'exit', not 'close': after a SIGKILL the orphans still hold the runner's pipes.
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const runner = { child, output: () => output, exited };
    this.runners.push(runner);
    return runner;
  }

  records(): PidRecord[] {
    const dir = join(this.dir, 'pids');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => !f.endsWith('.tmp')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }

  leaders(ps: string): PidRecord[] {
    return this.records().filter((r) => r.ps === ps && r.role === 'leader');
  }

  /** The runners' state files (the guardian's log lives beside them). */
  stateFiles(): string[] {
    const dir = join(this.dir, '.skiff', 'up');
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  }

  /** Polls `check` until it returns something truthy; fails with the runners' output otherwise. */
  async waitFor<T>(what: string, check: () => T | Promise<T>, deadlineMs = DEADLINE_MS): Promise<NonNullable<T>> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const value = await check();
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}; output:\n${this.runners.map((r) => r.output()).join('\n---\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async exitCode(runner: Runner): Promise<number | null> {
    let code: number | null | undefined;
    runner.exited.then((c) => { code = c; });
    await this.waitFor('the runner to exit', () => code !== undefined);
    return code!;
  }

  /** At the runner's exit every recorded process is dead; then init reaps the orphans among them. */
  async assertAllGone(): Promise<void> {
    const records = this.records();
    assert.ok(records.length > 0, 'some processes were recorded');
    for (const r of records) assert.ok(isDead(r.pid), `${r.ps} (${r.role}, pid ${r.pid}) is still running`);
    await this.waitFor('init to reap the orphans', () => records.every((r) => processStat(r.pid) === undefined));
  }

  /** Whatever a test leaves behind, by PID and process group: never by name. */
  cleanup(): void {
    for (const r of this.runners) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    for (const { pid } of this.records()) {
      if (isDead(pid)) continue;
      const pgid = processStat(pid)?.pgrp ?? 0;
      if (pgid > 1 && pgid !== process.pid) ignoreEsrch(() => process.kill(-pgid, 'SIGKILL'));
      ignoreEsrch(() => process.kill(pid, 'SIGKILL'));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

test.after.each(() => {
  scenario?.cleanup();
  scenario = undefined;
});

/** Gone, or a zombie waiting for init to reap it. */
function isDead(pid: number): boolean {
  const state = processStat(pid)?.state;
  return state === undefined || state === 'Z' || state === 'X';
}

function ignoreEsrch(kill: () => void): void {
  try {
    kill();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function healthz(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port whose PORTs (base + each offset) are all free right now. */
async function freeBasePort(offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (base + Math.max(...offsets) > 65535) continue;
    if ((await Promise.all(offsets.map((o) => canListen(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free range of ports');
}

/** The runner's guardian (cli/up/guardian.ts): its child shell waiting to run guardian-main.ts. */
function guardianOf(runnerPid: number): number | undefined {
  for (const pid of listPids()) {
    if (processStat(pid)?.ppid === runnerPid && processCommandLine(pid)?.includes('guardian-main.ts')) return pid;
  }
  return undefined;
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('up - runs each instance on its foreman PORT, the ready-first one first, and stops all on SIGTERM', async () => {
  const s = new Scenario(`# skiff up fixture\nnats: ${SERVE} --ready-delay 500\n\nmaster: ${SERVE}\nnode: ${SERVE} --with-child\n`);
  const base = await freeBasePort([0, 100, 200, 201]);
  const runner = s.start(['-m', 'node=2', '-p', String(base)]);
  const want = { 'nats.1': base, 'master.1': base + 100, 'node.1': base + 200, 'node.2': base + 201 };
  for (const [ps, port] of Object.entries(want)) {
    assert.is(await s.waitFor(`${ps} on ${port}`, () => healthz(port)), `${ps} ${port}`);
  }

  const nats = s.leaders('nats.1')[0];
  for (const ps of ['master.1', 'node.1', 'node.2']) {
    assert.ok(s.leaders(ps)[0].startedAt >= nats.startedAt + 500, `${ps} started only after nats.1 was ready`);
  }
  const out = runner.output();
  assert.ok(out.indexOf('up       | nats.1 is ready') < out.indexOf('up       | master.1 started'), out);
  assert.ok(out.includes(`nats.1   | nats.1 listening on ${base}\n`), out);
  const state = JSON.parse(readFileSync(join(s.dir, '.skiff', 'up', `${runner.child.pid}.json`), 'utf8'));
  assert.equal(state.groups.map((g: { name: string }) => g.name).sort(), ['master.1', 'nats.1', 'node.1', 'node.2']);

  runner.child.kill('SIGTERM');
  assert.is(await s.exitCode(runner), 0, runner.output());
  assert.ok(runner.output().includes('up       | stopping 4 processes…'), runner.output());
  assert.is(s.records().length, 6, 'four leaders and two children');
  await s.assertAllGone();
  assert.equal(s.stateFiles(), []);
});

test('up - restarts a crashed process with backoff, but not a finished or missing one; what it left in its group goes first', async () => {
  const s = new Scenario(`crash: ${SERVE} --crash-after 300 --with-child\nonce: echo finished\ntypo: no-such-command-for-skiff-up\n`);
  const base = await freeBasePort([0, 100, 200]);
  const runner = s.start(['-p', String(base)], { SKIFF_RESTART_BACKOFF_INITIAL_MS: '100', SKIFF_RESTART_BACKOFF_MAX_MS: '200' });
  await s.waitFor('crash.1 to run three times', () => new Set(s.leaders('crash.1').map((r) => r.pid)).size >= 3);

  const out = runner.output();
  assert.ok(out.includes('crash.1 | crashing without a newline\n'), out);
  assert.ok(out.includes('up      | crash.1 exited with code 1; restarting in 0.1s'), out);
  assert.ok(out.includes('up      | crash.1 exited with code 1; restarting in 0.2s'), out);
  assert.ok(out.includes('once.1  | finished\n'), out);
  assert.is(count(out, 'once.1 started'), 1, out);
  assert.is(count(out, 'typo.1 started'), 1, out);
  assert.is(count(out, 'typo.1 exited with code 127: command not found; check the Procfile line 3'), 1, out);
  // Each run's child outlived its crash; each was stopped before the next run started.
  const runs = s.records().filter((r) => r.ps === 'crash.1').sort((a, b) => a.startedAt - b.startedAt);
  const leaders = runs.filter((r) => r.role === 'leader');
  for (const child of runs.filter((r) => r.role === 'child' && r.startedAt < leaders[leaders.length - 1].startedAt)) {
    assert.ok(isDead(child.pid), `the child ${child.pid} of an earlier crash.1 run is still running:\n${out}`);
  }
  assert.ok(out.includes('up      | crash.1 left processes running in its group'), out);

  runner.child.kill('SIGTERM');
  assert.is(await s.exitCode(runner), 0, runner.output());
  await s.assertAllGone();
});

test('up - SIGKILLs a process group that ignores SIGTERM after -t, and exits 3', async () => {
  const s = new Scenario(`stubborn: ${SERVE} --ignore-term --with-child\ncalm: ${SERVE}\n`);
  const base = await freeBasePort([0, 100]);
  const runner = s.start(['-p', String(base), '-t', '1']);
  await s.waitFor('stubborn.1', () => healthz(base));
  await s.waitFor('calm.1', () => healthz(base + 100));

  runner.child.kill('SIGTERM');
  assert.is(await s.exitCode(runner), 3, runner.output());
  const out = runner.output();
  assert.ok(out.includes('stubborn.1 | ignoring SIGTERM'), out);
  assert.ok(out.includes('up         | sent SIGKILL to stubborn.1 after 1s'), out);
  assert.not.ok(out.includes('sent SIGKILL to calm.1'), out);
  await s.assertAllGone();
});

test('up - the cloud provider\'s nodes (recorded in .skiff/cloud) are stopped with the cluster', async () => {
  const s = new Scenario(`master: ${SERVE}\n`);
  // An instance as the local provider records it: a process in a group of its own.
  const instance = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  try {
    const dir = join(s.dir, '.skiff', 'cloud', 'instances');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pool-a-x.json'), JSON.stringify({ name: 'pool-a-x', pool: 'pool-a', pid: instance.pid, startTime: processStat(instance.pid!)!.startTime, createdAt: Date.now() }));
    const base = await freeBasePort([0]);
    const runner = s.start(['-p', String(base)]);
    await s.waitFor('master.1', () => healthz(base));
    runner.child.kill('SIGTERM');
    assert.is(await s.exitCode(runner), 0, runner.output());
    assert.ok(runner.output().includes('stopping 2 processes'), runner.output());
    assert.ok(isDead(instance.pid!), 'the instance was stopped');
  } finally {
    ignoreEsrch(() => process.kill(-instance.pid!, 'SIGKILL'));
  }
});

test('up - a SIGKILLed runner\'s guardian stops every process it started', async () => {
  const s = new Scenario(`nats: ${SERVE} --ready-delay 100\nnode: ${SERVE} --with-child\n`);
  const base = await freeBasePort([0, 100]);
  const runner = s.start(['-p', String(base)]);
  await s.waitFor('node.1', () => healthz(base + 100));
  const started = s.records();
  assert.is(started.length, 3);
  runner.child.kill('SIGKILL');
  await s.exitCode(runner);
  await s.waitFor('every process stopped', () => started.every((r) => isDead(r.pid)), 15_000);
  await s.waitFor('the state file removed', () => s.stateFiles().length === 0, 10_000);
  const log = readFileSync(join(s.dir, '.skiff', 'up', 'guardian.log'), 'utf8');
  assert.match(log, new RegExp(`skiff up ${runner.child.pid} is gone: stopping node\\.1 \\(process group \\d+\\)`));
});

test('up - a new runner kills the process groups that a SIGKILLed runner and its guardian left behind', async () => {
  const s = new Scenario(`nats: ${SERVE} --ready-delay 100\nnode: ${SERVE} --with-child\n`);
  const base = await freeBasePort([0, 100]);
  const first = s.start(['-p', String(base)]);
  await s.waitFor('node.1', () => healthz(base + 100));
  const guardian = await s.waitFor('the guardian', () => guardianOf(first.child.pid!));
  process.kill(-guardian, 'SIGKILL');
  first.child.kill('SIGKILL');
  await s.exitCode(first);
  const orphans = s.records();
  assert.is(orphans.length, 3);
  for (const r of orphans) assert.ok(!isDead(r.pid), `${r.ps} outlived its runner, as after a crash`);
  assert.equal(s.stateFiles(), [`${first.child.pid}.json`]);

  const second = s.start(['-p', String(base)]);
  const fresh = (ps: string) => s.leaders(ps).find((r) => !orphans.some((o) => o.pid === r.pid));
  await s.waitFor('a new node.1', async () => fresh('node.1') && (await healthz(base + 100)));
  for (const r of orphans) assert.ok(isDead(r.pid), `${r.ps} (${r.role}, pid ${r.pid}) was killed`);
  const out = second.output();
  assert.match(out, /up {5}\| killed nats\.1 \(process group \d+\), left running by skiff up \d+/);
  assert.match(out, /up {5}\| killed node\.1 \(process group \d+\), left running by skiff up \d+/);
  assert.equal(s.stateFiles(), [`${second.child.pid}.json`]);

  second.child.kill('SIGTERM');
  assert.is(await s.exitCode(second), 0, second.output());
  await s.assertAllGone();
});

test.run();
