// Gossip (SWIM + Lifeguard) figures. The in-memory part runs up to a thousand members in this one
// process, every one the production Swim code, on a virtual clock and a network with the loss and
// latency given; the real part runs 50 members over a real nats-server, each on its own
// connection. Writes bench/results/gossip.json.
// Usage: tsx bench/gossip.ts [--n 1000] [--loss 0] [--latency 0.5,2] [--kills 20] [--real 50] [--slow-ms 300] [--quick]
import { parseArgs } from 'node:util';
import type { NatsConnection } from 'nats';
import { silentLogger } from '../actors/platform/log.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { MemoryGroup } from '../actors/membership/memory-group.ts';
import { Membership, swimConfig, type Member, type SwimConfig } from '../actors/membership/index.ts';
import { loadConfig } from '../protocol/config.ts';
import { startNats, testConfig, waitFor } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const HELP = `Usage: tsx bench/gossip.ts [options]

  --n N            members in the in-memory group (default 1000)
  --loss P         message loss for the detection runs, 0..1 (default 0)
  --latency A,B    one-way latency range in ms (default 0.5,2)
  --kills K        crashes measured (default 20; silent failures: half as many)
  --real N         members over real NATS (default 50; 0 skips)
  --slow-ms MS     extra one-way delay of the slowed 10% in the false-positive runs (default 300)
  --quick          smaller runs, for a smoke test`;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' }, loss: { type: 'string', default: '0' }, latency: { type: 'string', default: '0.5,2' },
    kills: { type: 'string', default: '20' }, real: { type: 'string', default: '50' }, 'slow-ms': { type: 'string', default: '300' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const quick = values.quick === true;
const N = quick ? 100 : Number(values.n);
const LOSS = Number(values.loss);
const LATENCY = values.latency!.split(',').map(Number) as [number, number];
const KILLS = quick ? 5 : Number(values.kills);
const REAL = quick ? 10 : Number(values.real);
const SLOW_MS = Number(values['slow-ms']);

const cfg = swimConfig(loadConfig({}));
const PERIOD = cfg.periodMs;
/** SWIM without Lifeguard: no local health, a fixed suspicion timeout, the suspect not told. */
const plainSwim: SwimConfig = { ...cfg, awarenessMax: 1, suspicionMaxMult: 1, tellSuspect: false };

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const summary = (ms: number[]) => ({
  samples: ms.length,
  p50Ms: round(quantile(ms, 0.5), 0), p99Ms: round(quantile(ms, 0.99), 0), maxMs: round(Math.max(...ms), 0),
  p50Periods: round(quantile(ms, 0.5) / PERIOD), p99Periods: round(quantile(ms, 0.99) / PERIOD),
});

interface Watch {
  deadAt: Map<string, Map<string, number>>;
  falseDeaths: Set<string>;
  suspicions: number;
}

function watchedGroup(n: number, opts: { cfg?: SwimConfig; loss?: number; seed: number }, truth: Set<string>): { g: MemoryGroup; w: Watch } {
  const w: Watch = { deadAt: new Map(), falseDeaths: new Set(), suspicions: 0 };
  const g = MemoryGroup.converged(n, {
    cfg: opts.cfg ?? cfg, seed: opts.seed, loss: opts.loss, latencyMs: LATENCY,
    onChange: (observer, m: Member, _p, at) => {
      if (m.state === 'suspect') w.suspicions++;
      if (m.state !== 'dead') return;
      if (!truth.has(m.name)) w.falseDeaths.add(`${observer}->${m.name}`);
      let seen = w.deadAt.get(m.name);
      if (!seen) w.deadAt.set(m.name, (seen = new Map()));
      seen.set(observer, at);
    },
  });
  return { g, w };
}

/** Kills (or silences) members one at a time and times how long until every live member knows. */
function detection(kind: 'crash' | 'silent', kills: number, loss: number) {
  const truth = new Set<string>();
  const { g, w } = watchedGroup(N, { loss, seed: kind === 'crash' ? 11 : 12 }, truth);
  g.run(10 * PERIOD);
  const allKnow: number[] = [];
  const firstKnows: number[] = [];
  const spread: number[] = [];
  for (let k = 0; k < kills; k++) {
    const victim = `m${(k * 37 + 5) % N}`;
    truth.add(victim);
    const at = g.clock.now();
    if (kind === 'crash') g.kill(victim);
    else g.net.pause(victim);
    const live = () => [...g.members.keys()].filter((n) => !truth.has(n));
    for (let t = 0; t < 120_000; t += PERIOD) {
      g.run(PERIOD);
      if ((w.deadAt.get(victim)?.size ?? 0) >= live().length) break;
    }
    const seen = [...(w.deadAt.get(victim)?.values() ?? [])];
    if (seen.length < live().length) progress(`  ${victim}: only ${seen.length} of ${live().length} knew within 120 s`);
    if (seen.length > 0) { // nobody noticed: no sample to take
      allKnow.push(Math.max(...seen) - at);
      firstKnows.push(Math.min(...seen) - at);
      spread.push(Math.max(...seen) - Math.min(...seen));
    }
    g.run(5 * PERIOD);
  }
  // Detection (the first declaration) waits for someone's probe to reach the victim: with one
  // probe per member per period, the victim is probed about once a period in all. Dissemination
  // (from the first declaration to the last member) is what Serf's convergence figure measures.
  return { allMembersKnow: summary(allKnow), firstDeclaration: summary(firstKnows), dissemination: summary(spread), falseDeaths: w.falseDeaths.size };
}

/** Messages each member sends per protocol period in a steady group (no failures). */
function messageLoad(n: number, loss: number) {
  const { g } = watchedGroup(n, { loss, seed: 21 }, new Set());
  g.run(20 * PERIOD);
  const before = [...g.members.values()].reduce((s, m) => s + m.stats.totalSent, 0);
  const periods = 120;
  g.run(periods * PERIOD);
  const sent = [...g.members.values()].reduce((s, m) => s + m.stats.totalSent, 0) - before;
  const byType: Record<string, number> = {};
  for (const m of g.members.values()) for (const [t, c] of Object.entries(m.stats.sent)) byType[t] = (byType[t] ?? 0) + c;
  return { n, loss, messagesPerMemberPerPeriod: round(sent / n / periods), sentByTypeSinceStart: byType };
}

/** False deaths over a stretch with nobody failing: message loss, or some members slowed down. */
function falsePositives(label: string, swimCfg: SwimConfig, n: number, loss: number, slow: { share: number; delayMs: number } | undefined, seconds: number) {
  const { g, w } = watchedGroup(n, { cfg: swimCfg, loss, seed: 31 }, new Set());
  if (slow) for (let i = 0; i < Math.round(n * slow.share); i++) g.net.delay(`m${i}`, slow.delayMs);
  g.run(seconds * 1000);
  const members = new Set([...w.falseDeaths].map((p) => p.split('->')[1]));
  return { label, n, loss, slow, seconds, falseDeathDeclarations: w.falseDeaths.size, membersFalselyDeclared: members.size, suspicionsRaised: w.suspicions };
}

async function realNats(n: number, kills: number) {
  const nats = await startNats();
  const conns: NatsConnection[] = [];
  const members: Membership[] = [];
  const ncfg = testConfig(nats.url);
  try {
    for (let i = 0; i < n; i++) {
      const nc = await connectNats({ url: nats.url, name: `g${i}`, persistent: true });
      conns.push(nc);
      const m = new Membership({ nc, name: `g${i}`, role: 'node', cfg: ncfg, log: silentLogger });
      members.push(m);
      m.start();
    }
    await waitFor(`${n} members see each other`, () => members.every((m) => m.swim.size === n), 60_000);
    progress(`  ${n} members joined over NATS`);
    const before = members.reduce((s, m) => s + m.swim.stats.totalSent, 0);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const steady = (members.reduce((s, m) => s + m.swim.stats.totalSent, 0) - before) / n / ((Date.now() - t0) / PERIOD);
    const allKnow: number[] = [];
    for (let k = 0; k < kills; k++) {
      const i = n - 1 - k;
      const victim = members[i];
      const at = Date.now();
      victim.swim.stop();
      await conns[i].close();
      const rest = members.slice(0, n - 1 - k);
      await waitFor(`${victim.name} known dead`, () => rest.every((m) => m.state(victim.name) === 'dead'), 30_000);
      allKnow.push(Date.now() - at);
      progress(`  kill ${k + 1}/${kills}: all ${rest.length} knew after ${Date.now() - at} ms`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    return { n, kills, allMembersKnow: summary(allKnow), messagesPerMemberPerPeriod: round(steady) };
  } finally {
    for (const m of members) m.stop();
    for (const nc of conns) await nc.close().catch(() => {});
    await nats.stop();
  }
}

const started = Date.now();
progress(`in-memory detection, n=${N}, loss ${LOSS}, latency ${LATENCY.join('-')} ms: ${KILLS} crashes`);
const crash = detection('crash', KILLS, LOSS);
progress(`  crash: all know p50 ${crash.allMembersKnow.p50Ms} ms, p99 ${crash.allMembersKnow.p99Ms} ms; dissemination p50 ${crash.dissemination.p50Ms} ms, p99 ${crash.dissemination.p99Ms} ms`);
progress(`silent failures (no "nobody there" answer: a hung host or a cut link): ${Math.ceil(KILLS / 2)}`);
const silent = detection('silent', Math.ceil(KILLS / 2), LOSS);
progress(`  silent: all know p50 ${silent.allMembersKnow.p50Ms} ms, p99 ${silent.allMembersKnow.p99Ms} ms`);

const load = [];
for (const n of quick ? [50, 100] : [100, 500, 1000]) {
  for (const loss of [0, 0.05]) {
    const r = messageLoad(n, loss);
    progress(`messages: n=${n} loss ${loss}: ${r.messagesPerMemberPerPeriod} per member per period`);
    load.push(r);
  }
}

const fpSeconds = quick ? 30 : 120;
const fp = [
  falsePositives('lifeguard, 5% loss', cfg, N, 0.05, undefined, fpSeconds),
  falsePositives('plain SWIM, 5% loss', plainSwim, N, 0.05, undefined, fpSeconds),
  falsePositives(`lifeguard, 10% of members slowed by ${SLOW_MS} ms each way`, cfg, quick ? 50 : 100, 0, { share: 0.1, delayMs: SLOW_MS }, fpSeconds),
  falsePositives(`plain SWIM, 10% of members slowed by ${SLOW_MS} ms each way`, plainSwim, quick ? 50 : 100, 0, { share: 0.1, delayMs: SLOW_MS }, fpSeconds),
];
for (const r of fp) progress(`false positives, ${r.label} (n=${r.n}, ${r.seconds} s): ${r.falseDeathDeclarations} declarations about ${r.membersFalselyDeclared} members; ${r.suspicionsRaised} suspicions`);

let real;
if (REAL > 0) {
  progress(`real NATS: ${REAL} members, ${Math.min(10, REAL - 2)} kills`);
  real = await realNats(REAL, Math.min(10, REAL - 2));
  progress(`  real: all know p50 ${real.allMembersKnow.p50Ms} ms, p99 ${real.allMembersKnow.p99Ms} ms; ${real.messagesPerMemberPerPeriod} messages per member per period`);
}

const result = {
  config: { periodMs: PERIOD, probeTimeoutMs: cfg.probeTimeoutMs, indirectChecks: cfg.indirectChecks, gossipIntervalMs: cfg.gossipIntervalMs, fanout: cfg.gossipFanout, retransmitMult: cfg.retransmitMult, suspicionMult: cfg.suspicionMult, suspicionMaxMult: cfg.suspicionMaxMult, unreachableConfirmMs: cfg.unreachableConfirmMs },
  inMemory: { n: N, loss: LOSS, latencyMs: LATENCY, crash, silent, messageLoad: load, falsePositives: fp },
  realNats: real,
  anchors: {
    memberlistLan: 'probe interval 1 s, suspicion 4·log10(n) s (12 s at n=1000)',
    serf: 'converges in about 1.2 s at 1000 nodes',
    lifeguard: 'over 50x fewer false positives than plain SWIM',
  },
  wallSeconds: round((Date.now() - started) / 1000, 1),
};
console.log(JSON.stringify(result, null, 2));
writeResult('gossip', result);
