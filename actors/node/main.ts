// A worker node process: the kubelet, kube-proxy and a gossip member. kube-proxy stops sending
// new connections to endpoints on members gossip has declared dead. Serves /healthz and /metrics
// on PORT.
import { parseArgs } from 'node:util';
import { createActor, toPromise } from 'xstate';
import { ConfigError, EXIT_WITH_POLL_MS, loadConfig, type Config } from '../../protocol/config.ts';
import { ApiClient } from '../client/client.ts';
import { EventRecorder } from '../runtime/events.ts';
import { Informer } from '../client/informer.ts';
import { checkProxyMode, KubeProxy, nftablesFor } from '../kube-proxy/index.ts';
import type { Endpoints, Service } from '../../protocol/types.ts';
import { createLogger } from '../platform/log.ts';
import { Membership } from '../membership/index.ts';
import { createRegistry, startStatusServer } from '../platform/metrics.ts';
import { connectNats } from '../platform/nats.ts';
import { FaultLink } from '../platform/fault-link.ts';
import { ownCredentials } from '../platform/credentials.ts';
import { nodeNameProblem } from '../../protocol/identity.ts';
import { exitOnFailure, instanceName, onShutdown, statusPort } from '../platform/process.ts';
import { startProfiling } from '../platform/profile.ts';
import { nodeMachine } from './node.machine.ts';
import {
  claimDataDir, DataDirInUse, detectCgroups, Kubelet, kubeletConfig, NodeConfigError, ProcessRuntime, publishUsage, realProber, registerPodMetrics, serveNode,
  startReaper, stopRecordedGroups, WATCHDOG_MODES, type PodLookup,
} from '../kubelet/index.ts';

const HELP = `Usage: node --import tsx actors/node/main.ts [--name NAME] [--keep-pods]

A skiff worker node: registers a Node, renews its Lease, runs the pods bound to it, serves
every service's ports (kube-proxy), and joins the gossip group (SWIM) under its name. On SIGTERM
it announces that it leaves the group, then stops its pods (a previous run's too, if the signal
comes before it has reached NATS). If it ends any other way (SIGKILL, a
crash), a reaper it left behind kills its pods' processes once SKIFF_NODE_ORPHAN_GRACE_MS (default
${loadConfig({}).nodeOrphanGraceMs / 1000} s; 0 for no reaper) has passed without a node started again on the same data directory, which
re-adopts them.

Options:
  --name NAME    node name (default: SKIFF_NODE_NAME, else from PS=node.N as node-N)
  --keep-pods    on SIGTERM, leave the pods' processes running for the next start to re-adopt
  -h, --help     show this help

Environment: SKIFF_NATS_URL, SKIFF_NODE_ADDRESS (node-N: 127.0.1.N, so that nodes sharing a host
each have an address for their node ports; otherwise 127.0.0.1), SKIFF_NODE_CPU, SKIFF_NODE_MEMORY
(default: the host's), SKIFF_NODE_LABELS (k=v,...), SKIFF_NODE_TAINTS (key[=value]:Effect,...: the
Node is made with them), SKIFF_NODE_DATA_DIR (.skiff/nodes/NAME), SKIFF_EXIT_WITH_PID (stop, as on
SIGTERM, once that process is gone: a cloud provider's nodes end with their cluster),
SKIFF_NODE_FAULT_LINK (on: NATS through a proxy of the node's own, where skiff chaos
puts network faults), SKIFF_MEMORY_LIMIT_MODE (auto|cgroup|watchdog), SKIFF_PROXY_MODE (userspace|nftables; nftables
needs root and nft), SKIFF_GOSSIP_SEEDS (members to join through; default: whoever answers on the
join subject), and the SKIFF_* timings in protocol/config.ts.`;

