// The `nats` process of a skiff cluster: nats-server with JetStream, run as this process's child,
// with /healthz and /metrics on PORT like every skiff process. nats-server has no Prometheus
// endpoint of its own, so /metrics turns its monitoring JSON (/varz, /jsz) into metrics.
// Ports: clients on SKIFF_NATS_PORT (4222), nats' own monitor on SKIFF_NATS_MONITOR_PORT (8222);
// of a cluster (SKIFF_NATS_CLUSTER_SIZE), server N on those plus N-1 and routes on 6222 plus N-1
// (infra/nats-cluster.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, watchFile, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { PROJECT_ROOT } from '../actors/platform/entry.ts';
import { createLogger } from '../actors/platform/log.ts';
import { createRegistry, startStatusServer } from '../actors/platform/metrics.ts';
import { requireProgram, statusPort } from '../actors/platform/process.ts';
import { instanceConfig, natsInstance, type NatsAuth, type NatsInstance } from './nats-cluster.ts';
import { AUTH_CONFIG, ROUTE_USER, routeSecret } from './auth.ts';
import { CA_FILE, defaultTlsDir, ensureServerCert, tlsBlocks } from './tls.ts';
import { defaultAuthDir } from '../actors/platform/credentials.ts';
import { AUTH_RELOAD_POLL_MS } from '../protocol/config.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: node dist/infra/nats.js   (the Procfile's nats line)

Runs nats-server with JetStream as a child, serving /healthz and /metrics on PORT.

Environment:
  SKIFF_NATS_PORT          client port (default 4222)
  SKIFF_NATS_MONITOR_PORT  nats-server's monitor, on 127.0.0.1 (default 8222)
  SKIFF_NATS_STORE         the store's directory (default .skiff/nats; in a cluster .skiff/nats-cluster/NAME)
  SKIFF_STATUS_HOST        where /healthz and /metrics listen (default 127.0.0.1)
  SKIFF_AUTH_DIR           the cluster's credentials (default .skiff/auth): when it holds
                           nats-auth.conf, clients must authenticate, each identity held to its
                           own subjects, and routes present the cluster's route password
  SKIFF_TLS_DIR            the cluster's CA (default .skiff/tls; skiff up --tls makes it): when
                           it holds ca.pem, this server makes its certificate from it and
                           requires TLS of clients and routes (routes verified both ways)
A cluster, under skiff up -m nats=N (PS=nats.I): SKIFF_NATS_CLUSTER_SIZE=N, and server I takes the
ports above plus I-1 and the route port SKIFF_NATS_CLUSTER_PORT (6222) plus I-1.
A cluster across hosts, each server told its own address and its peers:
  SKIFF_NATS_HOST          address to listen on (default 127.0.0.1)
  SKIFF_NATS_ROUTES        host:port of every server's route port, comma-separated
  SKIFF_NATS_SERVER_NAME   a name unique in the cluster
  SKIFF_NATS_CLUSTER_NAME  (default skiff)
The config given to nats-server is infra/nats.conf plus this instance's part, written to the store's
directory as nats.conf. SIGUSR2 puts the server in lame-duck mode: it hands its JetStream
leaderships over, then lets its clients go.`);
  process.exit(0);
}

const log = createLogger({ component: 'nats' });

const bin = requireProgram('nats-server', 'nats-server', log);
let inst: NatsInstance;
try {
  inst = natsInstance(process.env);
} catch (err) {
  log.error((err as Error).message);
  process.exit(2);
}
const { clientPort, monitorPort, storeDir } = inst;
mkdirSync(storeDir, { recursive: true });
if (inst.routes.length > 0 && existsSync('.skiff/nats/jetstream') && !existsSync(join(storeDir, 'jetstream'))) {
  // A standalone store is not clustered data: a cluster starts its own, and says so.
  log.warn('a single-server store is in .skiff/nats; this cluster keeps its own store and does not read it. To keep those objects, save them with skiff get -A -o yaml while one server runs, then skiff apply -f them to the cluster', { storeDir });
}

// The project's config, wherever the Procfile runs from, with this instance's own part added, and
// the cluster's authorization when skiff up (or skiff auth) has made one.
const confFile = join(storeDir, 'nats.conf');
const authDir = defaultAuthDir(process.env);
const authConf = join(authDir, AUTH_CONFIG);
const auth: NatsAuth | undefined = process.env.SKIFF_AUTH !== 'off' && existsSync(authConf)
  ? { include: relative(dirname(resolve(confFile)), resolve(authConf)), routeUser: ROUTE_USER, routePassword: routeSecret(authDir) }
  : undefined;
// TLS once the cluster has a CA (skiff up --tls): this server's certificate is made from it.
const tlsDir = defaultTlsDir(process.env);
let tls: { client: string; route: string } | undefined;
try {
  tls = existsSync(join(tlsDir, CA_FILE)) ? tlsBlocks(ensureServerCert(tlsDir, inst.serverName, [inst.host])) : undefined;
} catch (err) {
  log.error((err as Error).message);
  process.exit(2);
}
if (!auth) log.warn('no authorization config: anyone who reaches this server owns the cluster (skiff up makes one; see skiff auth --help)', { expected: authConf });
writeFileSync(confFile, instanceConfig(readFileSync(join(PROJECT_ROOT, 'infra', 'nats.conf'), 'utf8'), inst, auth, tls), { mode: 0o600 });
const child = spawn(bin, ['-c', resolve(confFile)], {
  stdio: 'inherit',
});
let stopping = false;
child.on('exit', (code, signal) => {
  log.info('nats-server exited', { code, signal });
  process.exit(stopping ? 0 : code ?? 1);
});
// An identity added or deleted (skiff auth) rewrites the authorization: nats-server reloads it on
// SIGHUP, without a restart, and drops the connections of identities that are gone.
if (auth) {
  watchFile(authConf, { interval: AUTH_RELOAD_POLL_MS }, (now, before) => {
    if (now.mtimeMs === before.mtimeMs) return;
    log.info('authorization changed; reloading nats-server', { file: authConf });
    child.kill('SIGHUP');
  });
}
// Lame-duck mode: the server hands its stream leaderships over and lets its clients move before it stops.
process.on('SIGUSR2', () => child.kill('SIGUSR2'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = true;
    child.kill(signal);
  });
}

const monitor = async (path: string): Promise<Record<string, unknown>> => {
  const res = await fetch(`http://127.0.0.1:${monitorPort}${path}`);
  return (await res.json()) as Record<string, unknown>;
};

