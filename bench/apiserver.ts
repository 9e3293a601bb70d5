// Apiserver overhead: create, update and get through a real master process, at 1 and at 64
// requests in flight, and the same operations straight on a JetStream KV bucket in the same run.
// The ratio of the two is what the apiserver costs. On a one-server store (R1) and on a
// three-server one (R3): their ratio is what replication costs. With security on (the servers
// requiring credentials, the client a user authorized by RBAC, an audit line per write) and off:
// their ratio is what security costs.
//
// Every setup (store and security) runs at once, idle but for the one being measured, and every
// measurement is cut into slices taken from each setup in turn, alternating which goes first. On a
// shared machine throughput drifts by 20-30% from one second to the next; measured one setup after
// another, that drift, not the setups, decided the ratios. Taken in turn, slice by slice, it falls
// on all alike. What is left of the noise shows in a control: a second, identical setup with
// security off (--control), whose ratio to the first ought to be 100%. Writes
// bench/results/apiserver.json.
// Usage: tsx bench/apiserver.ts [--ops N] [--store r1|r3|both] [--auth on|off|both] [--slices N] [--control]
import { parseArgs } from 'node:util';
import { StorageType, type KV } from 'nats';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { encodeObject } from '../protocol/codec.ts';
import type { Pod } from '../protocol/types.ts';
import { startMaster, startNats, startNatsCluster } from '../test/harness.ts';
import { identityEnv } from '../test/test-auth.ts';
import type { RoleBinding } from '../protocol/types.ts';
import { processUsage } from '../actors/platform/procfs.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '20000' }, store: { type: 'string', default: 'both' }, auth: { type: 'string', default: 'both' }, slices: { type: 'string', default: '20' }, control: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(`Usage: tsx bench/apiserver.ts [--ops N] [--store r1|r3|both] [--auth on|off|both] [--slices N] [--control]
  --ops    operations per measurement at 64 in flight (default 20000; at most 1000 at 1 in flight)
  --store  the store on one nats-server, three, or both (default both)
  --auth   security on (credentials, RBAC, audit), off, or both (default both; on R1 only when both stores run)
  --slices each measurement cut into this many slices, taken from every setup in turn (default 20)
  --control a second setup, the same as the first store's with security off: their ratio is the noise floor`);
  process.exit(0);
}
const AUTHS: ('on' | 'off')[] = values.auth === 'on' ? ['on'] : values.auth === 'off' ? ['off'] : ['on', 'off'];
const OPS = Number(values.ops);
const SLICES = Number(values.slices);
if (!(Number.isInteger(SLICES) && SLICES >= 1)) throw new Error(`--slices=${values.slices}: use a whole number, 1 or more`);
const STORES: ('R1' | 'R3')[] = values.store === 'r1' ? ['R1'] : values.store === 'r3' ? ['R3'] : ['R1', 'R3'];
const CONCURRENCY = [1, 64];

type Op = 'create' | 'update' | 'get';
type Target = 'apiserver' | 'kv';

interface Sample {
  /** R1: one nats-server; R3: three, the store replicated three ways. */
  store: 'R1' | 'R3';
  /** on: servers requiring credentials, the client a user authorized by RBAC, the audit log written; off: none of it. */
  auth: 'on' | 'off';
  /** 1, or 2 for the control: a second setup like the first, to show what noise alone does to a ratio. */
  copy: number;
  op: Op;
  target: Target;
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** Each slice's throughput, in the order taken. */
  sliceOpsPerSec: number[];
  p50Ms: number;
  p99Ms: number;
  /** CPU time per operation, in microseconds, of each process involved. */
  cpuUsPerOp: Record<string, number>;
}

/** User plus system CPU seconds a process has used so far. */
const cpuSeconds = (pid: number): number => processUsage(pid)?.cpuSeconds ?? NaN;