let args;
try {
  args = parseArgs({ options: { name: { type: 'string' }, 'keep-pods': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
} catch (err) {
  console.error(`node: ${(err as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(HELP);
  process.exit(0);
}

const name = args.values.name ?? instanceName('node');
const badName = nodeNameProblem(name);
if (badName) {
  console.error(`error: --name ${name}: ${badName}`);
  process.exit(2);
}
// Nodes of a local cluster share one host: each gets a loopback address of its own, where its
// kube-proxy listens for every service port.
const numbered = /-(\d+)$/.exec(name);
if (!process.env.SKIFF_NODE_ADDRESS && numbered && Number(numbered[1]) >= 1 && Number(numbered[1]) <= 254) {
  process.env.SKIFF_NODE_ADDRESS = `127.0.1.${Number(numbered[1])}`;
}
const log = createLogger({ component: 'node', node: name });
// What a signal does grows with what has started: at first, nothing to stop.
let stop = async (): Promise<void> => {};
onShutdown(log, () => stop());
// A cloud provider's node ends with its cluster: once that process is gone, stop as on SIGTERM.
const anchor = Number(process.env.SKIFF_EXIT_WITH_PID || 0);
if (anchor > 0) {
  const watch = setInterval(() => {
    try {
      process.kill(anchor, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return;
      clearInterval(watch);
      log.info('the process this node lives with is gone; stopping', { pid: anchor });
      process.kill(process.pid, 'SIGTERM');
    }
  }, EXIT_WITH_POLL_MS);
  watch.unref();
}
let cfg: Config;
let kcfg;
const cgroups = (() => {
  try {
    cfg = loadConfig();
    checkProxyMode(cfg.proxyMode);
    const found = detectCgroups(name, cfg.memoryLimitMode);
    kcfg = kubeletConfig(name, cfg, found?.modes ?? WATCHDOG_MODES);
    return found;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof NodeConfigError) {
      log.error((err as Error).message);
      process.exit(2);
    }
    throw err;
  }
})();
if (!cfg || !kcfg) process.exit(2);
if (cfg.memoryLimitMode === 'cgroup' && !cgroups) {
  log.error('SKIFF_MEMORY_LIMIT_MODE=cgroup, but this host gives no usable cgroup v2 with the memory controller; use auto or watchdog');
  process.exit(2);
}
log.info('limits', { memory: kcfg.identity.modes.memory, cpu: kcfg.identity.modes.cpu, dataDir: kcfg.dataDir });
try {
  claimDataDir(kcfg.dataDir);
} catch (err) {
  if (!(err instanceof DataDirInUse)) throw err;
  log.error(err.message);
  process.exit(2);
}
// Kills this node's containers if it ends without a clean stop and nothing claims its directory again.
const reaper = cfg.nodeOrphanGraceMs > 0 ? startReaper(kcfg.dataDir, cfg.nodeOrphanGraceMs) : undefined;
const keepPods = args.values['keep-pods'] === true;
// A signal before the kubelet runs (NATS can keep the connect waiting for ever) finds the pods a
// previous run left, adopted by nobody: --keep-pods leaves them for the next start; otherwise
// they are stopped now rather than by the reaper after its grace. Either way the reaper stands down.
const dataDir = kcfg.dataDir;
const shutdownGraceMs = cfg.nodeShutdownGraceMs;
let stoppingEarly = false;
stop = async () => {
  stoppingEarly = true;
  if (!keepPods) {
    const stopped = await stopRecordedGroups(dataDir, shutdownGraceMs);
    if (stopped.length) log.info('stopped before the kubelet ran: stopped the containers of the last run', { groups: stopped });
  }
  reaper?.standDown();
};

const registry = createRegistry({ component: 'node', node: name });
// The fault link (SKIFF_NODE_FAULT_LINK=on): NATS reached through a proxy of the node's own, where skiff chaos puts network faults.
const link = cfg.nodeFaultLink === 'on' ? new FaultLink({ upstreams: cfg.natsUrl.split(','), dir: dataDir, log: log.child({ actor: 'fault-link' }) }) : undefined;
const natsUrl = link ? await link.start() : cfg.natsUrl;
if (link) log.info('NATS through the fault link', { url: natsUrl, servers: cfg.natsUrl });
const nc = await connectNats({ url: natsUrl, name, persistent: true, credentials: ownCredentials(name), ...(link ? { ignoreClusterUpdates: true } : {}) });
// Stopped while connecting: the early stop is under way and ends the process; the kubelet must
// not start and adopt the containers it is stopping.
if (stoppingEarly) await new Promise(() => {});
const membership = new Membership({ nc, name, role: 'node', cfg, log: log.child({ actor: 'membership' }), registry });
const client = new ApiClient(nc, { origin: name, timeoutMs: cfg.requestTimeoutMs, waitForApiserver: true });
const runtime = new ProcessRuntime();
const watchDeadlineMs = cfg.watchHeartbeatMs * 2.5;
const services = new Informer<Service>(client, 'services', { deadlineMs: watchDeadlineMs });
const endpoints = new Informer<Endpoints>(client, 'endpoints', { deadlineMs: watchDeadlineMs });
const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: realProber(runtime), log: log.child({ actor: 'kubelet' }), registry, cgroups });
const events = new EventRecorder(client, { component: 'kube-proxy', host: name, ratePerSecond: 5, burst: 20 });
const gone = (node: string) => {
  const state = membership.state(node);
  return state === 'dead' || state === 'left';
};
const proxyLog = log.child({ actor: 'kube-proxy' });
const nftables = nftablesFor(cfg.proxyMode, name, proxyLog);
const proxy = new KubeProxy({ client, nodeName: name, address: kcfg.identity.address, services, endpoints, events, log: proxyLog, registry, isDead: gone, nftables });
// What kube-proxy forwarded to each pod, for the autoscaler: in userspace mode only (the kernel counts nothing).
const traffic = nftables ? undefined : () => proxy.proxy.trafficCounts();
// What the pods use, on /metrics: read from the kubelet's pods while it serves them.
let runningPods: PodLookup | undefined;
registerPodMetrics(registry, () => runningPods?.all() ?? []);
const root = createActor(nodeMachine, {
  input: {
    nc, log, membership, informers: { services, endpoints }, proxy, keepPods, shutdownGraceMs, leaveTimeoutMs: cfg.leaveTimeoutMs,
    kubelet: {
      kubelet, log: log.child({ actor: 'kubelet' }), retryMs: cfg.kubeletRetryMs, logRotateMs: cfg.logRotateMs,
      serve: (pods) => {
        runningPods = pods;
        const stopServing = serveNode(nc, kubelet, pods, log);
        const stopPublishing = publishUsage(nc, name, () => pods.all(), cfg.metricsPublishMs, traffic);
        return () => {
          runningPods = undefined;
          stopPublishing();
          stopServing();
        };
      },
    },
  },
}).start();

let http: Awaited<ReturnType<typeof startStatusServer>> | undefined;
let stopProfiling: (() => void) | undefined;
const finish = async () => {
  stopProfiling?.();
  http?.close();
  await nc.drain().catch(() => {});
  link?.close();
};
stop = async () => {
  root.send({ type: 'STOP' });
  const { kubeletStopped } = await toPromise(root);
  // Stopped, or left running on purpose: the reaper has nothing to do. Otherwise it cleans up after the grace.
  if (kubeletStopped) reaper?.standDown();
  await finish();
};
// A part the node cannot do without failed: the root has logged why and drained the pods.
exitOnFailure(toPromise(root), log, async (output) => {
  if (output?.kubeletStopped) reaper?.standDown();
  await finish();
});
http = await startStatusServer({
  port: statusPort(),
  registry,
  health: () => {
    const kubeletState = root.getSnapshot().children.kubelet?.getSnapshot();
    return kubeletState?.matches('active') ? null : `kubelet is ${JSON.stringify(kubeletState?.value ?? 'stopped')}`;
  },
});
stopProfiling = startProfiling();