// Health and the monitor's figures are polled together, so that /healthz answers at once and a
// scrape reads figures at most half a second old.
let healthy: string | null = 'nats-server is starting';
let varz: Record<string, number> = {};
let jsz: Record<string, number> = {};
const poll = async () => {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
    healthy = res.ok ? null : `nats-server /healthz answered ${res.status}`;
    [varz, jsz] = (await Promise.all([monitor('/varz'), monitor('/jsz')])) as Record<string, number>[];
  } catch (err) {
    healthy = `nats-server is not answering: ${(err as Error).message}`;
    varz = {};
    jsz = {};
  }
};
setInterval(poll, 500).unref();
void poll();

const registry = createRegistry({ component: 'nats' });
const registers = [registry];
const gauges: [string, string, (v: Record<string, number>) => number][] = [
  ['skiff_nats_connections', 'Client connections.', (v) => v.connections],
  ['skiff_nats_subscriptions', 'Subscriptions.', (v) => v.subscriptions],
  ['skiff_nats_memory_bytes', 'Resident memory of nats-server.', (v) => v.mem],
  ['skiff_nats_cpu_ratio', 'CPU use of nats-server, 1 = one core.', (v) => v.cpu / 100],
];
const counters: [string, string, (v: Record<string, number>) => number][] = [
  ['skiff_nats_in_messages_total', 'Messages received.', (v) => v.in_msgs],
  ['skiff_nats_out_messages_total', 'Messages sent.', (v) => v.out_msgs],
  ['skiff_nats_in_bytes_total', 'Bytes received.', (v) => v.in_bytes],
  ['skiff_nats_out_bytes_total', 'Bytes sent.', (v) => v.out_bytes],
  ['skiff_nats_slow_consumers_total', 'Clients cut off for not keeping up.', (v) => v.slow_consumers],
];
new Gauge({ name: 'skiff_nats_up', help: '1 when nats-server answers its monitor.', registers, collect() { this.set(healthy === null ? 1 : 0); } });
for (const [name, help, pick] of gauges) {
  new Gauge({ name, help, registers, collect() { if (varz.now !== undefined) this.set(pick(varz) ?? 0); } });
}
for (const [name, help, pick] of counters) {
  let last = 0;
  new Counter({ name, help, registers, collect() {
    const v = pick(varz);
    if (typeof v === 'number' && v >= last) {
      this.inc(v - last);
      last = v;
    }
  } });
}
new Gauge({ name: 'skiff_nats_jetstream_messages', help: 'Messages stored in JetStream (the object store).', registers, collect() { this.set(jsz.messages ?? 0); } });
new Gauge({ name: 'skiff_nats_jetstream_bytes', help: 'Bytes stored in JetStream.', registers, collect() { this.set(jsz.bytes ?? 0); } });

await startStatusServer({ port: statusPort(), registry, health: () => healthy });
log.info('serving /healthz and /metrics', { port: statusPort(), clientPort, monitorPort, ...(inst.routes.length > 0 ? { server: inst.serverName, routes: inst.routes } : {}) });
