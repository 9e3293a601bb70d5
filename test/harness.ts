// Shared test helpers: a real nats-server on a free port, masters as child processes or an
// in-process apiserver, the real `skiff` command, and waiting on conditions. Everything a test
// starts is stopped by its PID, including when the test process dies early.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { startApiserver } from '../actors/apiserver/index.ts';
import { ApiClient } from '../actors/client/client.ts';
import { programArgs } from '../actors/platform/entry.ts';
import { findProgram } from '../actors/platform/process.ts';
import { silentLogger } from '../actors/platform/log.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { loadConfig, type Config } from '../protocol/config.ts';
import { instanceConfig, jetstreamBlock, type NatsInstance } from '../infra/nats-cluster.ts';
import { identityEnv, reloadsAuth, testNatsAuth } from './test-auth.ts';
import { processStat } from '../actors/platform/procfs.ts';
import { decodeMemberChange } from '../actors/membership/index.ts';
import { gossipChangesSubject } from '../protocol/subjects.ts';
import type { Deployment, KubeObject, Node } from '../protocol/types.ts';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The flags the Procfile gives skiff's processes: a larger young generation for their allocation
 * rate. SKIFF_PROF_DIR=DIR adds a CPU profile of each process the harness starts, written there.
 */
export const NODE_FLAGS = ['--max-semi-space-size=32', ...(process.env.SKIFF_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SKIFF_PROF_DIR}`] : [])];

const started = new Set<ChildProcess>();
// The runner ends a file that overran with SIGTERM: exit, so that what it started is stopped too.
process.once('SIGTERM', () => process.exit(1));
process.on('exit', () => {
  for (const child of started) {
    for (const target of [-child.pid!, child.pid!]) {
      try {
        process.kill(target, 'SIGKILL');
        break;
      } catch {
        /* not a group leader, or already gone */
      }
    }
  }
});

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** An installed program the tests need, or an error saying how to install it. */
export function requireProgram(name: string, pkg = name): string {
  const found = findProgram(name);
  if (!found) throw new Error(`${name} is not installed: run npm test (infra/bootstrap.sh installs it), or: apt-get install ${pkg}`);
  return found;
}

export function findNatsServer(): string {
  return requireProgram('nats-server');
}

/**
 * A suite's `before` hook whose failure is reported. uvu 0.5 loses an error thrown by a before
 * hook (its runner returns from a `finally` block): no test of the suite runs, the suite reports
 * 0 of N passed, and the cause is never printed (test/run.ts counts the missing passes as
 * failures). This prints it first; `after` hooks stop whatever was started.
 */
export function setup<C>(hook: (ctx: C) => Promise<void>): (ctx: C) => Promise<void> {
  return async (ctx) => {
    try {
      await hook(ctx);
    } catch (err) {
      console.error(`\n  setup failed: ${(err as Error).stack ?? err}`);
      throw err;
    }
  };
}

/** Polls `check` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A process's /metrics. Tried twice: fetch reuses kept-alive connections, and on a loaded machine
 * one may be reused just as the server closes it for idleness ("fetch failed: other side closed").
 */
async function fetchMetrics(port: number): Promise<string> {
  const url = `http://127.0.0.1:${port}/metrics`;
  try {
    return await (await fetch(url)).text();
  } catch {
    return (await fetch(url)).text();
  }
}

/** Whether GET /healthz on host:port answers 2xx within a second (an address cut off never answers). */
export async function healthy(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

export function spawnProc(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => { started.delete(child); r(code); }));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* gone */
    }
  };
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    kill: signalGroup,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup('SIGTERM');
      const t = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A gossip change as a test or benchmark sees it: who said what of whom, and when it arrived. */
export interface SeenChange {
  observer: string;
  member: string;
  state: string;
  at: number;
}

/** Records every member's view changes as they arrive, until `stop()`. */
export function recordGossipChanges(nc: NatsConnection): { changes: SeenChange[]; stop(): void } {
  const changes: SeenChange[] = [];
  const sub = nc.subscribe(gossipChangesSubject('*'), {
    callback: (err, m) => {
      if (err) return;
      try {
        const c = decodeMemberChange(m.data);
        changes.push({ observer: c.observer, member: c.member.name, state: c.member.state, at: Date.now() });
      } catch {
        // Not a change message: skip it.
      }
    },
  });
  return { changes, stop: () => sub.unsubscribe() };
}

