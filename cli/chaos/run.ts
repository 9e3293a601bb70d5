// Running an experiment against a cluster: the steady-state hypothesis first (a failure there
// ends the run, with nothing done to the cluster); then the method: faults at their times on the
// targets their selectors pick, probes checked at their intervals all through, each recovery timed
// after each fault, the consistency clients at work; then the rollbacks (paused processes resumed,
// CPU burners stopped), always, even on an error; then the hypothesis again, given time to hold.
// The result: the verdict, each probe's figures, the resilience score and a timeline.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import type { ApiClient } from '../../actors/client/client.ts';
import { membersByGroup, signalGroup } from '../../actors/platform/procfs.ts';
import { linkRecordOf, setLinkFaults } from '../../actors/platform/fault-link.ts';
import type { LinkFaults } from '../../actors/platform/link-faults.ts';
import type { Lease, Node, Pod } from '../../protocol/types.ts';
import { checkHistory, type CheckResult } from './checker.ts';
import type { Experiment, Fault, Probe } from './experiment.ts';
import { checkOnce, ConsistencyClients } from './probes.ts';
import { resilienceScore, successPercent, verdictOf, type ProbeOutcome } from './score.ts';
import { seededRandom, selectTargets } from './select.ts';
import { clusterProcesses, podGroups, type ProcessTarget } from './targets.ts';

export interface TimelineEvent {
  /** ms from the start of the method (negative: before it). */
  t: number;
  kind: 'phase' | 'fault' | 'probe' | 'recovery';
  name: string;
  detail: string;
  ok?: boolean;
}

export interface RunResult {
  experiment: string;
  verdict: 'Pass' | 'Fail';
  resilienceScore: number;
  failed: string[];
  probes: (ProbeOutcome & { successPercent: number })[];
  faults: { name: string; action: string; at: number; targets: string[]; error?: string }[];
  consistency?: CheckResult;
  timeline: TimelineEvent[];
}

export interface RunOptions {
  client: ApiClient;
  /** Where the cluster was started from (its .skiff): where its processes are found. */
  dir: string;
  say: (line: string) => void;
  /** How long the hypothesis after the method may take to hold again. */
  settleMs?: number;
}

/** After a fault, how long a recovery probe waits to see its condition fail before counting the fault as without effect. */
const IMPACT_WINDOW_MS = 5000;
const STEADY_CHECKS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kindOf(p: Probe): ProbeOutcome['kind'] {
  return p.recovery ? 'recovery' : p.consistency ? 'consistency' : p.http ? 'http' : p.cmd ? 'cmd' : p.prom ? 'prom' : 'object';
}
const thresholdOf = (p: Probe) => p.http?.successRate ?? p.cmd?.successRate ?? p.prom?.successRate ?? 100;

