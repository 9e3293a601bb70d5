// The supervisor behind `skiff up`. Every instance runs in its own process group, recorded in
// .skiff/up/<runner pid>.json, so that stopping (or, if this runner is SIGKILLed, its guardian,
// and failing that the next runner) reaches every process it started, and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { nextBackoff, type BackoffPolicy } from '../../protocol/backoff.ts';
import type { Instance } from './procfile.ts';
import { groupsStillAlive, processStat, signalGroup, terminateGroups, waitForGroups } from '../../actors/platform/procfs.ts';
import { leftRunning, type Group, type StateFile } from './groups.ts';
import type { DeadMansSwitch } from '../../actors/platform/dead-mans-switch.ts';
import { startGuardian } from './guardian.ts';

/** How a run ended; index.ts turns it into the exit code. */
export type RunResult =
  | { type: 'stopped'; signal: NodeJS.Signals; killed: boolean }
  | { type: 'not-ready'; reason: string }
  | { type: 'all-exited'; failed: string[] };

export interface RunnerOptions {
  /** The Procfile's directory: each process's cwd, and where .skiff/up lives. */
  dir: string;
  instances: Instance[];
  /** Procfile names started first and awaited until ready. */
  readyFirst: string[];
  /** process.env and .env; PORT and PS are added per instance. */
  env: NodeJS.ProcessEnv;
  restart: boolean;
  backoff: BackoffPolicy;
  stopTimeoutMs: number;
  readyTimeoutMs: number;
  /** How often readiness and stopping are checked. */
  pollMs: number;
  /** Said first, in the runner's own voice (how to reach a nats cluster, say). */
  notes?: string[];
  /** Other processes of the cluster, not started here, to stop with it (the cloud provider's nodes). */
  alsoStop?: () => Group[];
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

interface Slot {
  inst: Instance;
  state: 'idle' | 'running' | 'backoff' | 'done';
  child?: ChildProcess;
  runs: number;
  startedAt: number;
  delayMs?: number;
  timer?: NodeJS.Timeout;
  ready: boolean;
  failed: boolean;
  lastExit?: string;
  /** Resolves once the current child's exit has been handled. */
  handled: Promise<void>;
}

type Outcome = { type: 'signal'; signal: NodeJS.Signals } | { type: 'all-exited' };

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const NO_ANSWER = 'no answer';
const COLOURS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91];
const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))}s`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function runProcesses(opts: RunnerOptions): Promise<RunResult> {
  return new Supervisor(opts).run();
}

class Supervisor {
  private readonly slots: Slot[];
  private readonly groups = new Map<number, Group>();
  private readonly stateDir: string;
  private readonly stateFile: string;
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly width: number;
  private phase: 'starting' | 'running' = 'starting';
  private stopping = false;
  private signal?: NodeJS.Signals;
  private killNow = false;
  private readonly abort = new AbortController();
  private settle!: (o: Outcome) => void;
  private readonly outcome = new Promise<Outcome>((resolve) => { this.settle = resolve; });

  constructor(private readonly opts: RunnerOptions) {
    this.slots = opts.instances.map((inst) => ({ inst, state: 'idle', runs: 0, startedAt: 0, ready: false, failed: false, handled: Promise.resolve() }));
    this.stateDir = join(opts.dir, '.skiff', 'up');
    this.stateFile = join(this.stateDir, `${process.pid}.json`);
    this.out = opts.out ?? process.stdout;
    this.width = Math.max(2, ...opts.instances.map((i) => i.name.length));
  }

  async run(): Promise<RunResult> {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.signal) {
        this.say(`${signal} again: sending SIGKILL now`);
        this.killNow = true;
      }
      this.signal ??= signal;
      this.abort.abort();
      this.settle({ type: 'signal', signal });
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    // A closed stdout (`skiff up | head`) must not kill the runner and orphan everything.
    const ignore = () => {};
    this.out.on('error', ignore);
    let stopped = false;
    let guardian: DeadMansSwitch | undefined;
    try {
      await this.reclaimStaleGroups();
      mkdirSync(this.stateDir, { recursive: true });
      // Stops this run's processes if the runner itself is killed (guardian.ts).
      guardian = startGuardian(this.stateFile, this.opts.stopTimeoutMs, this.opts.pollMs);
      for (const note of this.opts.notes ?? []) this.say(note);
      const first = this.slots.filter((s) => this.opts.readyFirst.includes(s.inst.process));
      for (const slot of first) this.start(slot);
      const notReady = await this.awaitReady(first);
      if (notReady && !this.signal) {
        this.say(notReady);
        await this.stopAll();
        stopped = true;
        return { type: 'not-ready', reason: notReady };
      }
      this.phase = 'running';
      if (!this.signal) for (const slot of this.slots.filter((s) => s.state === 'idle')) this.start(slot);
      this.checkAllExited();
      const outcome = await this.outcome;
      if (outcome.type === 'signal') this.say(`received ${outcome.signal}`);
      const killed = await this.stopAll();
      stopped = true;
      if (outcome.type === 'signal') return { type: 'stopped', signal: outcome.signal, killed };
      return { type: 'all-exited', failed: this.slots.filter((s) => s.failed).map((s) => s.inst.name) };
    } finally {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      this.out.off('error', ignore);
      // Left behind by a failure: the state file for the guardian, once this process ends.
      if (stopped) {
        guardian?.standDown();
        rmSync(this.stateFile, { force: true });
      }
    }
  }

  /** Kills the groups of earlier runners that died without stopping them (e.g. by SIGKILL). */
  private async reclaimStaleGroups(): Promise<void> {
    const reclaimed: Group[] = [];
    for (const file of listDir(this.stateDir).filter((f) => /^\d+\.json$/.test(f))) {
      const path = join(this.stateDir, file);
      let left;
      try {
        left = leftRunning(path);
      } catch (err) {
        this.say(`ignoring ${path}: ${(err as Error).message}`);
        continue;
      }
      if (!left) continue;
      for (const group of left.groups) {
        signalGroup(group.pgid, 'SIGKILL');
        reclaimed.push(group);
        this.say(`killed ${group.name} (process group ${group.pgid}), left running by skiff up ${left.runner}`);
      }
      rmSync(path, { force: true });
    }
    await this.waitForGroups(reclaimed, this.opts.stopTimeoutMs);
  }

  private start(slot: Slot): void {
    const { inst } = slot;
    const child = spawn('/bin/sh', ['-c', inst.command], {
      cwd: this.opts.dir,
      env: { ...this.opts.env, PORT: String(inst.port), PS: inst.name },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    Object.assign(slot, { child, state: 'running', startedAt: Date.now(), runs: slot.runs + 1, ready: false });
    const leader = child.pid === undefined ? undefined : processStat(child.pid);
    if (child.pid !== undefined && leader) {
      this.groups.set(child.pid, { name: inst.name, pgid: child.pid, startTime: leader.startTime });
      this.saveState();
    }
    this.say(`${inst.name} started with PORT=${inst.port} (pid ${child.pid ?? '?'})`);
    const drained = Promise.all([child.stdout!, child.stderr!].map((s) => this.forwardLines(s, inst)));
    slot.handled = new Promise((resolve) => {
      child.on('error', (err) => {
        this.say(`${inst.name} could not be started: ${err.message}`);
        this.exited(slot, child, 127, null);
        resolve();
      });
      // Its last lines first, unless something it left running holds its output open.
      child.on('exit', (code, signal) => void Promise.race([drained, sleep(this.opts.pollMs)]).then(() => {
        this.exited(slot, child, code, signal);
        resolve();
      }));
    });
  }

  private exited(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    const { inst } = slot;
    const notFound = code === 127 && slot.runs === 1;
    const asked = this.stopping && (signal === 'SIGTERM' || signal === 'SIGKILL');
    slot.lastExit = (asked ? `stopped (${signal})` : signal ? `was killed by ${signal}` : `exited with code ${code}`) +
      (notFound ? `: command not found; check the Procfile line ${inst.line}` : '');
    const crashed = code !== 0;
    const unready = this.phase === 'starting' && !slot.ready;
    // What it started in its group and left behind goes too (stopAll sees to it when stopping).
    const leftovers = this.stopping || child.pid === undefined ? Promise.resolve() : this.stopLeftovers(inst.name, child.pid);
    if (this.stopping || unready || !crashed || notFound || !this.opts.restart) {
      slot.state = 'done';
      slot.failed = crashed;
      if (!unready || this.stopping) this.say(`${inst.name} ${slot.lastExit}`); // else awaitReady says why
      this.checkAllExited();
      return;
    }
    const delay = nextBackoff(slot.delayMs, Date.now() - slot.startedAt, this.opts.backoff);
    slot.delayMs = delay;
    slot.state = 'backoff';
    this.say(`${inst.name} ${slot.lastExit}; restarting in ${(delay / 1000).toFixed(1)}s`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      // Not beside what the last run left: a second skiff node on the same data directory is refused.
      void leftovers.then(() => { if (!this.stopping) this.start(slot); });
    }, delay);
  }

  /**
   * A process that ended (its group's leader) may have left others of its group running, as a
   * Procfile line run by sh leaves the command it started when sh alone is killed: SIGTERM to the
   * group, SIGKILL after the stop timeout.
   */
  private async stopLeftovers(name: string, pgid: number): Promise<void> {
    const group = this.groups.get(pgid);
    const left = group ? groupsStillAlive([group]) : [];
    if (left.length === 0) return;
    this.say(`${name} left processes running in its group ${pgid}; stopping them`);
    if ((await terminateGroups(left, this.opts.stopTimeoutMs, this.opts.pollMs)).length > 0) {
      this.say(`sent SIGKILL to what ${name} left in its group after ${seconds(this.opts.stopTimeoutMs)}`);
    }
  }

  private checkAllExited(): void {
    if (this.phase === 'running' && this.slots.every((s) => s.state === 'done')) this.settle({ type: 'all-exited' });
  }

  /** Polls each slot's /healthz until all answer 2xx; returns why not, or undefined. */
  private async awaitReady(slots: Slot[]): Promise<string | undefined> {
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    const pending = new Set(slots);
    const problems = new Map<Slot, string>();
    while (pending.size > 0 && !this.signal) {
      for (const slot of pending) {
        const { name, port } = slot.inst;
        if (slot.state === 'done') return `${name} ${slot.lastExit} before it was ready`;
        const problem = await probeHealthz(port, deadline, this.abort.signal);
        if (problem === undefined) {
          slot.ready = true;
          pending.delete(slot);
          this.say(`${name} is ready`);
          continue;
        }
        // A probe cut short by the deadline says less than the one before it.
        if (problem !== NO_ANSWER || !problems.has(slot)) problems.set(slot, problem);
        if (Date.now() >= deadline) {
          return `${name} was not ready within ${seconds(this.opts.readyTimeoutMs)} (GET http://127.0.0.1:${port}/healthz: ${problems.get(slot)})`;
        }
      }
      if (pending.size > 0) await sleep(this.opts.pollMs);
    }
    return undefined;
  }

  /** SIGTERM to every group, SIGKILL to those still there after the timeout. True if any needed it. */
  private async stopAll(): Promise<boolean> {
    this.stopping = true;
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      if (slot.state !== 'running') slot.state = 'done';
    }
    const live = groupsStillAlive([...this.groups.values(), ...(this.opts.alsoStop?.() ?? [])]);
    if (live.length > 0) this.say(`stopping ${live.length} process${live.length === 1 ? '' : 'es'}…`);
    const stubborn = await terminateGroups(live, this.opts.stopTimeoutMs, this.opts.pollMs, () => this.killNow);
    for (const g of stubborn) this.say(`sent SIGKILL to ${g.name} after ${this.killNow ? 'a second signal' : seconds(this.opts.stopTimeoutMs)}`);
    for (const g of await this.waitForGroups(stubborn, this.opts.stopTimeoutMs)) {
      this.say(`${g.name} (process group ${g.pgid}) is still there after SIGKILL`);
    }
    await Promise.race([Promise.all(this.slots.map((s) => s.handled)), sleep(this.opts.stopTimeoutMs)]);
    return stubborn.length > 0;
  }

  private waitForGroups(groups: Group[], timeoutMs: number): Promise<Group[]> {
    return waitForGroups(groups, timeoutMs, this.opts.pollMs, () => this.killNow);
  }

  /** Runs right after each spawn, and replaces the file atomically, for reclaimStaleGroups. */
  private saveState(): void {
    for (const g of this.groups.values()) if (!signalGroup(g.pgid, 0)) this.groups.delete(g.pgid);
    const runner = { pid: process.pid, startTime: processStat(process.pid)?.startTime ?? '' };
    mkdirSync(this.stateDir, { recursive: true });
    writeFileSync(`${this.stateFile}.tmp`, JSON.stringify({ runner, groups: [...this.groups.values()] } satisfies StateFile));
    renameSync(`${this.stateFile}.tmp`, this.stateFile);
  }

  /** Prints each line of `stream` with the instance's prefix, the last one even without a newline. */
  private forwardLines(stream: Readable, inst: Instance): Promise<void> {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.print(inst.name, inst.index, line.replace(/\r$/, ''));
    });
    return new Promise((resolve) => stream.on('close', () => {
      if (partial !== '') this.print(inst.name, inst.index, partial);
      resolve();
    }));
  }

  private say(message: string): void {
    this.print('up', undefined, message);
  }

  private print(name: string, colour: number | undefined, text: string): void {
    const prefix = `${name.padEnd(this.width)} |`;
    const painted = this.out.isTTY && colour !== undefined ? `\x1b[${COLOURS[colour % COLOURS.length]}m${prefix}\x1b[0m` : prefix;
    this.out.write(`${painted} ${text}\n`);
  }
}

async function probeHealthz(port: number, deadline: number, stop: AbortSignal): Promise<string | undefined> {
  try {
    const signal = AbortSignal.any([stop, AbortSignal.timeout(Math.max(1, deadline - Date.now()))]);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal });
    await res.body?.cancel();
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return NO_ANSWER;
    return (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
  }
}

function listDir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