export interface Nats {
  url: string;
  port: number;
  proc: Proc;
  dir: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port and store, as a forced disconnect. */
  restart(): Promise<void>;
}

/** Ports free at the time of asking, all different (each is held until all are found). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<Server>((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => ok(srv));
  })));
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

const NATS_ATTEMPTS = 3;

/** `auth: false`: a server that takes anyone (benchmarks compare the two); default: as test-auth.ts says. */
export async function startNats(opts: { auth?: boolean } = {}): Promise<Nats> {
  const bin = findNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'skiff-nats-'));
  // The project's config, and the test's authorization (test-auth.ts) unless it is off.
  const conf = join(dir, 'nats.conf');
  const auth = opts.auth === false ? undefined : testNatsAuth(dir);
  writeFileSync(conf, `${readFileSync(join(ROOT, 'infra/nats.conf'), 'utf8')}\n${jetstreamBlock(dir)}\n${auth ? `include ${JSON.stringify(auth.include)}\n` : ''}`);
  let unregister = () => {};
  const launch = async (port: number, monitor: number) => {
    const proc = spawnProc(bin, ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)]);
    unregister();
    unregister = reloadsAuth(proc);
    const exited = proc.exited.then((code) => { throw new Error(`nats-server on port ${port} exited with code ${code}`); });
    await Promise.race([waitFor(`nats-server on port ${port}`, () => healthy(monitor), 10_000), exited]).catch(async (err) => {
      await proc.stop();
      throw new Error(`${(err as Error).message}\n${proc.output()}`);
    });
    exited.catch(() => { /* it ends when stopped */ });
    return proc;
  };
  // A port found free can be taken before the server binds it: then it tries others.
  let first: { proc: Proc; port: number; monitor: number } | undefined;
  for (let attempt = 1; !first; attempt++) {
    const [port, monitor] = await freePorts(2);
    try {
      first = { proc: await launch(port, monitor), port, monitor };
    } catch (err) {
      if (attempt === NATS_ATTEMPTS) throw err;
      console.error(`  nats-server did not start (attempt ${attempt} of ${NATS_ATTEMPTS}): ${(err as Error).message}`);
    }
  }
  const { port, monitor } = first;
  const nats: Nats = {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    proc: first.proc,
    async stop() {
      unregister();
      await nats.proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await nats.proc.stop();
      nats.proc = await launch(port, monitor);
    },
  };
  return nats;
}

export interface NatsServer {
  name: string;
  url: string;
  monitor: number;
  proc: Proc;
  /** Starts the server again on its ports and store (after a kill). */
  start(): Promise<void>;
}

