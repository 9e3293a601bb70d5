// Scheduling throughput with hollow nodes, as Kubernetes' kubemark and KWOK measure it: N node
// actors in one process (bench/hollow-nodes.ts) run the real kubelet on a fake runtime (containers
// run the moment they start), against a real apiserver, scheduler and controller-manager, each in
// a process of its own so that their CPU and memory can be told apart. Deployments make the pods;
// a watch in this process, which does nothing else, sees each one bound and Running. Writes
// bench/results/scheduler.json.
// Usage: tsx bench/scheduler.ts [--nodes 1000] [--pods 10000] [--deployments 100] [--hollow-processes 1]
import { parseArgs } from 'node:util';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { processUsage } from '../actors/platform/procfs.ts';
import { progress, quantile, writeResult } from './stats.ts';
import type { Deployment, Node, Pod } from '../protocol/types.ts';
import { NODE_FLAGS, spawnProc, startMaster, startNats, waitFor } from '../test/harness.ts';

const { values } = parseArgs({ options: {
  nodes: { type: 'string', default: '1000' }, pods: { type: 'string', default: '10000' }, deployments: { type: 'string', default: '100' },
  'hollow-processes': { type: 'string', default: '1' },
  help: { type: 'boolean', short: 'h' },
} });
if (values.help) {
  console.log('Usage: tsx bench/scheduler.ts [--nodes N] [--pods N] [--deployments N] [--hollow-processes N]');
  process.exit(0);
}
const NODES = Number(values.nodes);
const PODS = Number(values.pods);
const DEPLOYMENTS = Number(values.deployments);
const HOLLOW_PROCESSES = Math.max(1, Number(values['hollow-processes']));

function usage(pid: number): { cpuSeconds: number; rssMB: number } {
  const u = processUsage(pid)!;
  return { cpuSeconds: u.cpuSeconds, rssMB: u.rssBytes / 2 ** 20 };
}

// Hollow nodes renew less often, as kubemark's do, and the node controller is told so.
const HOLLOW = { SKIFF_NODE_GRACE_MS: '120000', SKIFF_WATCH_HEARTBEAT_MS: '5000' };
const nats = await startNats();
progress('starting the apiserver, scheduler and controller-manager, each in its own process');
const api = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'apiserver', SKIFF_NODE_NAME: 'bench-apiserver', SKIFF_KV_STORAGE: 'file', ...(process.env.PROFILE_APISERVER ? { SKIFF_CPU_PROFILE: process.env.PROFILE_APISERVER } : {}) });
const sched = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'scheduler', SKIFF_NODE_NAME: 'bench-scheduler', ...(process.env.PROFILE_SCHEDULER ? { SKIFF_CPU_PROFILE: process.env.PROFILE_SCHEDULER } : {}) });
const cm = await startMaster(nats.url, { ...HOLLOW, SKIFF_MASTER_COMPONENTS: 'controller-manager', SKIFF_NODE_NAME: 'bench-controllers', ...(process.env.PROFILE_CONTROLLERS ? { SKIFF_CPU_PROFILE: process.env.PROFILE_CONTROLLERS } : {}) });
const nc = await connectNats({ url: nats.url, name: 'bench', persistent: true });
const client = new ApiClient(nc, { timeoutMs: 60_000 });

// Kubemark runs its hollow nodes in many processes; here they are split over HOLLOW_PROCESSES.
const share = Math.ceil(NODES / HOLLOW_PROCESSES);
progress(`starting ${NODES} hollow nodes in ${HOLLOW_PROCESSES} processes of their own`);
const hollows = Array.from({ length: HOLLOW_PROCESSES }, (_, i) => spawnProc(process.execPath, [
  ...NODE_FLAGS, '--import', 'tsx', 'bench/hollow-nodes.ts', '--first', String(i * share), '--nodes', String(Math.max(0, Math.min(share, NODES - i * share))),
], {
  env: {
    ...HOLLOW, SKIFF_NATS_URL: nats.url, SKIFF_NODE_LEASE_RENEW_MS: '20000', SKIFF_NODE_STATUS_MS: '60000',
    ...(process.env.PROFILE_HOLLOW ? { SKIFF_CPU_PROFILE: `${process.env.PROFILE_HOLLOW}.${i}` } : {}),
    ...(process.env.HEAP_PROFILE_HOLLOW ? { SKIFF_HEAP_PROFILE: `${process.env.HEAP_PROFILE_HOLLOW}.${i}` } : {}),
  },
}));
await waitFor('hollow nodes started', () => hollows.every((h) => {
  if (h.child.exitCode !== null) throw new Error(`hollow nodes exited:\n${h.output()}`);
  return h.output().includes('ready');
}), 120_000, 200);
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

