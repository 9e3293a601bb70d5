// The service data paths side by side: HTTP load (wrk, from the Debian packages) against one
// backend directly, through kube-proxy's userspace proxy, through its nftables mode (a DNAT in the
// kernel), and through HAProxy in TCP mode (retries 3, option redispatch), each with keep-alive and
// with a new connection per request. All of it runs in a network namespace of the benchmark's
// own (the nftables rules and every port stay there), the paths taken in turn, in rounds that
// rotate which goes first; each ratio is taken within a round, and the figures are the medians.
// Also how soon kube-proxy applies an Endpoints write, through a real apiserver.
// Writes bench/results/proxy.json.
// Usage: tsx bench/proxy.ts [--seconds 5] [--connections 50] [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Informer } from '../actors/client/informer.ts';
import { silentLogger } from '../actors/platform/log.ts';
import { EventRecorder } from '../actors/runtime/events.ts';
import { KubeProxy } from '../actors/kube-proxy/index.ts';
import { NftablesProxy, nftablesUnusable } from '../actors/kube-proxy/nftables.ts';
import type { Endpoints, Service } from '../protocol/types.ts';
import { freePort, ROOT, spawnProc, startInProcessApiserver, startNats, tempDir, waitFor, type Proc } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/proxy.ts [--seconds N] [--connections N] [--rounds N]   (needs root, wrk, haproxy and nft: apt-get install wrk haproxy nftables)');
  process.exit(0);
}
for (const program of ['wrk', 'haproxy']) {
  if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
    console.error(`bench/proxy.ts needs ${program}: apt-get install ${program}`);
    process.exit(1);
  }
}
const unusable = nftablesUnusable();
if (unusable) {
  console.error(`bench/proxy.ts measures the nftables mode, which cannot be used here: ${unusable}`);
  process.exit(1);
}
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);

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

const NETNS = `skbench${process.pid}`;
const inNetns = (cmd: string, args: string[]): [string, string[]] => ['ip', ['netns', 'exec', NETNS, cmd, ...args]];

