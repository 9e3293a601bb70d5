// Scheduling throughput with hollow nodes, as Kubernetes' kubemark and KWOK measure it: N node
// actors in this one process run the real kubelet on a fake runtime (containers run the moment
// they start), against a real apiserver, scheduler and controller-manager, each in a process of
// its own so that their CPU and memory can be told apart. Deployments make the pods; a watch sees
// each one bound and Running. Writes bench/results/scheduler.json.
// Usage: tsx bench/scheduler.ts [--nodes 1000] [--pods 10000] [--deployments 100]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createActor } from 'xstate';
import { ApiClient } from '../actors/lib/client.ts';
import { silentLogger } from '../actors/lib/log.ts';
import { connectNats } from '../actors/lib/nats.ts';
import { CLOCK_TICKS_PER_SECOND, PAGE_SIZE, parseProcStat } from '../actors/lib/procfs.ts';
import { Kubelet, kubeletMachine, WATCHDOG_MODES } from '../actors/kubelet/index.ts';
import { FakeRuntime, passingProber } from '../actors/kubelet/fake-runtime.ts';
import { kubeletConfig } from '../actors/kubelet/index.ts';
import { loadConfig } from '../protocol/config.ts';
import type { Deployment, Node, Pod } from '../protocol/types.ts';
import { ROOT, startMaster, startNats, waitFor } from '../test/harness.ts';

const { values } = parseArgs({ options: {
  nodes: { type: 'string', default: '1000' }, pods: { type: 'string', default: '10000' }, deployments: { type: 'string', default: '100' },
  help: { type: 'boolean', short: 'h' },
} });
if (values.help) {
  console.log('Usage: tsx bench/scheduler.ts [--nodes N] [--pods N] [--deployments N]');
  process.exit(0);
}
const NODES = Number(values.nodes);
const PODS = Number(values.pods);
const DEPLOYMENTS = Number(values.deployments);
const progress = (t: string) => process.stderr.write(`bench: ${t}\n`);

function usage(pid: number): { cpuSeconds: number; rssMB: number } {
  const s = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { cpuSeconds: s.cpuTicks / CLOCK_TICKS_PER_SECOND, rssMB: (s.rssPages * PAGE_SIZE) / 2 ** 20 };
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// Hollow nodes renew less often, as kubemark's do, and the node controller is told so.
const HOLLOW = { SKIFF_NODE_GRACE_MS: '120000', SKIFF_WATCH_HEARTBEAT_MS: '5000' };
const nats = await startNats();
progress('starting the apiserver, scheduler and controller-manager, each in its own process');
const api = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'apiserver', SKIFF_NODE_NAME: 'bench-apiserver', SKIFF_KV_STORAGE: 'file', ...(process.env.PROFILE_APISERVER ? { SKIFF_CPU_PROFILE: process.env.PROFILE_APISERVER } : {}) });
const sched = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'scheduler', SKIFF_NODE_NAME: 'bench-scheduler', ...(process.env.PROFILE_SCHEDULER ? { SKIFF_CPU_PROFILE: process.env.PROFILE_SCHEDULER } : {}) });
const cm = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'controller-manager', SKIFF_NODE_NAME: 'bench-controllers', ...(process.env.PROFILE_CONTROLLERS ? { SKIFF_CPU_PROFILE: process.env.PROFILE_CONTROLLERS } : {}) });
const nc = await connectNats({ url: nats.url, name: 'bench', persistent: true });
const client = new ApiClient(nc, { timeoutMs: 60_000 });

const cfg = loadConfig({ ...process.env, ...HOLLOW, SKIFF_NODE_LEASE_RENEW_MS: '20000', SKIFF_NODE_STATUS_MS: '60000' });
progress(`starting ${NODES} hollow nodes`);
const kubelets = [];
for (let i = 0; i < NODES; i++) {
  const name = `hollow-${i}`;
  const kcfg = { ...kubeletConfig(name, cfg, WATCHDOG_MODES, { SKIFF_NODE_CPU: '16', SKIFF_NODE_MEMORY: '64Gi' }), noDisk: true, dataDir: '/nonexistent' };
  const kubelet = new Kubelet(kcfg, {
    client: new ApiClient(nc, { origin: name, timeoutMs: 60_000, waitForApiserver: true }),
    runtime: new FakeRuntime(), prober: passingProber, log: silentLogger, registry: new Registry(),
  });
  const actor = createActor(kubeletMachine, { input: { kubelet, log: silentLogger, retryMs: 1000, logRotateMs: 60_000, serve: () => () => {} } }).start();
  kubelets.push(actor);
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
}
await waitFor(`${NODES} Ready nodes`, async () => (await client.list<Node>('nodes')).items.length >= NODES, 120_000, 500);
progress('nodes registered');