/** Runs operations `from` to `to` - 1 with `concurrency` in flight; returns the time taken and each one's latency. */
async function measure(from: number, to: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = from;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < to; i = next++) {
      const t = performance.now();
      await op(i);
      latencies.push(performance.now() - t);
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

/** One store and security setting, running: a nats-server (or three), an apiserver, and clients of both paths. */
interface Setup {
  store: 'R1' | 'R3';
  auth: 'on' | 'off';
  copy: number;
  client: ApiClient;
  kv: KV;
  pids: { nats: number[]; apiserver: number };
  /** What the API path created, and the raw path's revisions, by measurement tag. */
  apiObjects: Map<string, Pod[]>;
  kvRevisions: Map<string, number[]>;
  stop(): Promise<void>;
}

async function openSetup(store: 'R1' | 'R3', auth: 'on' | 'off', copy: number): Promise<Setup> {
  progress(`starting ${store}, security ${auth}${copy > 1 ? ' (control)' : ''}`);
  const secure = auth === 'on';
  const single = store === 'R1' ? await startNats({ auth: secure }) : undefined;
  const cluster = store === 'R3' ? await startNatsCluster(3, { auth: secure }) : undefined;
  const url = single?.url ?? cluster!.url;
  // The apiserver alone: a scheduler would write to the unbound pods (Unschedulable) under the benchmark's feet.
  const master = await startMaster(url, { SKIFF_KV_STORAGE: 'file', SKIFF_MASTER_COMPONENTS: 'apiserver', ...(secure ? {} : { SKIFF_CREDENTIALS: '', SKIFF_AUDIT_LOG: '' }) });
  const nc = await connectNats({ url, name: 'bench', persistent: true, credentials: secure ? await benchUser(url) : '' });
  // The raw KV path needs a master's rights: it is the same with security on or off.
  const kvNc = secure ? await connectNats({ url, name: 'bench-kv', persistent: true }) : nc;
  const nats = single ? [single.proc.pid] : cluster!.servers.map((s) => s.proc.pid);
  const client = new ApiClient(nc, { timeoutMs: 30_000 });
  const kv = await kvNc.jetstream().views.kv('bench-direct', { history: 1, storage: StorageType.File, replicas: nats.length });
  // Warm both paths up, so that neither pays for JIT or bucket creation in the figures.
  await measure(0, 300, 16, (i) => client.create(podManifest(`warm-${i}`)));
  await measure(0, 300, 16, (i) => kv.create(`default.warm-${i}`, encodeObject(podManifest(`warm-${i}`))));
  return {
    store, auth, copy, client, kv, pids: { nats, apiserver: master.proc.pid }, apiObjects: new Map(), kvRevisions: new Map(),
    stop: async () => {
      await nc.close();
      if (kvNc !== nc) await kvNc.close();
      await master.stop();
      await single?.stop();
      await cluster?.stop();
    },
  };
}

/** Operation `i` of a measurement tagged `tag`, on one setup. */
function operation(s: Setup, op: Op, target: Target, tag: string): (i: number) => Promise<unknown> {
  const objects = s.apiObjects.get(tag) ?? s.apiObjects.set(tag, []).get(tag)!;
  const revisions = s.kvRevisions.get(tag) ?? s.kvRevisions.set(tag, []).get(tag)!;
  const key = (i: number) => `default.${tag}-${i}`;
  if (target === 'apiserver') {
    if (op === 'create') return async (i) => { objects[i] = await s.client.create(podManifest(`${tag}-${i}`)); };
    if (op === 'update') return async (i) => {
      const o = objects[i];
      objects[i] = await s.client.update({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, rev: '2' } } });
    };
    return (i) => s.client.get('pods', `${tag}-${i}`, 'default');
  }
  if (op === 'create') return async (i) => { revisions[i] = await s.kv.create(key(i), encodeObject(podManifest(`${tag}-${i}`))); };
  if (op === 'update') return async (i) => {
    const o = podManifest(`${tag}-${i}`);
    revisions[i] = await s.kv.update(key(i), encodeObject({ ...o, metadata: { ...o.metadata, labels: { rev: '2' } } }), revisions[i]);
  };
  return (i) => s.kv.get(key(i));
}

const PLAN: [Op, Target][] = [['create', 'apiserver'], ['create', 'kv'], ['update', 'apiserver'], ['update', 'kv'], ['get', 'apiserver'], ['get', 'kv']];

/** Every measurement, each cut into slices taken from every setup in turn. */
async function measureAll(setups: Setup[]): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const concurrency of CONCURRENCY) {
    const n = concurrency === 1 ? Math.min(OPS, 1000) : OPS;
    const tag = `c${concurrency}`;
    for (const [op, target] of PLAN) {
      progress(`${op} via ${target}, ${concurrency} in flight, ${n} operations on each of ${setups.length} setups, in ${SLICES} slices`);
      const acc = setups.map(() => ({ seconds: 0, latencies: [] as number[], slices: [] as number[], cpu: { nats: 0, apiserver: 0, client: 0 } }));
      const fns = setups.map((s) => operation(s, op, target, tag));
      for (let slice = 0; slice < SLICES; slice++) {
        const from = Math.floor((n * slice) / SLICES);
        const to = Math.floor((n * (slice + 1)) / SLICES);
        const order = setups.map((_, k) => k);
        if (slice % 2 === 1) order.reverse();
        for (const k of order) {
          const s = setups[k];
          const cpuOf = () => ({ nats: s.pids.nats.reduce((sum, pid) => sum + cpuSeconds(pid), 0), apiserver: cpuSeconds(s.pids.apiserver), client: cpuSeconds(process.pid) });
          const before = cpuOf();
          const { seconds, latencies } = await measure(from, to, concurrency, fns[k]);
          const after = cpuOf();
          const a = acc[k];
          a.seconds += seconds;
          a.latencies.push(...latencies);
          a.slices.push((to - from) / seconds);
          for (const key of ['nats', 'apiserver', 'client'] as const) a.cpu[key] += after[key] - before[key];
        }
      }
      setups.forEach((s, k) => {
        const a = acc[k];
        const cpuUsPerOp = Object.fromEntries(Object.entries(a.cpu).map(([key, v]) => [key, (v / n) * 1e6]));
        samples.push({
          store: s.store, auth: s.auth, copy: s.copy, op, target, concurrency, ops: n, seconds: a.seconds, opsPerSec: n / a.seconds, sliceOpsPerSec: a.slices,
          p50Ms: quantile(a.latencies, 0.5), p99Ms: quantile(a.latencies, 0.99), cpuUsPerOp,
        });
      });
    }
  }
  return samples;
}

