// The skiff command's speed and the processes' memory, compiled (dist/) against the sources run
// through tsx, in one run on one machine. A cluster of nats, a master and a node, all compiled,
// runs 100 pods; `skiff get pods -A`, `skiff get nodes` and `skiff --help` are timed RUNS times
// each both ways, alternated so that a busy spell of the machine falls on both. Memory: the idle
// RSS of a master and of a node, both ways, and the compiled node's RSS at 100 pods.
// Writes bench/results/cli.json.
// Usage: tsx bench/cli.ts [--runs 20] [--pods 100]
import { parseArgs } from 'node:util';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { processUsage } from '../actors/platform/procfs.ts';
import { ensureDist } from '../infra/build.ts';
import type { Pod } from '../protocol/types.ts';
import { skiff, startMaster, startNats, startNode, waitFor, type Master, type NodeProc } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, pods: { type: 'string', default: '100' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/cli.ts [--runs N] [--pods N]   (times each command N times per way; the node runs N pods)');
  process.exit(0);
}
const RUNS = Number(values.runs);
const PODS = Number(values.pods);
/** Idle means: this long after the process answered its first health check, with nothing to do. */
const SETTLE_MS = 10_000;
const COMMANDS = [['get', 'pods', '-A'], ['get', 'nodes'], ['--help']];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const rssOf = (pid: number) => mb(processUsage(pid)!.rssBytes);

progress('building dist/ unless it is current');
await ensureDist();
const nats = await startNats();
const running: { stop(): Promise<void> }[] = [];
let result;
try {
  // Both ways side by side, so that they idle through the same seconds.
  progress('starting a master and a node compiled, and a master and a node from the sources');
  const master = await startMaster(nats.url, { SKIFF_NODE_NAME: 'master-dist' }, { compiled: true });
  running.push(master);
  const node = await startNode(nats.url, 'node-dist', { compiled: true });
  running.push(node);
  const sourceMaster: Master = await startMaster(nats.url, { SKIFF_NODE_NAME: 'master-tsx' });
  const sourceNode: NodeProc = await startNode(nats.url, 'node-tsx');
  await sleep(SETTLE_MS);
  const idle = {
    compiled: { masterRssMB: rssOf(master.proc.pid), nodeRssMB: rssOf(node.proc.pid) },
    tsx: { masterRssMB: rssOf(sourceMaster.proc.pid), nodeRssMB: rssOf(sourceNode.proc.pid) },
  };
  await sourceNode.stop();
  await sourceMaster.stop();

  const nc = await connectNats({ url: nats.url, name: 'bench', persistent: true });
  const client = new ApiClient(nc, { timeoutMs: 30_000 });
  progress(`starting ${PODS} pods on ${node.name}`);
  await Promise.all(Array.from({ length: PODS }, (_, i) => client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `cli-${i}`, labels: { bench: 'cli' } },
    spec: { nodeName: node.name, containers: [{ name: 'c', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 },
  })));
  await waitFor(`${PODS} pods Running`, async () => (await client.list<Pod>('pods', { labelSelector: 'bench=cli' })).items.filter((p) => p.status?.phase === 'Running').length === PODS, 120_000, 250);
  await sleep(SETTLE_MS);
  const nodeRssMBAtPods = rssOf(node.proc.pid);

  const time = async (compiled: boolean, args: string[]) => {
    const started = performance.now();
    const r = await skiff(args, { url: nats.url, via: compiled ? 'dist' : 'sources' });
    if (r.code !== 0) throw new Error(`skiff ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return performance.now() - started;
  };
  const commands = [];
  for (const args of COMMANDS) {
    const line = `skiff ${args.join(' ')}`;
    progress(`timing ${line}, ${RUNS} times each way`);
    await time(false, args); // tsx's transpile cache, warm as it is for anyone who ran a command before
    await time(true, args);
    const ms: Record<'compiled' | 'tsx', number[]> = { compiled: [], tsx: [] };
    for (let i = 0; i < RUNS; i++) {
      ms.compiled.push(await time(true, args));
      ms.tsx.push(await time(false, args));
    }
    const figures = (xs: number[]) => ({ p50: Math.round(quantile(xs, 0.5)), p95: Math.round(quantile(xs, 0.95)) });
    commands.push({ command: line, compiledMs: figures(ms.compiled), tsxMs: figures(ms.tsx), ratioP50: Number((quantile(ms.compiled, 0.5) / quantile(ms.tsx, 0.5)).toFixed(2)) });
  }
  await nc.close();

  const get = commands[0];
  const help = commands[2];
  result = {
    runs: RUNS, pods: PODS, commands, idleRssMB: idle, nodeRssMBAtPods,
    targets: {
      getPodsP50Ms: { max: 300, value: get.compiledMs.p50, pass: get.compiledMs.p50 <= 300 },
      getPodsRatioToTsx: { max: 0.33, value: get.ratioP50, pass: get.ratioP50 <= 1 / 3 },
      helpP50Ms: { max: 150, value: help.compiledMs.p50, pass: help.compiledMs.p50 <= 150 },
      idleNodeRssMB: { max: 60, value: idle.compiled.nodeRssMB, pass: idle.compiled.nodeRssMB <= 60 },
      nodeRssMBAt100Pods: { max: 80, value: nodeRssMBAtPods, pass: nodeRssMBAtPods <= 80 },
    },
  };
} finally {
  for (const p of running.reverse()) await p.stop();
  await nats.stop();
}

console.log('');
for (const c of result.commands) {
  console.log(`${c.command.padEnd(20)} compiled p50 ${c.compiledMs.p50} ms, p95 ${c.compiledMs.p95} ms; tsx p50 ${c.tsxMs.p50} ms, p95 ${c.tsxMs.p95} ms; compiled/tsx ${c.ratioP50}`);
}
const { compiled, tsx } = result.idleRssMB;
console.log(`idle RSS: master ${compiled.masterRssMB} MB compiled, ${tsx.masterRssMB} MB tsx; node ${compiled.nodeRssMB} MB compiled, ${tsx.nodeRssMB} MB tsx`);
console.log(`node RSS at ${result.pods} pods: ${result.nodeRssMBAtPods} MB`);
for (const [name, t] of Object.entries(result.targets)) console.log(`target ${name} <= ${t.max}: ${t.value} ${t.pass ? 'PASS' : 'FAIL'}`);
writeResult('cli', result);
process.exit(0);
