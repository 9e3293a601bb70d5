// `skiff up`: the project's own Procfile runner. This file reads the command line and the files;
// runner.ts supervises the processes.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clientUrls } from '../../infra/nats-cluster.ts';
import { prepareClusterAuth } from '../../infra/auth.ts';
import { CA_FILE, defaultTlsDir, ensureCa, TlsError } from '../../infra/tls.ts';
import { defaultAuthDir } from '../../actors/platform/credentials.ts';
import { loadConfig, type Config } from '../../protocol/config.ts';
import {
  parseDotenv, parseFormation, parseNameList, parseProcfile, planInstances, MAX_PORT, PORT_STRIDE,
  DotenvError, ProcfileError, UsageError,
} from './procfile.ts';
import { runProcesses, type RunResult } from './runner.ts';
import { runningInstanceGroups } from '../../actors/cloud/local/instances.ts';

export const EXIT = { ok: 0, startupFailed: 1, usage: 2, killed: 3, failed: 4 } as const;

export const UP_OPTIONS = {
  procfile: { type: 'string', short: 'f' },
  env: { type: 'string', short: 'e' },
  formation: { type: 'string', short: 'm' },
  port: { type: 'string', short: 'p' },
  timeout: { type: 'string', short: 't' },
  ready: { type: 'string' },
  'ready-timeout': { type: 'string' },
  'no-restart': { type: 'boolean' },
  insecure: { type: 'boolean' },
  tls: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function helpText(cfg: Config): string {
  return `Usage: skiff up [options] [NAME...]

Runs the processes of a Procfile, each in its own process group, with prefixed output and
restarts after a crash, and stops them all on SIGINT, SIGTERM or SIGHUP: SIGTERM to each
process group, then SIGKILL to those still there after the timeout. If skiff up itself is
killed, its guardian stops them the same way (.skiff/up/guardian.log). With NAMEs, runs only
those Procfile entries (they keep their ports). The nodes the masters' cloud provider starts for
NodePools (recorded in .skiff/cloud) are stopped with the rest, and stop by themselves once skiff
up is gone; -m master=1,node=0 makes a cluster whose nodes all come from pools.

Options:
  -f, --procfile FILE        the Procfile (default ./Procfile); processes run in its directory
  -e, --env FILE             environment file (default ./.env, skipped if missing)
  -m, --formation SPEC       instances per process, e.g. all=1,master=2,node=3 (default 1 each)
  -p, --port BASE            base port (default PORT from the environment or .env, else ${cfg.basePort})
  -t, --timeout SECONDS      wait this long after SIGTERM before SIGKILL (default ${cfg.stopTimeoutMs / 1000})
      --ready NAMES          comma list of processes to start first, and wait for until ready:
                             until GET http://127.0.0.1:$PORT/healthz answers 2xx
                             (default nats if the Procfile has it; --ready '' for none)
      --ready-timeout SECONDS
                             how long to wait for them (default ${cfg.readyTimeoutMs / 1000})
      --no-restart           leave crashed processes stopped
      --insecure             no authentication: anyone who reaches NATS owns the cluster
      --tls                  TLS on every NATS connection, clients and routes: a CA of the
                             cluster's own in .skiff/tls (SKIFF_TLS_DIR), a certificate per server;
                             on from then on, while that CA is there
  -h, --help                 show this help

Each process runs as /bin/sh -c COMMAND in its own process group, with the environment, then
.env, and:
  PORT = BASE + ${PORT_STRIDE} × (position of its line among the Procfile's processes, from 0) + (N − 1)
  PS   = NAME.N, for instance N from 1
  e.g. with BASE 5000 and the lines nats, master, node: nats.1 5000, master.2 5101, node.3 5202.

With more than one nats (-m nats=3), they form one NATS cluster: server N takes client port
SKIFF_NATS_PORT + N − 1 (4222, 4223, ...), its monitor 8222 + N − 1 and its route port
6222 + N − 1, and every process is given SKIFF_NATS_URL listing them all (unless it is set). The
store then keeps a copy of everything on each of up to three servers (SKIFF_KV_REPLICAS), so one
server's death loses nothing and stops writes only while JetStream elects new leaders.

Nodes reach NATS through a fault link in their own process (SKIFF_NODE_FAULT_LINK=on, unless
set), a TCP proxy where skiff chaos puts latency, loss or a partition (network-delay,
network-loss, network-partition); it cost a kubelet 3% and 21% more CPU per pod start in two
paired runs of bench/pod-startup.ts.

Authentication (unless --insecure), when the Procfile runs nats: before starting, skiff up makes
an nkey identity per master and node of the formation, and the users admin and viewer, as files
(mode 0600) in .skiff/auth (SKIFF_AUTH_DIR), and the nats-servers' authorization from them. Each
process presents its own (.skiff/auth/<its name>.creds); skiff commands run here use admin.creds.
Existing identities are kept. More users: skiff auth create-user NAME --role ROLE.

A process that exits non-zero or by a signal is restarted after ${seconds(cfg.restartBackoffInitialMs)}, then twice as long each
time up to ${seconds(cfg.restartBackoffMaxMs)}; the delay resets once it has run ${seconds(cfg.restartBackoffResetMs)}. Exit code 0 means finished
(no restart). Exit code 127 on a first run means the command was not found (no restart).
Whatever a process left running in its process group when it ended is stopped (SIGTERM, then
SIGKILL after the timeout), before any restart.

Exit codes:
  0  stopped by a signal, or every process finished with code 0
  1  startup failure: unreadable or malformed Procfile or .env, or a --ready process
     that exited or was not ready in time
  2  usage error: bad option, formation, port or process name
  3  stopped by a signal, but some process group needed SIGKILL
  4  every process exited and at least one failed
`;
}

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

const parseCommandLine = (argv: string[]) => parseArgs({ args: argv, options: UP_OPTIONS, allowPositionals: true, strict: true });

/** Runs `skiff up` with `argv` (the words after `up`); resolves to the process exit code. */
export async function runUp(argv: string[]): Promise<number> {
  let cfg: Config;
  let args: ReturnType<typeof parseCommandLine>;
  try {
    cfg = loadConfig();
    args = parseCommandLine(argv);
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(helpText(cfg));
    return EXIT.ok;
  }
  const procfilePath = resolve(values.procfile ?? 'Procfile');
  const envPath = resolve(values.env ?? '.env');
  try {
    const stopTimeoutMs = secondsOption('--timeout', values.timeout, cfg.stopTimeoutMs);
    const readyTimeoutMs = secondsOption('--ready-timeout', values['ready-timeout'], cfg.readyTimeoutMs);
    const entries = parseProcfile(readText(procfilePath, 'Procfile', '-f')!);
    const envText = readText(envPath, 'env file', '-e', values.env === undefined);
    const dotenv = envText === undefined ? {} : parseDotenv(envText);

    const [base, baseFrom] = values.port !== undefined ? [values.port, '--port']
      : dotenv.PORT ? [dotenv.PORT, `PORT in ${envPath}`]
      : process.env.PORT ? [process.env.PORT, 'PORT in the environment'] : [String(cfg.basePort), 'SKIFF_BASE_PORT'];
    if (!/^\d+$/.test(base) || Number(base) < 1 || Number(base) > MAX_PORT) {
      throw new UsageError(`${baseFrom} ${JSON.stringify(base)}: must be a port number from 1 to ${MAX_PORT}`);
    }
    const formation = parseFormation(values.formation, entries.map((e) => e.name));
    const instances = planInstances(entries, formation, Number(base), positionals);
    if (instances.length === 0) throw new UsageError('the formation leaves nothing to run');
    const running = new Set(instances.map((i) => i.process));
    const readyFirst = values.ready === undefined ? (running.has('nats') ? ['nats'] : []) : parseNameList(values.ready);
    for (const name of readyFirst) {
      if (!running.has(name)) throw new UsageError(`--ready ${name}: not among the processes to run (${[...running].join(', ')})`);
    }

    const env = natsClusterEnv({ ...process.env, ...dotenv }, running.has('nats') ? formation.nats ?? 0 : 0);
    // Nodes reach NATS through a fault link of their own, where skiff chaos puts network faults.
    env.SKIFF_NODE_FAULT_LINK ||= 'on';
    // The local cloud provider's nodes end with this run, and are stopped with it.
    env.SKIFF_CLOUD_ANCHOR_PID ||= String(process.pid);
    const cloudDir = resolve(dirname(procfilePath), env.SKIFF_CLOUD_DIR || loadConfig({}).cloudDir);
    const notes: string[] = [];
    // Every instance's /metrics, for the masters' Prometheus discovery (/sd): nodes say where they are themselves.
    env.SKIFF_SD_TARGETS ||= instances.map((i) => `${i.process}-${i.number}@127.0.0.1:${i.port}`).join(',');
    if (running.has('nats') && !values.insecure) {
      // Every instance of the formation, named as it names itself (PS=node.2: node-2).
      const named = (p: string) => instances.filter((i) => i.process === p).map((i) => `${i.process}-${i.number}`);
      const authDir = resolve(dirname(procfilePath), defaultAuthDir(env));
      prepareClusterAuth(authDir, { masters: named('master'), nodes: named('node') });
      notes.push(`credentials in ${relative(process.cwd(), authDir) || '.'}: skiff commands run here are admin; others: --credentials ${join(relative(process.cwd(), authDir), 'viewer.creds')}`);
      // A credentials file from the environment names someone of another cluster.
      delete env.SKIFF_CREDENTIALS;
    } else if (values.insecure) {
      env.SKIFF_AUTH = 'off';
    }
    // TLS once asked for stays on: the CA's presence is the cluster's setting (delete it for plain connections).
    const caFile = join(resolve(dirname(procfilePath), defaultTlsDir(env)), CA_FILE);
    if (running.has('nats') && (values.tls || existsSync(caFile))) {
      const ca = ensureCa(dirname(caFile));
      env.SKIFF_NATS_CA = ca;
      notes.push(`TLS on: servers' certificates are signed by ${relative(process.cwd(), ca)}, which clients check them against${values.tls ? '' : ' (delete that directory for plain connections)'}`);
    }
    return exitCode(await runProcesses({
      dir: dirname(procfilePath),
      instances,
      readyFirst,
      env,
      notes: [...notes, ...(env.SKIFF_NATS_CLUSTER_SIZE ? [`${env.SKIFF_NATS_CLUSTER_SIZE} nats-servers form one cluster; for skiff commands elsewhere: export SKIFF_NATS_URL=${env.SKIFF_NATS_URL}`] : [])],
      restart: !values['no-restart'],
      backoff: { initialMs: cfg.restartBackoffInitialMs, maxMs: cfg.restartBackoffMaxMs, resetAfterMs: cfg.restartBackoffResetMs },
      stopTimeoutMs,
      readyTimeoutMs,
      pollMs: cfg.upPollMs,
      alsoStop: () => runningInstanceGroups(cloudDir),
    }));
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    if (err instanceof ProcfileError) return startupError(`${procfilePath}: ${err.message}`);
    if (err instanceof DotenvError) return startupError(`${envPath}: ${err.message}`);
    if (err instanceof StartupError || err instanceof TlsError) return startupError(err.message);
    throw err;
  }
}

export function exitCode(result: RunResult): number {
  switch (result.type) {
    case 'stopped': return result.killed ? EXIT.killed : EXIT.ok;
    case 'not-ready': return EXIT.startupFailed;
    case 'all-exited': return result.failed.length > 0 ? EXIT.failed : EXIT.ok;
  }
}

/**
 * More than one nats: they form one cluster (infra/nats-cluster.ts), and every process is given
 * every server's URL, so that it moves to another when its own dies. A SKIFF_NATS_URL set by the
 * user is kept.
 */
export function natsClusterEnv(env: NodeJS.ProcessEnv, natsServers: number): NodeJS.ProcessEnv {
  if (natsServers <= 1) return env;
  return {
    ...env,
    SKIFF_NATS_CLUSTER_SIZE: String(natsServers),
    SKIFF_NATS_URL: env.SKIFF_NATS_URL || clientUrls(env, natsServers).join(','),
  };
}

/** A file `skiff up` cannot start without, or cannot read. */
class StartupError extends Error { name = 'StartupError'; }

/** The file's text, or undefined if it is missing and `optional`. */
function readText(path: string, what: string, flag: string, optional = false): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && optional) return undefined;
    throw new StartupError(e.code === 'ENOENT' ? `no ${what} at ${path} (name another with ${flag} FILE)` : `cannot read ${what} ${path}: ${e.message}`);
  }
}

function secondsOption(flag: string, raw: string | undefined, defaultMs: number): number {
  if (raw === undefined) return defaultMs;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} ${JSON.stringify(raw)}: must be a number of seconds, e.g. 5 or 0.5`);
  return n * 1000;
}

function usageError(message: string): number {
  process.stderr.write(`skiff up: ${message}\nRun "skiff up --help" for usage.\n`);
  return EXIT.usage;
}

function startupError(message: string): number {
  process.stderr.write(`skiff up: ${message}\n`);
  return EXIT.startupFailed;
}