export async function runExperiment(e: Experiment, o: RunOptions): Promise<RunResult> {
  const { client } = o;
  const timeline: TimelineEvent[] = [];
  let zero = performance.now();
  const at = () => Math.round(performance.now() - zero);
  const note = (ev: Omit<TimelineEvent, 't'>) => timeline.push({ t: at(), ...ev });
  const outcomes: ProbeOutcome[] = [];
  const faults: RunResult['faults'] = [];
  let consistency: CheckResult | undefined;

  /** The hypothesis, checked: each http or cmd probe a few times, each object once; all must hold. */
  const hypothesis = async (phase: 'before' | 'after'): Promise<ProbeOutcome[]> => Promise.all(e.steadyState.map(async (p) => {
    const n = p.object ? 1 : STEADY_CHECKS;
    let passed = 0;
    let detail: string | undefined;
    for (let i = 0; i < n; i++) {
      const c = await checkOnce(p, client);
      if (c.ok) passed++;
      else detail = c.detail;
      if (i < n - 1) await sleep(Math.min(p.intervalMs, 200));
    }
    const out: ProbeOutcome = { name: p.name, kind: kindOf(p), phase, checks: n, passed, threshold: thresholdOf(p), ...(detail && passed < n ? { detail: `${passed} of ${n} checks passed; last: ${detail}` } : {}) };
    return out;
  }));

  o.say(`steady state: checking ${e.steadyState.length} probe(s)`);
  zero = performance.now();
  const before = await hypothesis('before');
  outcomes.push(...before);
  note({ kind: 'phase', name: 'steady state before', detail: before.map((b) => `${b.name} ${b.passed}/${b.checks}`).join(', '), ok: verdictOf(before).verdict === 'Pass' });
  if (verdictOf(before).verdict === 'Fail') {
    o.say('the steady state does not hold: no fault injected');
    return finish();
  }

  const paused = new Set<number>();
  const burners = new Set<ChildProcess>();
  /** Faults files written to nodes' fault links. */
  const linkFaults = new Set<string>();
  const random = seededRandom(e.seed);
  const consistencyProbe = e.probes.find((p) => p.consistency);
  const store = consistencyProbe ? new ConsistencyClients(client, `chaos-${e.name}`, consistencyProbe.consistency!.keys, consistencyProbe.consistency!.clients) : undefined;
  await store?.setUp();
  const continuous = e.probes.filter((p) => !p.recovery && !p.consistency).map((p) => ({ p, checks: 0, passed: 0, detail: undefined as string | undefined }));
  const recoveries = e.probes.filter((p) => p.recovery).map((p) => ({ p, times: [] as (number | undefined)[], watches: [] as Promise<void>[] }));
  let methodOver = false;

  o.say(`method: ${e.faults.length} fault(s) over ${e.durationMs / 1000}s`);
  zero = performance.now();
  note({ kind: 'phase', name: 'method', detail: 'begins' });
  store?.start();
  const probeLoops = continuous.map(async (c) => {
    while (!methodOver) {
      const r = await checkOnce(c.p, client);
      c.checks++;
      if (r.ok) c.passed++;
      else {
        c.detail = r.detail;
        note({ kind: 'probe', name: c.p.name, detail: r.detail ?? 'failed', ok: false });
      }
      await sleep(c.p.intervalMs);
    }
  });

  const fire = async (f: Fault, t: number) => {
    const record = { name: f.name, action: f.action, at: t, targets: [] as string[], error: undefined as string | undefined };
    faults.push(record);
    try {
      record.targets = await inject(f, o, random, paused, burners, linkFaults);
      note({ kind: 'fault', name: f.name, detail: `${f.action} ${record.targets.join(', ') || '(no target)'}` });
      o.say(`  ${(at() / 1000).toFixed(1)}s ${f.name}: ${f.action} ${record.targets.join(', ') || '(no target matched)'}`);
    } catch (err) {
      record.error = (err as Error).message;
      note({ kind: 'fault', name: f.name, detail: `failed: ${record.error}`, ok: false });
      o.say(`  ${(at() / 1000).toFixed(1)}s ${f.name}: could not ${f.action}: ${record.error}`);
    }
    const firedAt = performance.now();
    for (const r of recoveries) {
      // Each fault's figure in its own place, in the order the faults came, whenever it is known.
      const slot = r.times.push(undefined) - 1;
      r.watches.push((async () => {
        // Seen failing within the impact window, then timed until it holds again; never failing: no effect (0).
        let failed = false;
        while (performance.now() - firedAt < IMPACT_WINDOW_MS && !failed) {
          failed = !(await checkOnce(r.p, client)).ok;
          if (!failed) await sleep(100);
        }
        if (!failed) {
          r.times[slot] = 0;
          return;
        }
        const deadline = firedAt + r.p.recovery!.withinMs * 3;
        while (performance.now() < deadline) {
          if ((await checkOnce(r.p, client)).ok) {
            const ms = Math.round(performance.now() - firedAt);
            r.times[slot] = ms;
            note({ kind: 'recovery', name: r.p.name, detail: `held again ${ms} ms after ${f.name}`, ok: ms <= r.p.recovery!.withinMs });
            return;
          }
          await sleep(100);
        }
        note({ kind: 'recovery', name: r.p.name, detail: `did not hold again after ${f.name}`, ok: false });
      })());
    }
  };

  try {
    const schedule = e.faults.flatMap((f) => f.at.map((t) => ({ f, t }))).sort((a, b) => a.t - b.t);
    for (const { f, t } of schedule) {
      const wait = t - at();
      if (wait > 0) await sleep(wait);
      await fire(f, t);
    }
    const left = e.durationMs - at();
    if (left > 0) await sleep(left);
  } finally {
    methodOver = true;
    await Promise.all(probeLoops);
    // Rollbacks, whatever happened: resume what was paused, stop the burners.
    for (const pgid of paused) signalGroup(pgid, 'SIGCONT');
    for (const b of burners) b.kill('SIGKILL');
    for (const file of linkFaults) rmSync(file, { force: true });
    note({ kind: 'phase', name: 'rollbacks', detail: `resumed ${paused.size} paused, stopped ${burners.size} burner(s), healed ${linkFaults.size} link(s)` });
  }
  for (const r of recoveries) await Promise.all(r.watches);
  for (const c of continuous) {
    outcomes.push({ name: c.p.name, kind: kindOf(c.p), phase: 'during', checks: c.checks, passed: c.passed, threshold: thresholdOf(c.p), ...(c.passed < c.checks ? { detail: `${successPercent({ checks: c.checks, passed: c.passed } as ProbeOutcome).toFixed(2)}% of ${c.checks} checks passed, ${thresholdOf(c.p)}% needed; last failure: ${c.detail}` } : {}) });
  }
  for (const r of recoveries) {
    outcomes.push({ name: r.p.name, kind: 'recovery', phase: 'during', checks: r.times.length, passed: r.times.filter((x) => x !== undefined && x <= r.p.recovery!.withinMs).length, threshold: 100, recoveriesMs: r.times, withinMs: r.p.recovery!.withinMs });
  }
  if (store && consistencyProbe) {
    const finals = await store.finish();
    consistency = checkHistory(store.ops, { initial: 0, finals, uids: store.uids });
    outcomes.push({ name: consistencyProbe.name, kind: 'consistency', phase: 'during', checks: consistency.operations, passed: consistency.ok ? consistency.operations : 0, threshold: 100, ...(consistency.ok ? {} : { detail: consistency.problems.join('; ') }) });
    note({ kind: 'probe', name: consistencyProbe.name, detail: consistency.ok ? `${consistency.operations} operations, linearizable, no write lost` : consistency.problems.join('; '), ok: consistency.ok });
  }

  // The hypothesis again, given time to hold (the cluster heals at its own pace).
  o.say('steady state: checking again');
  const settleUntil = performance.now() + (o.settleMs ?? 30_000);
  let after = await hypothesis('after');
  while (verdictOf(after).verdict === 'Fail' && performance.now() < settleUntil) {
    await sleep(500);
    after = await hypothesis('after');
  }
  outcomes.push(...after);
  note({ kind: 'phase', name: 'steady state after', detail: after.map((a) => `${a.name} ${a.passed}/${a.checks}`).join(', '), ok: verdictOf(after).verdict === 'Pass' });
  return finish();

  function finish(): RunResult {
    const v = verdictOf(outcomes);
    return {
      experiment: e.name, verdict: v.verdict, resilienceScore: Math.round(resilienceScore([{ weight: e.weight, probeSuccessPercentage: v.probeSuccessPercentage }]) * 100) / 100,
      failed: v.failed, probes: outcomes.map((x) => ({ ...x, successPercent: Math.round(successPercent(x) * 100) / 100 })), faults, consistency, timeline,
    };
  }
}

