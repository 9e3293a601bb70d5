// Where one nats-server of a skiff cluster listens, and what it is told about its peers: pure, so
// that `skiff up` (which hands every process the servers' URLs), infra/nats.ts (which runs one
// server) and the tests agree. One server is the quick start; three or more cluster with routes
// and replicate the store (JetStream's Raft), so that a server's death costs no data and, once
// new stream leaders are elected, no API.
import { resolve } from 'node:path';
import { DEFAULT_NATS_CLUSTER_PORT, DEFAULT_NATS_MONITOR_PORT, DEFAULT_NATS_PORT } from '../protocol/config.ts';

export interface NatsInstance {
  /** 1-based position among the servers (`skiff up`'s PS=nats.N). */
  number: number;
  /** Servers in the cluster; 1 is a standalone server. */
  size: number;
  /** Address the client and route ports listen on. */
  host: string;
  clientPort: number;
  /** nats-server's own monitor, always on 127.0.0.1 (inside a test host, that host's loopback). */
  monitorPort: number;
  clusterPort: number;
  /** Route URLs to the cluster's servers (its own is harmless: nats-server skips it). Empty when standalone. */
  routes: string[];
  serverName: string;
  clusterName: string;
  storeDir: string;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${JSON.stringify(raw)}: must be a port number from 1 to 65535`);
  return n;
}

/** SKIFF_NATS_CLUSTER_SIZE, 1 when unset. */
export function clusterSize(env: NodeJS.ProcessEnv): number {
  const raw = env.SKIFF_NATS_CLUSTER_SIZE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new Error(`SKIFF_NATS_CLUSTER_SIZE=${JSON.stringify(raw)}: must be a whole number of servers from 1 to 99`);
  return n;
}

/** The client URLs of every server of a cluster run by `skiff up` on this machine. */
export function clientUrls(env: NodeJS.ProcessEnv, size: number): string[] {
  const base = port(env, 'SKIFF_NATS_PORT', DEFAULT_NATS_PORT);
  const host = env.SKIFF_NATS_HOST || '127.0.0.1';
  return Array.from({ length: size }, (_, i) => `nats://${host}:${base + i}`);
}

/**
 * The server this process runs. Under `skiff up`, PS=nats.N picks the Nth of SKIFF_NATS_CLUSTER_SIZE
 * servers on consecutive ports. On hosts of their own, each server is told its address
 * (SKIFF_NATS_HOST) and its peers (SKIFF_NATS_ROUTES, host:port of their route ports) instead.
 */
export function natsInstance(env: NodeJS.ProcessEnv): NatsInstance {
  const ps = /^nats\.(\d+)$/.exec(env.PS ?? '');
  const number = ps ? Number(ps[1]) : 1;
  const size = clusterSize(env);
  if (number > size && size > 1) throw new Error(`PS=${env.PS}: only ${size} nats servers in SKIFF_NATS_CLUSTER_SIZE`);
  const offset = size > 1 ? number - 1 : 0;
  const host = env.SKIFF_NATS_HOST || '127.0.0.1';
  const clientPort = port(env, 'SKIFF_NATS_PORT', DEFAULT_NATS_PORT) + offset;
  const clusterBase = port(env, 'SKIFF_NATS_CLUSTER_PORT', DEFAULT_NATS_CLUSTER_PORT);
  const explicit = (env.SKIFF_NATS_ROUTES ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const routes = explicit.length > 0
    ? explicit.map((r) => (r.includes('://') ? r : `nats-route://${r}`))
    : size > 1 ? Array.from({ length: size }, (_, i) => `nats-route://${host}:${clusterBase + i}`) : [];
  const serverName = env.SKIFF_NATS_SERVER_NAME || (size > 1 ? `nats-${number}` : `nats-${host}-${clientPort}`);
  return {
    number,
    size: Math.max(size, routes.length),
    host,
    clientPort,
    monitorPort: port(env, 'SKIFF_NATS_MONITOR_PORT', DEFAULT_NATS_MONITOR_PORT) + offset,
    clusterPort: clusterBase + offset,
    routes,
    serverName,
    clusterName: env.SKIFF_NATS_CLUSTER_NAME || 'skiff',
    storeDir: env.SKIFF_NATS_STORE || (routes.length > 0 ? `.skiff/nats-cluster/${serverName}` : '.skiff/nats'),
  };
}

/** A cluster's authentication, as this server's config refers to it (infra/auth.ts). */
export interface NatsAuth {
  /** nats-auth.conf, relative to the directory the server's config is in (nats-server's `include` takes no absolute path). */
  include: string;
  routeUser: string;
  routePassword: string;
}

/** A route URL with the cluster's route credentials in it. */
function withRouteCredentials(route: string, auth: NatsAuth): string {
  const u = new URL(route);
  u.username = auth.routeUser;
  u.password = auth.routePassword;
  return u.toString().replace(/\/$/, '');
}

/** JetStream with its store in `storeDir`. */
export function jetstreamBlock(storeDir: string): string {
  return `jetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n  max_memory_store: 1GB\n  max_file_store: 10GB\n}`;
}

/** The server's config: the project's nats.conf, then what is this instance's own. */
export function instanceConfig(base: string, inst: NatsInstance, auth?: NatsAuth, tls?: { client: string; route: string }): string {
  const lines = [
    base.trimEnd(),
    '',
    '# Generated for this instance by infra/nats.ts (infra/nats-cluster.ts).',
    `listen: ${JSON.stringify(`${inst.host}:${inst.clientPort}`)}`,
    `http: ${JSON.stringify(`127.0.0.1:${inst.monitorPort}`)}`,
    jetstreamBlock(resolve(inst.storeDir)),
  ];
  if (auth) lines.push(`include ${JSON.stringify(auth.include)}`);
  if (tls) lines.push(tls.client);
  if (inst.routes.length > 0) {
    const routes = auth ? inst.routes.map((r) => withRouteCredentials(r, auth)) : inst.routes;
    lines.push(
      `server_name: ${JSON.stringify(inst.serverName)}`,
      'cluster {',
      `  name: ${JSON.stringify(inst.clusterName)}`,
      `  listen: ${JSON.stringify(`${inst.host}:${inst.clusterPort}`)}`,
      ...(auth ? [`  authorization { user: ${JSON.stringify(auth.routeUser)}, password: ${JSON.stringify(auth.routePassword)} }`] : []),
      ...(tls ? [`  ${tls.route}`] : []),
      `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
