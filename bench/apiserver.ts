// Apiserver overhead: create, update and get through a real master process, at 1 and at 64
// requests in flight, and the same operations straight on a JetStream KV bucket in the same run.
// The ratio of the two is what the apiserver costs. All of it on a one-server store (R1) and on a
// three-server one (R3), in turn: their ratio is what replication costs. And with security on (the
// servers requiring credentials, the client a user authorized by RBAC, an audit line per write)
// and off, in turn: their ratio is what security costs. Each ratio is taken within a round, and
// the rounds alternate which goes first (a process warms up over a run: whatever ran second would
// have the edge); the figures are the medians over rounds. Writes bench/results/apiserver.json.
// Usage: tsx bench/apiserver.ts [--ops N] [--store r1|r3|both] [--auth on|off|both] [--rounds N]
import { parseArgs } from 'node:util';
import { StorageType } from 'nats';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { encodeObject } from '../protocol/codec.ts';
import type { Pod } from '../protocol/types.ts';
import { startMaster, startNats, startNatsCluster } from '../test/harness.ts';
import { identityEnv } from '../test/test-auth.ts';
import type { RoleBinding } from '../protocol/types.ts';
import { processUsage } from '../actors/platform/procfs.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '3000' }, store: { type: 'string', default: 'both' }, auth: { type: 'string', default: 'both' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(`Usage: tsx bench/apiserver.ts [--ops N] [--store r1|r3|both] [--auth on|off|both] [--rounds N]
  --ops    operations per measurement at 64 in flight (default 3000; at most 1000 at 1 in flight)
  --store  the store on one nats-server, three, or both in turn (default both)
  --auth   security on (credentials, RBAC, audit), off, or both in turn (default both; on R1 only when both stores run)
  --rounds rounds of every measurement, alternating which store and which security setting go first (default 3)`);
  process.exit(0);
}
const AUTHS: ('on' | 'off')[] = values.auth === 'on' ? ['on'] : values.auth === 'off' ? ['off'] : ['on', 'off'];
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1)) throw new Error(`--rounds=${values.rounds}: use a whole number, 1 or more`);
const STORES: ('R1' | 'R3')[] = values.store === 'r1' ? ['R1'] : values.store === 'r3' ? ['R3'] : ['R1', 'R3'];
const CONCURRENCY = [1, 64];

interface Sample {
  round: number;
  /** R1: one nats-server; R3: three, the store replicated three ways. */
  store: 'R1' | 'R3';
  /** on: servers requiring credentials, the client a user authorized by RBAC, the audit log written; off: none of it. */
  auth: 'on' | 'off';
  op: 'create' | 'update' | 'get';
  target: 'apiserver' | 'kv';
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time per operation, in microseconds, of each process involved. */
  cpuUsPerOp: Record<string, number>;
}

/** User plus system CPU seconds a process has used so far. */
const cpuSeconds = (pid: number): number => processUsage(pid)?.cpuSeconds ?? NaN;

/** Runs `n` operations with `concurrency` in flight; returns throughput and latency percentiles. */
async function measure(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = new Array(n);
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < n; i = next++) {
      const t = performance.now();
      await op(i);
      latencies[i] = performance.now() - t;
    }
  }));
  return { seconds: (performance.now() - start) / 1000, latencies };
}

function podManifest(name: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'bench', tier: 'web' } },
    spec: {
      containers: [{
        name: 'web', command: ['node', 'server.js'], env: [{ name: 'MODE', value: 'bench' }],
        ports: [{ name: 'http', containerPort: 8080 }],
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2 },
      }],
    },
  };
}

/** A user bound to the admin ClusterRole: every request goes through RBAC (a master's would not). */
async function benchUser(url: string): Promise<string> {
  const creds = (await identityEnv(url, 'user', 'bench')).SKIFF_CREDENTIALS!;
  const master = await connectNats({ url, name: 'bench-setup', persistent: false });
  const binding: RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bench-admin' },
    roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'User', name: 'bench' }],
  };
  await new ApiClient(master, { timeoutMs: 30_000, waitForApiserver: true }).create(binding);
  await master.close();
  return creds;
}

/** Every measurement against one store: a single nats-server (R1), or a cluster of three (R3); with security on or off. */
async function measureStore(round: number, store: 'R1' | 'R3', auth: 'on' | 'off'): Promise<Sample[]> {
  const secure = auth === 'on';
  const single = store === 'R1' ? await startNats({ auth: secure }) : undefined;
  const cluster = store === 'R3' ? await startNatsCluster(3, { auth: secure }) : undefined;
  const url = single?.url ?? cluster!.url;
  const natsPids = single ? [single.proc.pid] : cluster!.servers.map((s) => s.proc.pid);
  // The apiserver alone: a scheduler would write to the unbound pods (Unschedulable) under the benchmark's feet.
  const master = await startMaster(url, { SKIFF_KV_STORAGE: 'file', SKIFF_MASTER_COMPONENTS: 'apiserver', ...(secure ? {} : { SKIFF_CREDENTIALS: '', SKIFF_AUDIT_LOG: '' }) });
  const nc = await connectNats({ url, name: 'bench', persistent: true, credentials: secure ? await benchUser(url) : '' });
  // The raw KV path needs a master's rights: it is the same with security on or off.
  const kvNc = secure ? await connectNats({ url, name: 'bench-kv', persistent: true }) : nc;
  const client = new ApiClient(nc, { timeoutMs: 30_000 });
  const kv = await kvNc.jetstream().views.kv('bench-direct', { history: 1, storage: StorageType.File, replicas: natsPids.length });
  const samples: Sample[] = [];
  try {
    // Warm both paths up, so that neither pays for JIT or bucket creation in the figures.
    await measure(300, 16, (i) => client.create(podManifest(`warm-${i}`)));
    await measure(300, 16, (i) => kv.create(`default.warm-${i}`, encodeObject(podManifest(`warm-${i}`))));

    for (const concurrency of CONCURRENCY) {
      const n = concurrency === 1 ? Math.min(OPS, 1000) : OPS;
      const tag = `c${concurrency}`;
      const apiObjects: Pod[] = [];
      const kvRevisions: number[] = [];
      const plan: [Sample['op'], Sample['target'], (i: number) => Promise<unknown>][] = [
        ['create', 'apiserver', async (i) => { apiObjects[i] = await client.create(podManifest(`${tag}-${i}`)); }],
        ['create', 'kv', async (i) => { kvRevisions[i] = await kv.create(`default.${tag}-${i}`, encodeObject(podManifest(`${tag}-${i}`))); }],
        ['update', 'apiserver', async (i) => {
          const o = apiObjects[i];
          apiObjects[i] = await client.update({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, rev: '2' } } });
        }],
        ['update', 'kv', async (i) => {
          const o = podManifest(`${tag}-${i}`);
          kvRevisions[i] = await kv.update(`default.${tag}-${i}`, encodeObject({ ...o, metadata: { ...o.metadata, labels: { rev: '2' } } }), kvRevisions[i]);
        }],
        ['get', 'apiserver', (i) => client.get('pods', `${tag}-${i}`, 'default')],
        ['get', 'kv', (i) => kv.get(`default.${tag}-${i}`)],
      ];
      for (const [op, target, fn] of plan) {
        progress(`round ${round + 1}/${ROUNDS}, ${store}, security ${auth}: ${op} via ${target}, ${concurrency} in flight, ${n} operations`);
        const cpuOf = () => ({ nats: natsPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0), apiserver: cpuSeconds(master.proc.pid), client: cpuSeconds(process.pid) });
        const before = cpuOf();
        const { seconds, latencies } = await measure(n, concurrency, fn);
        const after = cpuOf();
        const cpuUsPerOp = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, ((v - before[k as keyof typeof before]) / n) * 1e6]));
        samples.push({ round, store, auth, op, target, concurrency, ops: n, seconds, opsPerSec: n / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), cpuUsPerOp });
      }
    }
  } finally {
    await nc.close();
    if (kvNc !== nc) await kvNc.close();
    await master.stop();
    await single?.stop();
    await cluster?.stop();
  }
  return samples;
}

const samples: Sample[] = [];
// Security's cost is measured on the first store; replication's with security as it is by default (on).
for (let round = 0; round < ROUNDS; round++) {
  const runs: ['R1' | 'R3', 'on' | 'off'][] = [];
  for (const store of STORES) for (const auth of store === STORES[0] ? AUTHS : [AUTHS[0]]) runs.push([store, auth]);
  if (round % 2 === 1) runs.reverse();
  for (const [store, auth] of runs) samples.push(...await measureStore(round, store, auth));
}

const find = (round: number, op: string, target: string, c: number, store = STORES[0], auth = AUTHS[0]) =>
  samples.find((s) => s.round === round && s.store === store && s.auth === auth && s.op === op && s.target === target && s.concurrency === c)!;
/** A ratio taken within each round, as its median over the rounds, and each round's. */
const overRounds = (ratio: (round: number) => number) => {
  const each = Array.from({ length: ROUNDS }, (_, r) => ratio(r));
  return { median: quantile([...each], 0.5), each };
};
const ratios: Record<string, number> = {};
for (const op of ['create', 'update', 'get']) for (const c of CONCURRENCY) ratios[`${op}@${c}`] = overRounds((r) => find(r, op, 'apiserver', c).opsPerSec / find(r, op, 'kv', c).opsPerSec).median;
const worstRatio64 = Math.min(...['create', 'update', 'get'].map((op) => ratios[`${op}@64`]));
const worstMutatingP99 = quantile(Array.from({ length: ROUNDS }, (_, r) => Math.max(find(r, 'create', 'apiserver', 64).p99Ms, find(r, 'update', 'apiserver', 64).p99Ms)), 0.5);

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
console.log('\nround store auth op      target      in-flight     ops/s    p50 ms    p99 ms   CPU µs/op: nats apiserver client');
for (const s of samples) {
  const cpu = ['nats', 'apiserver', 'client'].map((k) => s.cpuUsPerOp[k].toFixed(0).padStart(k === 'nats' ? 5 : 10)).join('');
  console.log(`${String(s.round + 1).padStart(5)} ${s.store.padEnd(5)} ${s.auth.padEnd(4)} ${s.op.padEnd(7)} ${s.target.padEnd(10)} ${String(s.concurrency).padStart(9)} ${s.opsPerSec.toFixed(0).padStart(9)} ${s.p50Ms.toFixed(2).padStart(9)} ${s.p99Ms.toFixed(2).padStart(9)}            ${cpu}`);
}
// What replication costs: the apiserver's throughput on a three-server store over a one-server store, in the same round.
const replication: Record<string, number> = {};
if (STORES.length === 2) {
  console.log('\napiserver throughput, R3 store / R1 store (the cost of replication), median of rounds [each round]:');
  for (const op of ['create', 'update', 'get']) for (const c of CONCURRENCY) {
    const r = overRounds((round) => find(round, op, 'apiserver', c, 'R3').opsPerSec / find(round, op, 'apiserver', c, 'R1').opsPerSec);
    replication[`${op}@${c}`] = r.median;
    console.log(`  ${`${op}@${c}`.padEnd(10)} ${pct(r.median).padStart(4)}  [${r.each.map(pct).join(' ')}]`);
  }
}
// What security costs: the apiserver's throughput with it over without, in the same round.
const security: Record<string, number> = {};
if (AUTHS.length === 2) {
  console.log(`\napiserver throughput, security on / off (${STORES[0]}; credentials, RBAC, audit log), median of rounds [each round]:`);
  for (const op of ['create', 'update', 'get']) for (const c of CONCURRENCY) {
    const r = overRounds((round) => find(round, op, 'apiserver', c, STORES[0], 'on').opsPerSec / find(round, op, 'apiserver', c, STORES[0], 'off').opsPerSec);
    security[`${op}@${c}`] = r.median;
    console.log(`  ${`${op}@${c}`.padEnd(10)} ${pct(r.median).padStart(4)}  [${r.each.map(pct).join(' ')}]`);
  }
}
console.log(`\napiserver / raw KV throughput (${STORES[0]}, security ${AUTHS[0]}), median of rounds:`);
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(10)} ${pct(v)}`);
const targets = {
  throughputRatioAt64: { value: worstRatio64, min: 0.5, pass: worstRatio64 >= 0.5 },
  mutatingP99At64Ms: { value: worstMutatingP99, max: 20, pass: worstMutatingP99 <= 20 },
  ...(AUTHS.length === 2 ? { securityCostAt64: (() => {
    const worst = Math.min(...['create', 'update', 'get'].map((op) => security[`${op}@64`]));
    return { value: worst, min: 0.95, pass: worst >= 0.95 };
  })() } : {}),
};
console.log(`\ntarget: apiserver >= 50% of raw KV at 64 in flight: worst ${(worstRatio64 * 100).toFixed(0)}% ${targets.throughputRatioAt64.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: mutating p99 <= 20 ms at 64 in flight: worst ${worstMutatingP99.toFixed(2)} ms ${targets.mutatingP99At64Ms.pass ? 'PASS' : 'FAIL'}`);
if (targets.securityCostAt64) console.log(`target: security on >= 95% of off at 64 in flight: worst ${(targets.securityCostAt64.value * 100).toFixed(0)}% ${targets.securityCostAt64.pass ? 'PASS' : 'FAIL'}`);

console.log();
writeResult('apiserver', { opsPerMeasurement: OPS, rounds: ROUNDS, samples, ratios, replication, security, targets });