/** Acts out one fault; returns the names of what it acted on. */
async function inject(f: Fault, o: RunOptions, random: () => number, paused: Set<number>, burners: Set<ChildProcess>, linkFaults: Set<string>): Promise<string[]> {
  const procs = clusterProcesses(o.dir);
  const byNames = <T extends { name: string }>(xs: T[]) => (f.target.names ? xs.filter((x) => f.target.names!.includes(x.name)) : xs);
  const nodesMatching = async (): Promise<ProcessTarget[]> => {
    let nodes = byNames(procs.filter((p) => p.role === 'node'));
    if (f.target.labels) {
      const want = Object.entries(f.target.labels);
      const objects = (await o.client.list<Node>('nodes')).items;
      nodes = nodes.filter((n) => want.every(([k, v]) => objects.find((x) => x.metadata.name === n.name)?.metadata.labels?.[k] === v));
    }
    return nodes;
  };
  const pick = <T>(xs: T[]) => selectTargets(xs, f.target.mode, f.target.value, random);
  switch (f.action) {
    case 'kill-node': {
      const chosen = pick(await nodesMatching());
      for (const n of chosen) signalGroup(n.pgid, 'SIGKILL');
      return chosen.map((n) => n.name);
    }
    case 'pause-node': {
      const chosen = pick(await nodesMatching());
      for (const n of chosen) {
        signalGroup(n.pgid, 'SIGSTOP');
        paused.add(n.pgid);
        setTimeout(() => {
          if (paused.delete(n.pgid)) signalGroup(n.pgid, 'SIGCONT');
        }, f.durationMs).unref();
      }
      return chosen.map((n) => n.name);
    }
    case 'kill-pod': {
      const ns = f.target.namespace ?? 'default';
      const selector = f.target.labels ? Object.entries(f.target.labels).map(([k, v]) => `${k}=${v}`).join(',') : undefined;
      const pods = byNames((await o.client.list<Pod>('pods', { namespace: ns, ...(selector ? { labelSelector: selector } : {}) })).items
        .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp).map((p) => ({ name: p.metadata.name!, uid: p.metadata.uid! })));
      const chosen = pick(pods);
      const nodes = procs.filter((p) => p.role === 'node');
      for (const p of chosen) for (const g of podGroups(nodes, p.uid)) signalGroup(g.pgid, 'SIGKILL');
      return chosen.map((p) => p.name);
    }
    case 'kill-leader': {
      const lease = await o.client.get<Lease>('leases', 'skiff-controller-manager', 'kube-system');
      const leader = procs.find((p) => p.role === 'master' && p.name === lease.spec.holderIdentity);
      if (!leader) throw new Error(`the leader ${lease.spec.holderIdentity ?? '(none)'} is not a process recorded here`);
      signalGroup(leader.pgid, 'SIGKILL');
      return [leader.name];
    }
    case 'kill-nats': {
      const chosen = pick(byNames(procs.filter((p) => p.role === 'nats')));
      for (const n of chosen) signalGroup(n.pgid, 'SIGKILL');
      return chosen.map((n) => n.name);
    }
    case 'lame-duck-nats': {
      // SIGUSR2 to the Procfile's nats process, which hands it to its nats-server: lame-duck mode,
      // leaderships handed over and clients moved before it stops. It ends with exit code 0, a
      // finished process to skiff up, which leaves it stopped, as an operator's lame duck is meant.
      // That process is the group's leader, or the leader's child when the leader is the shell
      // skiff up ran the line with (which SIGUSR2 would end).
      const chosen = pick(byNames(procs.filter((p) => p.role === 'nats')));
      const groups = membersByGroup();
      for (const n of chosen) {
        const child = groups.get(n.pgid)?.find((m) => m.stat.ppid === n.pgid);
        process.kill(child?.pid ?? n.pgid, 'SIGUSR2');
      }
      return chosen.map((n) => n.name);
    }
    case 'network-delay':
    case 'network-loss':
    case 'network-partition': {
      // Written to each chosen node's faults file, which its fault link reads; each ends by itself
      // at its time, and the rollbacks take away what is left.
      const chosen = pick(await nodesMatching());
      const groups = membersByGroup();
      const faults: LinkFaults = {
        latencyMs: f.latencyMs ?? 0, jitterMs: f.jitterMs ?? 0, lossPercent: f.lossPercent ?? 0,
        partition: f.action === 'network-partition', until: Date.now() + f.durationMs,
      };
      for (const n of chosen) {
        const link = n.dataDir ? linkRecordOf(n.dataDir) : undefined;
        if (!link || !groups.get(n.pgid)?.some((m) => m.pid === link.pid)) {
          throw new Error(`${n.name} does not reach NATS through a fault link: start its nodes with SKIFF_NODE_FAULT_LINK=on (skiff up does)`);
        }
      }
      for (const n of chosen) {
        linkFaults.add(setLinkFaults(n.dataDir!, faults));
      }
      return chosen.map((n) => n.name);
    }
    case 'burn-cpu': {
      // One busy process per core for the fault's duration: the nodes share this host's CPUs.
      for (let i = 0; i < cpus().length; i++) {
        const b = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
        burners.add(b);
        setTimeout(() => { b.kill('SIGKILL'); burners.delete(b); }, f.durationMs).unref();
      }
      return [`${cpus().length} core(s)`];
    }
    case 'burn-memory': {
      // A process that holds the memory, touched page by page so that it is resident, for the duration.
      const mib = Math.max(1, Math.round((f.bytes ?? 256 * 2 ** 20) / 2 ** 20));
      const b = spawn(process.execPath, ['-e', `const b = Buffer.alloc(${mib} * 2 ** 20, 1); setInterval(() => b[0]++, 1000)`], { stdio: 'ignore' });
      burners.add(b);
      setTimeout(() => { b.kill('SIGKILL'); burners.delete(b); }, f.durationMs).unref();
      return [`${mib} MiB`];
    }
  }
}