const procs = { api: [api.proc.pid], sched: [sched.proc.pid], cm: [cm.proc.pid], nodes: hollows.map((h) => h.pid), nats: [nats.proc.pid], observer: [process.pid] };
/** CPU and RSS of each part, summed over its processes. */
const usages = () => Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, pids.map(usage).reduce((a, b) => ({ cpuSeconds: a.cpuSeconds + b.cpuSeconds, rssMB: a.rssMB + b.rssMB }))])) as Record<keyof typeof procs, ReturnType<typeof usage>>;
const before = usages();
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
  if (!m || m[2] === 'watch') continue;
  const key = `${m[1]}.${m[2]}${m[3] === '200' ? '' : ` (${m[3]})`}`;
  requests[key] = (requests[key] ?? 0) + Number(m[4]);
}
const after = usages();

const toBound = [...bound].map(([n, t]) => t - created.get(n)!);
const toRunning = [...running].map(([n, t]) => t - created.get(n)!);
const seconds = (t1 - t0) / 1000;
// How far each stage had got, every half second: where the time goes between create and Running.
const upTo = (m: Map<string, number>, t: number) => { let n = 0; for (const v of m.values()) if (v - t0 <= t) n++; return n; };
const timeline = Array.from({ length: Math.ceil((t1 - t0) / 500) }, (_, i) => {
  const t = (i + 1) * 500;
  return { ms: t, created: upTo(created, t), bound: upTo(bound, t), running: upTo(running, t) };
});
const podsPerSecond = PODS / seconds;
const proc = (k: keyof typeof before) => ({ cpuSeconds: Number((after[k].cpuSeconds - before[k].cpuSeconds).toFixed(1)), rssMB: Number(after[k].rssMB.toFixed(0)) });
const result = {
  nodes: NODES, pods: PODS, deployments: DEPLOYMENTS, hollowProcesses: HOLLOW_PROCESSES,
  seconds: Number(seconds.toFixed(2)), podsPerSecond: Number(podsPerSecond.toFixed(0)),
  createToBoundMs: { p50: quantile(toBound, 0.5), p99: quantile(toBound, 0.99) },
  createToRunningMs: { p50: quantile(toRunning, 0.5), p99: quantile(toRunning, 0.99) },
  timeline,
  requestsPerPod: Object.fromEntries(Object.entries(requests).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, Number((v / PODS).toFixed(2))])),
  processes: { apiserver: proc('api'), scheduler: proc('sched'), controllerManager: proc('cm'), hollowNodes: proc('nodes'), nats: proc('nats'), observer: proc('observer') },
  targets: {
    podsPerSecond: { min: 1000, pass: podsPerSecond >= 1000 },
    p99CreateToBoundMs: { max: 1000, pass: quantile(toBound, 0.99) <= 1000 },
  },
};

watch.stop();
await Promise.all(hollows.map((h) => h.stop(10_000)));
await nc.close();
for (const m of [cm, sched, api]) await m.stop();
await nats.stop();

console.log(`\n${PODS} pods from ${DEPLOYMENTS} Deployments on ${NODES} hollow nodes: all Running ${result.seconds} s after the first create`);
console.log(`throughput: ${result.podsPerSecond} pods/s create → Running`);
console.log(`create → bound: p50 ${result.createToBoundMs.p50} ms, p99 ${result.createToBoundMs.p99} ms`);
console.log(`create → Running: p50 ${result.createToRunningMs.p50} ms, p99 ${result.createToRunningMs.p99} ms`);
console.log(`by second (created / bound / Running): ${timeline.filter((_, i) => i % 2 === 1 || i === timeline.length - 1).map((p) => `${p.ms / 1000} s ${p.created}/${p.bound}/${p.running}`).join(', ')}`);
console.log(`apiserver requests per pod: ${Object.entries(result.requestsPerPod).filter(([, v]) => v >= 0.01).map(([k, v]) => `${k} ${v}`).join(', ')}`);
for (const [k, v] of Object.entries(result.processes)) console.log(`  ${k.padEnd(18)} CPU ${String(v.cpuSeconds).padStart(6)} s   RSS ${String(v.rssMB).padStart(5)} MB`);
console.log(`target: >= 1000 pods/s: ${result.targets.podsPerSecond.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: p99 create → bound <= 1 s: ${result.targets.p99CreateToBoundMs.pass ? 'PASS' : 'FAIL'}`);
writeResult('scheduler', result);
process.exit(0);
