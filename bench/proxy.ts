// kube-proxy overhead: HTTP load against one backend directly and through kube-proxy's data path,
// in the same run, with keep-alive and with a new connection per request (wrk, from the Debian
// packages). Also how soon kube-proxy applies an Endpoints write, through a real apiserver.
// Writes bench/results/proxy.json.
// Usage: tsx bench/proxy.ts [--seconds 5] [--connections 50]
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Informer } from '../actors/client/informer.ts';
import { silentLogger } from '../actors/platform/log.ts';
import { EventRecorder } from '../actors/runtime/events.ts';
import { KubeProxy } from '../actors/kube-proxy/index.ts';
import type { Endpoints, Service } from '../protocol/types.ts';
import { freePort, ROOT, spawnProc, startInProcessApiserver, startNats, waitFor } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/proxy.ts [--seconds N] [--connections N]   (needs wrk: apt-get install wrk)');
  process.exit(0);
}
if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
  console.error('bench/proxy.ts needs wrk: apt-get install wrk');
  process.exit(1);
}
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function wrk(port: number, keepAlive: boolean): WrkResult {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', ...(keepAlive ? [] : ['-H', 'Connection: close']), `http://127.0.0.1:${port}/`];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requestsPerSecond: rps, p50Ms: p50, p99Ms: p99, errors };
}

const backendPort = await freePort();
const proxyPort = await freePort();
const backend = spawnProc(process.execPath, [join(ROOT, 'bench/fixtures/backend.mjs')], { env: { PORT: String(backendPort) } });
const proxy = spawnProc(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/fixtures/proxy-only.ts')], { env: { PORT: String(proxyPort), BACKEND_PORT: String(backendPort) } });
await waitFor('backend and proxy', () => backend.output().includes('listening') && proxy.output().includes('listening'), 15_000);

const runs: Record<string, WrkResult> = {};
try {
  for (const keepAlive of [true, false]) {
    const mode = keepAlive ? 'keepAlive' : 'newConnections';
    progress(`${mode}: direct`);
    runs[`${mode}.direct`] = wrk(backendPort, keepAlive);
    progress(`${mode}: through kube-proxy`);
    runs[`${mode}.proxied`] = wrk(proxyPort, keepAlive);
  }
} finally {
  await proxy.stop();
  await backend.stop();
}

// How soon an Endpoints write reaches the data path: the proxy follows a real apiserver, and its
// balancer is checked every millisecond after each write until it holds exactly the new backend
// (or none). A connection cannot tell: the listener accepts whether or not a backend is there.
progress('reaction to Endpoints writes');
const nats = await startNats();
const api = await startInProcessApiserver(nats.url);
const servicePort = await freePort();
const services = new Informer<Service>(api.client, 'services', { deadlineMs: 5000 }).start();
const endpoints = new Informer<Endpoints>(api.client, 'endpoints', { deadlineMs: 5000 }).start();
const kp = new KubeProxy({
  client: api.client, nodeName: 'bench', address: '127.0.0.1', services, endpoints,
  events: new EventRecorder(api.client, { component: 'bench', ratePerSecond: 1, burst: 1 }), log: silentLogger, registry: new Registry(),
});
kp.start();
const backends = await Promise.all([0, 1].map(async () => {
  const port = await freePort();
  const p = spawnProc(process.execPath, [join(ROOT, 'bench/fixtures/backend.mjs')], { env: { PORT: String(port) } });
  await waitFor('backend', () => p.output().includes('listening'));
  return { port, p };
}));
await api.client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'flip' }, spec: { ports: [{ port: servicePort }] } });
const reactions: number[] = [];
let ep: Endpoints | undefined;
for (let i = 0; i < 20; i++) {
  // Alternate between one backend and none: the proxy must start and stop forwarding.
  const on = i % 2 === 0;
  const backendPort = backends[i % 4 === 0 ? 0 : 1].port;
  const body: Endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'flip', ...(ep ? { resourceVersion: ep.metadata.resourceVersion } : {}) },
    subsets: on ? [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: backendPort }] }] : [] };
  // From the moment the write is sent: its acknowledgement and the watch event leave the
  // apiserver together, so timing from the acknowledgement would measure nothing.
  const written = performance.now();
  ep = ep ? await api.client.update(body) : await api.client.create(body);
  // Off: the listener stays (the service does), its backends go.
  const balancer = () => kp.proxy.targets.get(`default/flip:${servicePort}`)?.balancer;
  await waitFor('the proxy to follow', () => (on ? balancer()?.size === 1 && balancer()?.pick('bench', Date.now())?.port === backendPort : balancer()?.size === 0), 5000, 1);
  reactions.push(performance.now() - written);
}
kp.stop();
services.stop();
endpoints.stop();
for (const b of backends) await b.p.stop();
await api.stop();
await nats.stop();

const ratio = runs['keepAlive.proxied'].requestsPerSecond / runs['keepAlive.direct'].requestsPerSecond;
const addedP99 = runs['keepAlive.proxied'].p99Ms - runs['keepAlive.direct'].p99Ms;
const reactionMax = Math.max(...reactions);
const result = {
  seconds: SECONDS, connections: CONNECTIONS, runs,
  keepAliveThroughputRatio: Number(ratio.toFixed(3)),
  newConnectionThroughputRatio: Number((runs['newConnections.proxied'].requestsPerSecond / runs['newConnections.direct'].requestsPerSecond).toFixed(3)),
  addedP99MsKeepAlive: Number(addedP99.toFixed(3)),
  addedP99MsNewConnections: Number((runs['newConnections.proxied'].p99Ms - runs['newConnections.direct'].p99Ms).toFixed(3)),
  endpointsReactionMs: { p50: Number(quantile(reactions, 0.5).toFixed(1)), max: Number(reactionMax.toFixed(1)) },
  targets: {
    keepAliveThroughputRatio: { min: 0.8, pass: ratio >= 0.8 },
    addedP99Ms: { max: 1, pass: addedP99 <= 1 },
    endpointsReactionMs: { max: 100, pass: reactionMax <= 100 },
  },
};
console.log('\nmode              path       req/s      p50 ms   p99 ms   errors');
for (const [k, v] of Object.entries(runs)) {
  const [mode, path] = k.split('.');
  console.log(`${mode.padEnd(17)} ${path.padEnd(9)} ${v.requestsPerSecond.toFixed(0).padStart(8)} ${v.p50Ms.toFixed(2).padStart(9)} ${v.p99Ms.toFixed(2).padStart(8)} ${String(v.errors).padStart(7)}`);
}
console.log(`\nkeep-alive: the proxy keeps ${(ratio * 100).toFixed(0)}% of direct throughput and adds ${addedP99.toFixed(2)} ms at p99 with ${CONNECTIONS} connections`);
console.log(`new connections: ${(result.newConnectionThroughputRatio * 100).toFixed(0)}% of direct throughput, ${result.addedP99MsNewConnections} ms added at p99`);
console.log(`an Endpoints write reaches the proxy in p50 ${result.endpointsReactionMs.p50} ms, at most ${result.endpointsReactionMs.max} ms`);
console.log(`target: >= 80% of direct throughput with keep-alive: ${result.targets.keepAliveThroughputRatio.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: <= 1 ms added p99 at ${CONNECTIONS} connections: ${result.targets.addedP99Ms.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: reacts within 100 ms of an Endpoints write: ${result.targets.endpointsReactionMs.pass ? 'PASS' : 'FAIL'}`);
writeResult('proxy', result);
process.exit(0);