export interface NatsCluster {
  /** Every server's URL, comma-separated, as SKIFF_NATS_URL takes them. */
  url: string;
  servers: NatsServer[];
  dir: string;
  /** The server that leads JetStream's meta group now, by its /jsz. */
  metaLeader(): Promise<NatsServer | undefined>;
  /** Waits until every server says it is healthy with JetStream current (nats-server's /healthz). */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `size` nats-servers forming one cluster on 127.0.0.1 (routes, one server_name each, JetStream on
 * all), configured as infra/nats.ts configures them (infra/nats-cluster.ts), each with a store of its own.
 */
export async function startNatsCluster(size = 3, opts: { auth?: boolean } = {}): Promise<NatsCluster> {
  const bin = findNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'skiff-natsc-'));
  const ports = await freePorts(size * 3);
  const base = readFileSync(join(ROOT, 'infra/nats.conf'), 'utf8');
  const routes = Array.from({ length: size }, (_, i) => `nats-route://127.0.0.1:${ports[size * 2 + i]}`);
  const servers: NatsServer[] = Array.from({ length: size }, (_, i) => {
    const inst: NatsInstance = {
      number: i + 1, size, host: '127.0.0.1', clientPort: ports[i], monitorPort: ports[size + i], clusterPort: ports[size * 2 + i],
      routes, serverName: `nats-${i + 1}`, clusterName: 'skiff-test', storeDir: join(dir, `nats-${i + 1}`),
    };
    mkdirSync(inst.storeDir, { recursive: true });
    const conf = join(inst.storeDir, 'nats.conf');
    writeFileSync(conf, instanceConfig(base, inst, opts.auth === false ? undefined : testNatsAuth(inst.storeDir)));
    let unregister = () => {};
    const server: NatsServer = {
      name: inst.serverName,
      url: `nats://127.0.0.1:${inst.clientPort}`,
      monitor: inst.monitorPort,
      proc: undefined as unknown as Proc,
      async start() {
        server.proc = spawnProc(bin, ['-c', conf]);
        unregister();
        unregister = reloadsAuth(server.proc);
      },
    };
    return server;
  });
  for (const s of servers) await s.start();
  const cluster: NatsCluster = {
    url: servers.map((s) => s.url).join(','),
    servers,
    dir,
    async metaLeader() {
      for (const s of servers) {
        try {
          const jsz = await (await fetch(`http://127.0.0.1:${s.monitor}/jsz`)).json() as { meta_cluster?: { leader?: string } };
          const leader = jsz.meta_cluster?.leader;
          if (leader) return servers.find((x) => x.name === leader);
        } catch { /* this one is down: ask another */ }
      }
      return undefined;
    },
    async healthy(timeoutMs = 30_000) {
      await waitFor('every nats-server healthy, JetStream current', async () => (await Promise.all(servers.map((s) => healthy(s.monitor)))).every(Boolean), timeoutMs, 100);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.proc.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Ready once every server answers and JetStream has a meta leader (the cluster has formed).
  await waitFor('the nats cluster to form', async () => {
    for (const s of servers) if (!(await healthy(s.monitor))) return false;
    return (await cluster.metaLeader()) !== undefined;
  }, 20_000).catch(async (err) => {
    const out = servers.map((s) => `${s.name}: ${s.proc.output()}`).join('\n');
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${out}`);
  });
  return cluster;
}

export function testConfig(url: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({}, { natsUrl: url, kvStorage: 'memory', watchHeartbeatMs: 500, auditLog: '', ...overrides });
}

export interface InProcessApiserver {
  nc: NatsConnection;
  client: ApiClient;
  stop(): Promise<void>;
}

/**
 * nats-server and an apiserver in this process for the tests of a file (uvu's `test`): started
 * before them, stopped after. The fields are set once the tests run.
 */
export function apiserverForTests(t: { before(hook: () => Promise<void>): void; after(hook: () => Promise<void>): void }): { nats: Nats; api: InProcessApiserver } {
  const ctx = {} as { nats: Nats; api: InProcessApiserver };
  t.before(async () => {
    ctx.nats = await startNats();
    ctx.api = await startInProcessApiserver(ctx.nats.url);
  });
  t.after(async () => {
    await ctx.api?.stop();
    await ctx.nats?.stop();
  });
  return ctx;
}

/** An apiserver in this process, on its own connection, plus a client on another. */
export async function startInProcessApiserver(url: string, overrides: Partial<Config> = {}): Promise<InProcessApiserver> {
  const cfg = testConfig(url, overrides);
  const nc = await connectNats({ url, name: 'test-apiserver', persistent: true });
  const api = startApiserver({ nc, cfg, log: silentLogger, registry: new Registry() });
  await api.ready;
  const cnc = await connectNats({ url, name: 'test-client', persistent: true });
  return {
    nc,
    client: new ApiClient(cnc, { timeoutMs: 5000 }),
    async stop() {
      api.actor.send({ type: 'STOP' });
      await cnc.close();
      await nc.close();
    },
  };
}

export interface Master {
  proc: Proc;
  port: number;
  name: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startMaster(url: string, env: NodeJS.ProcessEnv = {}, opts: { compiled?: boolean } = {}): Promise<Master> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = spawnProc(process.execPath, [...NODE_FLAGS, ...programArgs('actors/master/main', opts.compiled ?? false)], {
    // The audit log and the cloud provider's records in directories of their own, not the
    // checkout's .skiff; the provider's nodes end with the test process.
    env: {
      SKIFF_NATS_URL: url, PORT: String(port), SKIFF_KV_STORAGE: 'memory', SKIFF_WATCH_HEARTBEAT_MS: '500', SKIFF_AUDIT_LOG: join(tempDir('skiff-audit-'), 'audit.log'),
      SKIFF_CLOUD_DIR: env.SKIFF_CLOUD_DIR ?? tempDir('skiff-cloud-'), SKIFF_CLOUD_ANCHOR_PID: String(process.pid), ...env,
    },
  });
  await waitFor(`master on port ${port}`, () => healthy(port), 20_000).catch(async (err) => {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  return {
    proc, port, name: env.SKIFF_NODE_NAME ?? `master-${port}`,
    metrics: () => fetchMetrics(port),
    stop: () => proc.stop(),
  };
}

/** A real cluster: nats-server, master processes, node processes, and a client of it. */
export interface Cluster {
  nats: Nats;
  masters: Master[];
  nodes: NodeProc[];
  client: ApiClient;
}

/**
 * Starts nats-server, the masters (by name) and the nodes (name, and environment such as
 * SKIFF_NODE_ADDRESS; `env` goes to every process), then waits for every node to be Ready. Each
 * part goes into `into` as it starts, so that stopCluster after a failure part-way stops what did
 * start.
 */
export async function startCluster(into: Partial<Cluster>, opts: { masters: string[]; nodes: { name: string; env?: NodeJS.ProcessEnv }[]; readyMs?: number; env?: NodeJS.ProcessEnv }): Promise<void> {
  into.nats = await startNats();
  into.masters = [];
  into.nodes = [];
  for (const name of opts.masters) into.masters.push(await startMaster(into.nats.url, { ...opts.env, SKIFF_NODE_NAME: name }));
  for (const n of opts.nodes) into.nodes.push(await startNode(into.nats.url, n.name, { env: { ...opts.env, ...n.env } }));
  const client = (into.client = new ApiClient(await connectNats({ url: into.nats.url, name: 'test', persistent: true }), { timeoutMs: 5000 }));
  const ready = (n: Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const want = opts.nodes.length;
  await waitFor(`${want} Ready nodes`, async () => (await client.list<Node>('nodes')).items.filter(ready).length === want, opts.readyMs ?? 20_000);
}

/** Stops whatever startCluster got to: the client, the nodes, the masters, then nats-server. */
export async function stopCluster(c: Partial<Cluster>): Promise<void> {
  await c.client?.nc.close();
  for (const n of c.nodes ?? []) await n.stop();
  for (const m of c.masters ?? []) await m.stop();
  await c.nats?.stop();
}

/** The sum of a metric's samples whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `skiff` command: through its bin, as a user does (which runs dist/ while it is
 * current), or (`via`) straight from dist/ or from the sources.
 */
export async function skiff(args: string[], opts: { url?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; via?: 'bin' | 'dist' | 'sources' } = {}): Promise<RunResult> {
  const program = !opts.via || opts.via === 'bin' ? [join(ROOT, 'cli/skiff.js')] : programArgs('cli/main', opts.via === 'dist');
  const child = spawn(process.execPath, [...program, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...(opts.url ? { SKIFF_NATS_URL: opts.url } : {}), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  started.delete(child);
  return { code, stdout, stderr };
}

export function tempDir(prefix = 'skiff-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The process runs; a zombie waiting for init to reap it does not count. */
export function isAlive(pid: number): boolean {
  const s = processStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/**
 * A test body that, when it fails, first prints the last lines each of the processes wrote and
 * whether it still runs and answers: a kubelet or a scheduler that stops acting shows nothing else
 * in the log.
 */
export function withLogsOnFailure<C>(procs: (ctx: C) => ({ name: string; port: number; proc: Proc } | undefined)[], body: (ctx: C) => Promise<void>): (ctx: C) => Promise<void> {
  return async (ctx) => {
    try {
      await body(ctx);
    } catch (err) {
      for (const n of procs(ctx)) {
        if (!n) continue;
        const { exitCode, signalCode } = n.proc.child;
        const answers = await fetch(`http://127.0.0.1:${n.port}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => `/healthz ${r.status}`, (e) => `/healthz: ${(e as Error).name}`);
        const state = exitCode === null && signalCode === null ? `running, ${answers}` : `exited (${exitCode ?? signalCode})`;
        console.error(`\n  ${n.name} (${state}), its last lines:\n${n.proc.output().trimEnd().split('\n').slice(-15).map((l) => `    ${l.slice(0, 300)}`).join('\n')}`);
      }
      throw err;
    }
  };
}

