// Pod startup on a real local cluster: nats, a master and 3 node processes. Pods are created with
// spec.nodeName already set, so the kubelet is measured without the scheduler; each runs a tiny
// process. A watch sees each pod reach Running. Reports p50/p99 of create → Running and each
// kubelet's CPU per pod started (user and system time apart) and RSS at 100 pods. The processes
// are the compiled ones in dist/ (built first unless current), as a cluster runs them; --sources runs them
// through tsx. Writes bench/results/pod-startup.json.
// Usage: tsx bench/pod-startup.ts [--pods 300] [--rate 100] [--sources] [--profile DIR]   (rate: pods created per second)
import { parseArgs } from 'node:util';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLOCK_TICKS_PER_SECOND, processUsage } from '../actors/platform/procfs.ts';
import { ensureDist } from '../infra/build.ts';
import { progress, quantile, writeResult } from './stats.ts';
import type { Pod } from '../protocol/types.ts';
import { startMaster, startNats, startNode, waitFor, type NodeProc } from '../test/harness.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '300' }, rate: { type: 'string', default: '100' }, sources: { type: 'boolean' }, profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/pod-startup.ts [--pods N] [--rate PODS_PER_SECOND] [--sources] [--profile DIR]   (DIR: a CPU profile of each kubelet)');
  process.exit(0);
}
const PODS = Number(values.pods);
const RATE = Number(values.rate);
const NODES = 3;

const compiled = !values.sources;
if (compiled) await ensureDist();

/** User and system CPU seconds a process has used so far. */
function cpuTimes(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

const nats = await startNats();
const master = await startMaster(nats.url, {}, { compiled });
const nodes: NodeProc[] = [];
for (let i = 1; i <= NODES; i++) {
  const env = values.profile ? { SKIFF_CPU_PROFILE: join(resolve(values.profile), `bench-node-${i}.cpuprofile`) } : {};
  nodes.push(await startNode(nats.url, `bench-node-${i}`, { compiled, env }));
}
const nc = await connectNats({ url: nats.url, name: 'bench', persistent: true });
const client = new ApiClient(nc, { timeoutMs: 30_000 });

const createdAt = new Map<string, number>();
const runningAt = new Map<string, number>();
const watch = client.watch('pods', { labelSelector: 'bench=startup', deadlineMs: 5000 }, (u) => {
  if ((u.type === 'ADDED' || u.type === 'MODIFIED') && (u.object as Pod).status?.phase === 'Running') {
    const name = u.object.metadata.name!;
    if (!runningAt.has(name)) runningAt.set(name, performance.now());
  }
});

let result;
try {
  const before = nodes.map((n) => cpuTimes(n.proc.pid));
  progress(`creating ${PODS} pods at ${RATE}/s on ${NODES} nodes`);
  const started = performance.now();
  const creates: Promise<unknown>[] = [];
  for (let i = 0; i < PODS; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const name = `startup-${i}`;
    const pod: Pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'startup' } },
      spec: { nodeName: nodes[i % NODES].name, containers: [{ name: 'c', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 },
    };
    createdAt.set(name, performance.now());
    creates.push(client.create(pod));
  }
  await Promise.all(creates);
  await waitFor(`all ${PODS} pods Running`, () => runningAt.size >= PODS, 120_000, 100);
  const rampSeconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 2000)); // let status writes and GC settle before reading RSS
  const after = nodes.map((n) => ({ ...cpuTimes(n.proc.pid), rssBytes: processUsage(n.proc.pid)!.rssBytes }));
  const latencies = [...runningAt].map(([name, t]) => t - createdAt.get(name)!).sort((a, b) => a - b);
  const perNode = nodes.map((n, i) => {
    const user = after[i].user - before[i].user;
    const system = after[i].system - before[i].system;
    const pods = PODS / NODES;
    return {
      node: n.name,
      pods,
      cpuSecondsDuringRamp: Number((user + system).toFixed(2)),
      cpuMsPerPodStart: { total: Number((((user + system) * 1000) / pods).toFixed(2)), user: Number(((user * 1000) / pods).toFixed(2)), system: Number(((system * 1000) / pods).toFixed(2)) },
      rssMB: Number((after[i].rssBytes / 2 ** 20).toFixed(1)),
    };
  });
  const cpuMsPerPodStart = Number((perNode.reduce((n, k) => n + k.cpuMsPerPodStart.total, 0) / NODES).toFixed(2));
  result = {
    pods: PODS, nodes: NODES, createRatePerSecond: RATE, programs: compiled ? 'dist' : 'tsx', cpuMsPerPodStart, rampSeconds: Number(rampSeconds.toFixed(2)),
    createToRunningMs: { p50: Number(quantile(latencies, 0.5).toFixed(1)), p99: Number(quantile(latencies, 0.99).toFixed(1)), max: Number(latencies[latencies.length - 1].toFixed(1)) },
    kubelets: perNode,
    targets: {
      p99CreateToRunningMs: { max: 1000, pass: quantile(latencies, 0.99) <= 1000 },
      kubeletRssMBAt100Pods: { max: 120, worst: Math.max(...perNode.map((p) => p.rssMB)), pass: perNode.every((p) => p.rssMB <= 120) },
    },
  };
  progress('deleting the pods');
  await Promise.all([...createdAt.keys()].map((name) => client.delete('pods', name, 'default')));
  await waitFor('the pods to be gone', async () => (await client.list('pods', { labelSelector: 'bench=startup' })).items.length === 0, 60_000, 250);
} finally {
  watch.stop();
  await nc.close();
  for (const n of nodes) await n.stop();
  await master.stop();
  await nats.stop();
}

console.log(`\n${PODS} pods on ${NODES} nodes, created at ${RATE}/s; all Running ${result.rampSeconds} s after the first create`);
console.log(`create → Running: p50 ${result.createToRunningMs.p50} ms, p99 ${result.createToRunningMs.p99} ms, max ${result.createToRunningMs.max} ms`);
for (const k of result.kubelets) {
  const c = k.cpuMsPerPodStart;
  console.log(`  ${k.node}: ${k.pods} pods, RSS ${k.rssMB} MB, CPU ${k.cpuSecondsDuringRamp} s during the ramp: ${c.total} ms per pod started (user ${c.user}, system ${c.system})`);
}
console.log(`kubelet CPU per pod started: ${result.cpuMsPerPodStart} ms (mean of the ${NODES} kubelets; programs from ${result.programs})`);
console.log(`target: p99 create → Running <= 1 s: ${result.targets.p99CreateToRunningMs.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: kubelet RSS <= 120 MB at 100 pods: worst ${result.targets.kubeletRssMBAt100Pods.worst} MB ${result.targets.kubeletRssMBAt100Pods.pass ? 'PASS' : 'FAIL'}`);
writeResult('pod-startup', result);
process.exit(0);