// Security's cost is measured on the first store; replication's with security as it is by default (on).
const wanted: ['R1' | 'R3', 'on' | 'off', number][] = [];
for (const store of STORES) for (const auth of store === STORES[0] ? AUTHS : [AUTHS[0]]) wanted.push([store, auth, 1]);
if (values.control) wanted.push([STORES[0], 'off', 2]);
const setups: Setup[] = [];
let samples: Sample[];
try {
  for (const [store, auth, copy] of wanted) setups.push(await openSetup(store, auth, copy));
  samples = await measureAll(setups);
} finally {
  for (const s of setups) await s.stop();
}

const find = (op: string, target: string, c: number, store = STORES[0], auth = AUTHS[0], copy = 1) =>
  samples.find((s) => s.store === store && s.auth === auth && s.copy === copy && s.op === op && s.target === target && s.concurrency === c)!;
const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
/** The ratio of two samples' throughput, over the whole measurement, and the spread of their slice-by-slice ratios. */
const ratioOf = (a: Sample, b: Sample) => {
  const each = a.sliceOpsPerSec.map((v, i) => v / b.sliceOpsPerSec[i]);
  return { ratio: a.opsPerSec / b.opsPerSec, q1: quantile(each, 0.25), q3: quantile(each, 0.75) };
};
const show = (label: string, r: ReturnType<typeof ratioOf>) => console.log(`  ${label.padEnd(10)} ${pct(r.ratio).padStart(4)}   slices' middle half ${pct(r.q1)}-${pct(r.q3)}`);

const ratios: Record<string, number> = {};
for (const op of ['create', 'update', 'get']) for (const c of CONCURRENCY) ratios[`${op}@${c}`] = find(op, 'apiserver', c).opsPerSec / find(op, 'kv', c).opsPerSec;
const worstRatio64 = Math.min(...['create', 'update', 'get'].map((op) => ratios[`${op}@64`]));
const worstMutatingP99 = Math.max(find('create', 'apiserver', 64).p99Ms, find('update', 'apiserver', 64).p99Ms);

console.log('\nstore auth op      target      in-flight     ops/s    p50 ms    p99 ms   CPU µs/op: nats apiserver client');
for (const s of samples) {
  const cpu = ['nats', 'apiserver', 'client'].map((k) => s.cpuUsPerOp[k].toFixed(0).padStart(k === 'nats' ? 5 : 10)).join('');
  console.log(`${s.store.padEnd(5)} ${(s.copy > 1 ? `${s.auth}*` : s.auth).padEnd(4)} ${s.op.padEnd(7)} ${s.target.padEnd(10)} ${String(s.concurrency).padStart(9)} ${s.opsPerSec.toFixed(0).padStart(9)} ${s.p50Ms.toFixed(2).padStart(9)} ${s.p99Ms.toFixed(2).padStart(9)}            ${cpu}`);
}
/**
 * The apiserver's throughput in one setup over another's, for every operation and concurrency,
 * printed under `title`; empty when `run` is false (that pair was not measured).
 */
function ratioTable(run: boolean, title: string, a: (op: string, c: number) => Sample, b: (op: string, c: number) => Sample): Record<string, number> {
  const out: Record<string, number> = {};
  if (!run) return out;
  console.log(`\n${title}`);
  for (const op of ['create', 'update', 'get']) for (const c of CONCURRENCY) {
    const r = ratioOf(a(op, c), b(op, c));
    out[`${op}@${c}`] = r.ratio;
    show(`${op}@${c}`, r);
  }
  return out;
}
// What replication costs: the apiserver's throughput on a three-server store over a one-server store.
const replication = ratioTable(STORES.length === 2, 'apiserver throughput, R3 store / R1 store (the cost of replication):',
  (op, c) => find(op, 'apiserver', c, 'R3'), (op, c) => find(op, 'apiserver', c, 'R1'));
// What security costs: the apiserver's throughput with it over without.
const security = ratioTable(AUTHS.length === 2, `apiserver throughput, security on / off (${STORES[0]}; credentials, RBAC, audit log):`,
  (op, c) => find(op, 'apiserver', c, STORES[0], 'on'), (op, c) => find(op, 'apiserver', c, STORES[0], 'off'));
// The control: the same setup twice, so what a ratio does by chance alone.
const control = ratioTable(values.control === true, `control: apiserver throughput, ${STORES[0]} security off / an identical second setup (off*); 100% but for noise:`,
  (op, c) => find(op, 'apiserver', c, STORES[0], 'off'), (op, c) => find(op, 'apiserver', c, STORES[0], 'off', 2));
console.log(`\napiserver / raw KV throughput (${STORES[0]}, security ${AUTHS[0]}):`);
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
writeResult('apiserver', { opsPerMeasurement: OPS, slices: SLICES, samples, ratios, replication, security, control, targets });