const created = new Map<string, number>();
const bound = new Map<string, number>();
const running = new Map<string, number>();
const watch = client.watch('pods', { deadlineMs: 30_000 }, (u) => {
  if (u.type !== 'ADDED' && u.type !== 'MODIFIED') return;
  const p = u.object as Pod;
  const name = p.metadata.name!;
  const now = Date.now();
  if (!created.has(name)) created.set(name, Date.parse(p.metadata.creationTimestamp ?? '') || now);
  if (p.spec.nodeName && !bound.has(name)) bound.set(name, now);
  if (p.status?.phase === 'Running' && !running.has(name)) running.set(name, now);
});

const before = { api: usage(api.proc.pid), sched: usage(sched.proc.pid), cm: usage(cm.proc.pid), nodes: usage(process.pid), nats: usage(nats.proc.pid) };
const replicas = Math.ceil(PODS / DEPLOYMENTS);
progress(`creating ${DEPLOYMENTS} deployments of ${replicas} replicas`);
const t0 = Date.now();
await Promise.all(Array.from({ length: DEPLOYMENTS }, (_, i) => client.create<Deployment>({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `load-${i}` },
  spec: {
    replicas, selector: { matchLabels: { app: `load-${i}` } },
    template: { metadata: { labels: { app: `load-${i}` } }, spec: { containers: [{ name: 'c', command: ['sleep', '3600'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
  },
})));
let last = 0;
await waitFor(`${PODS} pods Running`, () => {
  if (running.size - last >= 1000) {
    last = running.size;
    progress(`${running.size} Running after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return running.size >= PODS;
}, 600_000, 200);
const t1 = Math.max(...running.values());
// What the apiserver was asked, per pod: where the writes come from.
const requests: Record<string, number> = {};
for (const line of (await api.metrics()).split('\n')) {
  const m = /^skiff_apiserver_requests_total\{resource="([^"]+)",verb="([^"]+)",code="(\d+)"[^}]*\} (\d+)/.exec(line);
  if (m && m[2] !== 'watch') requests[`${m[1]}.${m[2]}${m[3] === '200' ? '' : ` (${m[3]})`}`] = (requests[`${m[1]}.${m[2]}`] ?? 0) + Number(m[4]);
}
const after = { api: usage(api.proc.pid), sched: usage(sched.proc.pid), cm: usage(cm.proc.pid), nodes: usage(process.pid), nats: usage(nats.proc.pid) };

const toBound = [...bound].map(([n, t]) => t - created.get(n)!).sort((a, b) => a - b);
const toRunning = [...running].map(([n, t]) => t - created.get(n)!).sort((a, b) => a - b);
const seconds = (t1 - t0) / 1000;
const podsPerSecond = PODS / seconds;
const proc = (k: keyof typeof before) => ({ cpuSeconds: Number((after[k].cpuSeconds - before[k].cpuSeconds).toFixed(1)), rssMB: Number(after[k].rssMB.toFixed(0)) });
const result = {
  benchmark: 'scheduler', date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version },
  nodes: NODES, pods: PODS, deployments: DEPLOYMENTS,
  seconds: Number(seconds.toFixed(2)), podsPerSecond: Number(podsPerSecond.toFixed(0)),
  createToBoundMs: { p50: pct(toBound, 50), p99: pct(toBound, 99) },
  createToRunningMs: { p50: pct(toRunning, 50), p99: pct(toRunning, 99) },
  requestsPerPod: Object.fromEntries(Object.entries(requests).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, Number((v / PODS).toFixed(2))])),
  processes: { apiserver: proc('api'), scheduler: proc('sched'), controllerManager: proc('cm'), hollowNodes: proc('nodes'), nats: proc('nats') },
  targets: {
    podsPerSecond: { min: 1000, pass: podsPerSecond >= 1000 },
    p99CreateToBoundMs: { max: 1000, pass: pct(toBound, 99) <= 1000 },
  },
};

watch.stop();
for (const k of kubelets) k.stop();
await nc.close();
for (const m of [cm, sched, api]) await m.stop();
await nats.stop();

console.log(`\n${PODS} pods from ${DEPLOYMENTS} Deployments on ${NODES} hollow nodes: all Running ${result.seconds} s after the first create`);
console.log(`throughput: ${result.podsPerSecond} pods/s create → Running`);
console.log(`create → bound: p50 ${result.createToBoundMs.p50} ms, p99 ${result.createToBoundMs.p99} ms`);
console.log(`create → Running: p50 ${result.createToRunningMs.p50} ms, p99 ${result.createToRunningMs.p99} ms`);
console.log(`apiserver requests per pod: ${Object.entries(result.requestsPerPod).filter(([, v]) => v >= 0.01).map(([k, v]) => `${k} ${v}`).join(', ')}`);
for (const [k, v] of Object.entries(result.processes)) console.log(`  ${k.padEnd(18)} CPU ${String(v.cpuSeconds).padStart(6)} s   RSS ${String(v.rssMB).padStart(5)} MB`);
console.log(`target: >= 1000 pods/s: ${result.targets.podsPerSecond.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: p99 create → bound <= 1 s: ${result.targets.p99CreateToBoundMs.pass ? 'PASS' : 'FAIL'}`);
const out = join(ROOT, 'bench/results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'scheduler.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('wrote bench/results/scheduler.json');
process.exit(0);