export interface NodeProc {
  name: string;
  port: number;
  dataDir: string;
  proc: Proc;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** A test host (infra/hosts.sh): a network namespace with an address of its own. */
export interface TestHost {
  netns: string;
  address: string;
}

/** A real node process (kubelet), on a data directory of its own unless one is given; on a test host if one is given. */
export async function startNode(
  url: string, name: string,
  opts: { dataDir?: string; args?: string[]; env?: NodeJS.ProcessEnv; compiled?: boolean; host?: TestHost } = {},
): Promise<NodeProc> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? tempDir(`skiff-${name}-`);
  const argv = [...NODE_FLAGS, ...programArgs('actors/node/main', opts.compiled ?? false), '--name', name, ...(opts.args ?? [])];
  // On a test host: run inside its namespace, on its address, with /healthz reachable from here.
  const onHost = opts.host ? { SKIFF_NODE_ADDRESS: opts.host.address, SKIFF_STATUS_HOST: '0.0.0.0' } : {};
  const identity = opts.env?.SKIFF_CREDENTIALS === undefined ? await identityEnv(url, 'node', name) : {};
  const env = { SKIFF_NATS_URL: url, PORT: String(port), SKIFF_NODE_DATA_DIR: dataDir, SKIFF_WATCH_HEARTBEAT_MS: '500', ...identity, ...onHost, ...opts.env };
  const proc = opts.host
    ? spawnProc('ip', ['netns', 'exec', opts.host.netns, process.execPath, ...argv], { env })
    : spawnProc(process.execPath, argv, { env });
  await waitFor(`node ${name} on port ${port}`, () => healthy(port, opts.host?.address), 20_000).catch(async (err) => {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  return {
    name, port, dataDir, proc,
    metrics: () => fetchMetrics(port),
    stop: () => proc.stop(8000),
  };
}

/** A `skiff up` cluster from the repository's Procfile (the compiled programs), in a directory of its own. */
export interface UpCluster {
  /** Its directory: its Procfile, .env and .skiff. */
  dir: string;
  url: string;
  up: Proc;
  client: ApiClient;
  stop(): Promise<void>;
}

/**
 * Starts `skiff up -m FORMATION` on the repository's Procfile with absolute paths, in a temporary
 * directory with its own ports and .skiff, nothing shared with a cluster the user may be running;
 * resolves once `nodes` nodes are Ready. dist/ must be built (ensureDist).
 */
export async function startUp(formation: string, nodes: number, env: Record<string, string> = {}): Promise<UpCluster> {
  const dir = tempDir('skiff-up-cluster-');
  const procfile = readFileSync(join(ROOT, 'Procfile'), 'utf8').replace(/ (dist\/\S+)/g, (_m, file: string) => ` ${join(ROOT, file)}`);
  writeFileSync(join(dir, 'Procfile'), procfile);
  const natsPort = await freePort();
  // Several nats-servers: skiff up gives every process all their URLs (server N on natsPort + N − 1).
  const servers = Number(/(?:^|,)nats=(\d+)/.exec(formation)?.[1] ?? 1);
  const url = Array.from({ length: servers }, (_, i) => `nats://127.0.0.1:${natsPort + i}`).join(',');
  writeFileSync(join(dir, '.env'), [
    `SKIFF_NATS_PORT=${natsPort}`, `SKIFF_NATS_MONITOR_PORT=${await freePort()}`, ...(servers === 1 ? [`SKIFF_NATS_URL=${url}`] : []),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ].join('\n'));
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const up = spawnProc(process.execPath, [join(ROOT, 'cli/skiff.js'), 'up', '-f', join(dir, 'Procfile'), '-e', join(dir, '.env'), '-m', formation, '-p', String(base)], { cwd: dir });
  let client: ApiClient | undefined;
  const stop = async () => {
    await client?.nc.close().catch(() => {});
    await up.stop(15_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    client = new ApiClient(await connectNats({ url, name: 'test-up', persistent: true }), { timeoutMs: 5000, waitForApiserver: true });
    const c = client;
    await waitFor(`${nodes} Ready nodes`, async () => (await c.list<Node>('nodes').catch(() => ({ items: [] as Node[] }))).items
      .filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length === nodes, 60_000, 250);
    return { dir, url, up, client: c, stop };
  } catch (err) {
    const out = up.output().slice(-3000);
    await stop();
    throw new Error(`${(err as Error).message}\nskiff up said:\n${out}`);
  }
}

/** The README's hello app (examples/hello.yaml, namespace demo), made and waited for until its 3 replicas are available. */
export async function startHello(client: ApiClient): Promise<void> {
  for (const doc of parseAllDocuments(readFileSync(join(ROOT, 'examples/hello.yaml'), 'utf8'))) await client.create(doc.toJS() as KubeObject);
  await waitFor('3 hello replicas available', async () => (await client.get<Deployment>('deployments', 'hello', 'demo')).status?.availableReplicas === 3, 60_000, 250);
}