function wrk(address: string, keepAlive: boolean): WrkResult {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', ...(keepAlive ? [] : ['-H', 'Connection: close']), `http://${address}/`];
  const out = execFileSync(...inNetns('wrk', args), { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requestsPerSecond: rps, p50Ms: p50, p99Ms: p99, errors };
}

// Inside the namespace every port is free: fixed ones will do. The backend also listens on a port
// of the nftables path's own: a DNATed connection's timestamps are not those of a direct one
// between the same two sockets' addresses, so one reusing a tuple the backend still holds in
// TIME_WAIT from a direct run can be dropped by PAWS (its SYN retried after a second).
const BACKEND = '127.0.0.1:8081';
const NFT_BACKEND_PORT = 8084;
const PATHS = { direct: BACKEND, userspace: '127.0.0.1:8082', nftables: '127.1.0.10:80', haproxy: '127.0.0.1:8083' } as const;
type PathName = keyof typeof PATHS;
const HAPROXY_CONF = `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
frontend bench
  bind ${PATHS.haproxy}
  default_backend web
backend web
  server backend ${BACKEND}
`;

const procs: Proc[] = [];
let nft: NftablesProxy | undefined;
const runs: Record<string, WrkResult[]> = {};
execFileSync('ip', ['netns', 'add', NETNS]);
process.once('exit', () => spawnSync('ip', ['netns', 'del', NETNS]));
try {
  execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
  const spawnIn = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = spawnProc(...inNetns(cmd, args), { env });
    procs.push(p);
    return p;
  };
  const backend = spawnIn(process.execPath, [join(ROOT, 'bench/fixtures/backend.mjs')], { PORT: `${BACKEND.split(':')[1]},${NFT_BACKEND_PORT}` });
  const proxy = spawnIn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/fixtures/proxy-only.ts')], { PORT: PATHS.userspace.split(':')[1], BACKEND_PORT: BACKEND.split(':')[1] });
  const haproxyConf = join(tempDir('skiff-haproxy-'), 'haproxy.cfg');
  writeFileSync(haproxyConf, HAPROXY_CONF);
  const haproxy = spawnIn('haproxy', ['-db', '-f', haproxyConf]);
  await waitFor('backend and proxy', () => backend.output().includes('listening') && proxy.output().includes('listening'), 15_000);
  const answers = (address: string) => spawnSync(...inNetns('wrk', ['-t1', '-c1', '-d1s', `http://${address}/`]), { encoding: 'utf8' }).status === 0;
  await waitFor('haproxy', () => answers(PATHS.haproxy), 10_000).catch((err) => { throw new Error(`${(err as Error).message}: ${haproxy.output()}`); });
  nft = new NftablesProxy('skiff_bench', { netns: NETNS });
  const [ip, port] = PATHS.nftables.split(':');
  await nft.sync([{ key: 'bench/web:80', frontends: [{ address: ip, port: Number(port) }], affinity: false, backends: [{ key: `127.0.0.1:${NFT_BACKEND_PORT}`, ip: '127.0.0.1', port: NFT_BACKEND_PORT }] }]);
  const names = Object.keys(PATHS) as PathName[];
  for (let round = 0; round < ROUNDS; round++) {
    for (const keepAlive of [true, false]) {
      const mode = keepAlive ? 'keepAlive' : 'newConnections';
      // Each round starts from another path, so that none is always first (or always last).
      for (let k = 0; k < names.length; k++) {
        const path = names[(k + round) % names.length];
        progress(`round ${round + 1}/${ROUNDS}, ${mode}: ${path}`);
        (runs[`${mode}.${path}`] ??= []).push(wrk(PATHS[path], keepAlive));
      }
    }
  }
} finally {
  nft?.close();
  for (const p of procs) await p.stop();
  spawnSync('ip', ['netns', 'del', NETNS]);
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

const MODES = ['keepAlive', 'newConnections'] as const;
/** Within each round, path a's throughput over path b's; the median over rounds, and each round's. */
const ratioOf = (mode: string, a: PathName, b: PathName) => {
  const each = runs[`${mode}.${a}`].map((r, i) => r.requestsPerSecond / runs[`${mode}.${b}`][i].requestsPerSecond);
  return { median: Number(quantile(each, 0.5).toFixed(3)), each: each.map((x) => Number(x.toFixed(3))) };
};
const median = (mode: string, path: PathName, f: (r: WrkResult) => number) => quantile(runs[`${mode}.${path}`].map(f), 0.5);
const ratios = Object.fromEntries(MODES.map((mode) => [mode, {
  userspaceToHaproxy: ratioOf(mode, 'userspace', 'haproxy'),
  userspaceToDirect: ratioOf(mode, 'userspace', 'direct'),
  nftablesToDirect: ratioOf(mode, 'nftables', 'direct'),
  haproxyToDirect: ratioOf(mode, 'haproxy', 'direct'),
}]));
const addedP99 = median('keepAlive', 'userspace', (r) => r.p99Ms) - median('keepAlive', 'direct', (r) => r.p99Ms);
const reactionMax = Math.max(...reactions);
const targets = {
  userspaceKeepAliveToHaproxy: { value: ratios.keepAlive.userspaceToHaproxy.median, min: 1.0, pass: ratios.keepAlive.userspaceToHaproxy.median >= 1.0 },
  userspaceNewConnectionsToHaproxy: { value: ratios.newConnections.userspaceToHaproxy.median, min: 0.8, pass: ratios.newConnections.userspaceToHaproxy.median >= 0.8 },
  nftablesKeepAliveToDirect: { value: ratios.keepAlive.nftablesToDirect.median, min: 0.95, pass: ratios.keepAlive.nftablesToDirect.median >= 0.95 },
  nftablesNewConnectionsToDirect: { value: ratios.newConnections.nftablesToDirect.median, min: 0.95, pass: ratios.newConnections.nftablesToDirect.median >= 0.95 },
  endpointsReactionMs: { value: reactionMax, max: 100, pass: reactionMax <= 100 },
};
const result = {
  seconds: SECONDS, connections: CONNECTIONS, rounds: ROUNDS, runs, ratios,
  addedP99MsKeepAlive: Number(addedP99.toFixed(3)),
  endpointsReactionMs: { p50: Number(quantile(reactions, 0.5).toFixed(1)), max: Number(reactionMax.toFixed(1)) },
  targets,
};
console.log(`\nmode              path          req/s (median of ${ROUNDS})   p50 ms   p99 ms   errors`);
for (const mode of MODES) {
  for (const path of Object.keys(PATHS) as PathName[]) {
    const rs = runs[`${mode}.${path}`];
    const errors = rs.reduce((n, r) => n + r.errors, 0);
    console.log(`${mode.padEnd(17)} ${path.padEnd(10)} ${median(mode, path, (r) => r.requestsPerSecond).toFixed(0).padStart(12)} ${median(mode, path, (r) => r.p50Ms).toFixed(2).padStart(22)} ${median(mode, path, (r) => r.p99Ms).toFixed(2).padStart(8)} ${String(errors).padStart(8)}`);
  }
}
const pct = (r: { median: number; each: number[] }) => `${r.median.toFixed(2)}x [${r.each.map((x) => x.toFixed(2)).join(' ')}]`;
for (const mode of MODES) {
  console.log(`\n${mode}, ratios within each round (median [each round]):`);
  for (const [k, v] of Object.entries(ratios[mode])) console.log(`  ${k.padEnd(20)} ${pct(v)}`);
}
console.log(`\nan Endpoints write reaches the proxy in p50 ${result.endpointsReactionMs.p50} ms, at most ${result.endpointsReactionMs.max} ms`);
console.log(`target: userspace >= 1.0x HAProxy with keep-alive: ${targets.userspaceKeepAliveToHaproxy.value.toFixed(2)}x ${targets.userspaceKeepAliveToHaproxy.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: userspace >= 0.8x HAProxy with new connections: ${targets.userspaceNewConnectionsToHaproxy.value.toFixed(2)}x ${targets.userspaceNewConnectionsToHaproxy.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: nftables >= 0.95x direct with keep-alive: ${targets.nftablesKeepAliveToDirect.value.toFixed(2)}x ${targets.nftablesKeepAliveToDirect.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: nftables >= 0.95x direct with new connections: ${targets.nftablesNewConnectionsToDirect.value.toFixed(2)}x ${targets.nftablesNewConnectionsToDirect.pass ? 'PASS' : 'FAIL'}`);
console.log(`target: reacts within 100 ms of an Endpoints write: ${targets.endpointsReactionMs.pass ? 'PASS' : 'FAIL'}`);
writeResult('proxy', result);
process.exit(0);
