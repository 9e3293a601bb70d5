// What Prometheus' scraping costs a kubelet: one node process with 100 pods, its /metrics fetched
// every second, in alternating windows with and without scraping, so that the same run compares
// the two. Reports the response time of /metrics (p50, p99) and the node process's CPU with and
// without (its difference is the cost, as a share of a core). The processes are the compiled
// ones in dist/. Writes bench/results/scrape.json.
// Usage: tsx bench/scrape.ts [--pods 100] [--window 20] [--rounds 3]   (window: seconds each)
import { parseArgs } from 'node:util';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { processUsage } from '../actors/platform/procfs.ts';
import { ensureDist } from '../infra/build.ts';
import type { Pod } from '../protocol/types.ts';
import { startMaster, startNats, startNode, waitFor } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '100' }, window: { type: 'string', default: '20' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/scrape.ts [--pods N] [--window SECONDS] [--rounds N]   (a window without and one with scraping each second, N times)');
  process.exit(0);
}
const PODS = Number(values.pods);
const WINDOW_MS = Number(values.window) * 1000;
const ROUNDS = Number(values.rounds);

await ensureDist();
const nats = await startNats();
const master = await startMaster(nats.url, {}, { compiled: true });
const node = await startNode(nats.url, 'scrape-node', { compiled: true });
const nc = await connectNats({ url: nats.url, name: 'bench', persistent: true });
const client = new ApiClient(nc, { timeoutMs: 30_000 });

const cpu = () => processUsage(node.proc.pid)!.cpuSeconds;

/** One window: the node process's CPU over it, and (scraping) each /metrics response time. */
async function window(scrape: boolean): Promise<{ cpuShare: number; responseMs: number[]; bytes: number }> {
  const responseMs: number[] = [];
  let bytes = 0;
  const start = performance.now();
  const before = cpu();
  while (performance.now() - start < WINDOW_MS) {
    const tick = performance.now();
    if (scrape) {
      const t = performance.now();
      const body = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
      responseMs.push(performance.now() - t);
      bytes = body.length;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - tick))));
  }
  return { cpuShare: (cpu() - before) / ((performance.now() - start) / 1000), responseMs, bytes };
}

let result;
try {
  progress(`starting ${PODS} pods on one node`);
  await Promise.all(Array.from({ length: PODS }, (_, i) => client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `scrape-${i}`, labels: { bench: 'scrape' } },
    spec: { nodeName: 'scrape-node', containers: [{ name: 'c', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 },
  })));
  await waitFor(`${PODS} pods Running`, async () => (await client.list<Pod>('pods', { labelSelector: 'bench=scrape' })).items.filter((p) => p.status?.phase === 'Running').length === PODS, 120_000, 500);
  await new Promise((r) => setTimeout(r, 3000)); // status writes settle
  const quiet: number[] = [];
  const scraped: number[] = [];
  const responses: number[] = [];
  let bytes = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    progress(`round ${r}/${ROUNDS}: ${WINDOW_MS / 1000} s without scraping, then ${WINDOW_MS / 1000} s scraped every second`);
    quiet.push((await window(false)).cpuShare);
    const w = await window(true);
    scraped.push(w.cpuShare);
    responses.push(...w.responseMs);
    bytes = w.bytes;
  }
  const added = scraped.map((s, i) => s - quiet[i]);
  const medianAdded = quantile([...added].sort((a, b) => a - b), 0.5);
  const p99 = quantile([...responses].sort((a, b) => a - b), 0.99);
  result = {
    pods: PODS, windowSeconds: WINDOW_MS / 1000, rounds: ROUNDS, metricsBytes: bytes,
    responseMs: { p50: Number(quantile([...responses].sort((a, b) => a - b), 0.5).toFixed(2)), p99: Number(p99.toFixed(2)), max: Number(Math.max(...responses).toFixed(2)) },
    nodeCpuShare: { quiet: quiet.map((x) => Number(x.toFixed(4))), scraped: scraped.map((x) => Number(x.toFixed(4))), added: added.map((x) => Number(x.toFixed(4))) },
    targets: {
      responseP99Ms: { value: Number(p99.toFixed(2)), max: 50, pass: p99 <= 50 },
      addedCpuShareOfCore: { value: Number(medianAdded.toFixed(4)), max: 0.02, pass: medianAdded <= 0.02 },
    },
  };
  progress('deleting the pods');
  await Promise.all(Array.from({ length: PODS }, (_, i) => client.delete('pods', `scrape-${i}`, 'default')));
} finally {
  await nc.close();
  await node.stop();
  await master.stop();
  await nats.stop();
}

console.log(`\n/metrics of a node with ${PODS} pods (${result.metricsBytes} bytes), fetched every second:`);
console.log(`  response p50 ${result.responseMs.p50} ms, p99 ${result.responseMs.p99} ms, max ${result.responseMs.max} ms`);
console.log(`  node process CPU, share of a core, per round: quiet ${result.nodeCpuShare.quiet.join(', ')}; scraped ${result.nodeCpuShare.scraped.join(', ')}; added ${result.nodeCpuShare.added.join(', ')}`);
console.log(`target: /metrics p99 <= 50 ms: ${result.targets.responseP99Ms.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: added CPU <= 2% of a core (median of the rounds): ${(result.targets.addedCpuShareOfCore.value * 100).toFixed(2)}% ${result.targets.addedCpuShareOfCore.pass ? 'PASS' : 'FAIL'}`);
writeResult('scrape', result);
