// A node pool growing for pending pods, on a real local cluster: nats, one master (the compiled
// processes) and no node. A NodePool (min 0, 2 CPUs a node) and a Deployment of --pods pods of
// 110m, which need 3 nodes. Times, from the first pod found unschedulable:
// - to the pool's decision (its first instance recorded by the provider);
// - to the nodes Ready (all 3);
// - to all pods Running.
// Targets (issue 19): decision within 2 s (cluster-autoscaler scans every 10 s); all pods Running
// within 10 s of the first pending. --runs repeats it on a fresh cluster each time.
// Writes bench/results/nodepool.json.
// Usage: tsx bench/nodepool.ts [--pods 50] [--runs 3] [--sources]
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { ensureDist } from '../infra/build.ts';
import type { Deployment, Node, NodePool, Pod } from '../protocol/types.ts';
import { startMaster, startNats, tempDir, waitFor, type Master, type Nats } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '50' }, runs: { type: 'string', default: '3' }, sources: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/nodepool.ts [--pods N] [--runs N] [--sources]');
  process.exit(0);
}
const PODS = Number(values.pods);
const RUNS = Number(values.runs);
const POD_CPU_MILLIS = 110;
const NODE_CPU = 2;
const NEEDED = Math.ceil(PODS / Math.floor((NODE_CPU * 1000) / POD_CPU_MILLIS));
const compiled = !values.sources;
if (compiled) await ensureDist();

interface Run {
  decisionS: number;
  nodesReadyS: number;
  allRunningS: number;
  nodes: number;
}

async function once(): Promise<Run> {
  let nats: Nats | undefined;
  let master: Master | undefined;
  let client: ApiClient | undefined;
  const cloudDir = tempDir('skiff-bench-cloud-');
  const instances = () => {
    try {
      return readdirSync(join(cloudDir, 'instances')).filter((f) => f.endsWith('.json')).length;
    } catch {
      return 0;
    }
  };
  try {
    nats = await startNats();
    master = await startMaster(nats.url, { SKIFF_CLOUD_DIR: cloudDir }, { compiled });
    client = new ApiClient(await connectNats({ url: nats.url, name: 'bench', persistent: true }), { timeoutMs: 10_000 });
    const c = client;
    await c.create<NodePool>({
      apiVersion: 'skiff.io/v1', kind: 'NodePool', metadata: { name: 'bench' },
      spec: { minNodes: 0, maxNodes: NEEDED + 2, consolidateAfter: '5m', template: { labels: { pool: 'bench' }, capacity: { cpu: String(NODE_CPU), memory: '8Gi' } } },
    });
    let firstPending: number | undefined;
    let decided: number | undefined;
    let allReady: number | undefined;
    let allRunning: number | undefined;
    const running = new Set<string>();
    const readyNodes = new Set<string>();
    const pods = c.watch('pods', { labelSelector: 'app=bench', deadlineMs: 5000 }, (u) => {
      if (!('object' in u)) return;
      const p = u.object as Pod;
      if (firstPending === undefined && p.status?.conditions?.some((x) => x.type === 'PodScheduled' && x.reason === 'Unschedulable')) firstPending = performance.now();
      if (p.status?.phase === 'Running') running.add(p.metadata.name!);
      if (allRunning === undefined && running.size === PODS) allRunning = performance.now();
    });
    const nodes = c.watch('nodes', { deadlineMs: 5000 }, (u) => {
      if (!('object' in u)) return;
      const n = u.object as Node;
      if (n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') && !n.spec.taints?.length) readyNodes.add(n.metadata.name!);
      if (allReady === undefined && readyNodes.size >= NEEDED) allReady = performance.now();
    });
    const poll = setInterval(() => { if (decided === undefined && instances() > 0) decided = performance.now(); }, 10);
    try {
      await c.create<Deployment>({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench' },
        spec: {
          replicas: PODS, selector: { matchLabels: { app: 'bench' } },
          template: { metadata: { labels: { app: 'bench' } }, spec: {
            nodeSelector: { pool: 'bench' }, terminationGracePeriodSeconds: 0,
            containers: [{ name: 'c', command: ['sleep', '600'], resources: { requests: { cpu: `${POD_CPU_MILLIS}m`, memory: '16Mi' } } }],
          } },
        },
      });
      await waitFor(`all ${PODS} pods Running`, () => allRunning !== undefined, 120_000, 50);
    } finally {
      clearInterval(poll);
      pods.stop();
      nodes.stop();
    }
    const since = (t: number | undefined) => Math.round((t! - firstPending!) / 10) / 100;
    return { decisionS: since(decided), nodesReadyS: since(allReady), allRunningS: since(allRunning), nodes: (await c.list<Node>('nodes')).items.length };
  } finally {
    await client?.nc.close();
    await master?.stop();
    await nats?.stop();
    // The instances end with this process; stop them now, by their recorded process groups.
    const { runningInstanceGroups } = await import('../actors/cloud/local/instances.ts');
    for (const g of runningInstanceGroups(cloudDir)) try { process.kill(-g.pgid, 'SIGTERM'); } catch { /* gone */ }
  }
}

const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  progress(`run ${i + 1} of ${RUNS}: ${PODS} pods of ${POD_CPU_MILLIS}m, nodes of ${NODE_CPU} CPUs (${NEEDED} needed)`);
  const r = await once();
  progress(`decision ${r.decisionS} s, ${NEEDED} nodes Ready ${r.nodesReadyS} s, all Running ${r.allRunningS} s, ${r.nodes} nodes`);
  runs.push(r);
}
const med = (k: keyof Run) => quantile(runs.map((r) => r[k]), 0.5);
console.log(`\n${PODS} pending pods needing ${NEEDED} nodes, ${RUNS} runs (seconds from the first pod found unschedulable):`);
console.log('run  decision  nodes Ready  all Running  nodes');
runs.forEach((r, i) => console.log(`${String(i + 1).padStart(3)}  ${r.decisionS.toFixed(2).padStart(8)}  ${r.nodesReadyS.toFixed(2).padStart(11)}  ${r.allRunningS.toFixed(2).padStart(11)}  ${String(r.nodes).padStart(5)}`));
const targets = { decisionWithin2s: runs.every((r) => r.decisionS <= 2), allRunningWithin10s: runs.every((r) => r.allRunningS <= 10), exactlyNeededNodes: runs.every((r) => r.nodes === NEEDED) };
console.log(`median: decision ${med('decisionS')} s, nodes Ready ${med('nodesReadyS')} s, all Running ${med('allRunningS')} s`);
console.log(`targets (every run): ${Object.entries(targets).map(([k, v]) => `${k} ${v ? 'met' : 'MISSED'}`).join(', ')}`);
writeResult('nodepool', { pods: PODS, podCpuMillis: POD_CPU_MILLIS, nodeCpu: NODE_CPU, needed: NEEDED, compiled, runs, median: { decisionS: med('decisionS'), nodesReadyS: med('nodesReadyS'), allRunningS: med('allRunningS') }, targets });
