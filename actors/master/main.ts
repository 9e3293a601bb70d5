// A master process: the apiserver, and the scheduler, controller-manager and cloud controller
// manager, each of which acts only while this master holds its leader lease (the others keep their caches warm to take over
// quickly), and a gossip member whose view the node lifecycle controller weighs. Serves /healthz
// and /metrics on PORT.
import { createActor, toPromise } from 'xstate';
import { loadConfig } from '../../protocol/config.ts';
import { parseServiceCidr } from '../apiserver/cluster-ips.ts';
import { parsePortRange } from '../apiserver/node-ports.ts';
import { largestMachine } from '../apiserver/node-pools.ts';
import { SYSTEM_NAMESPACE } from '../../protocol/defaults.ts';
import { ApiServer } from '../apiserver/index.ts';
import { ControllerManager, controllerManagerMetrics, parseSdTargets, serviceDiscovery, stateMetrics } from '../controller-manager/index.ts';
import { ApiClient } from '../client/client.ts';
import { EventRecorder } from '../runtime/events.ts';
import { leaderMetrics, type LeaderOnlyInput } from '../runtime/leader.ts';
import { Membership } from '../membership/index.ts';
import { createLogger } from '../platform/log.ts';
import { createRegistry, startStatusServer } from '../platform/metrics.ts';
import { Registry } from 'prom-client';
import { connectNats } from '../platform/nats.ts';
import { ownCredentials } from '../platform/credentials.ts';
import { exitOnFailure, instanceName, onShutdown, statusPort } from '../platform/process.ts';
import { startProfiling } from '../platform/profile.ts';
import { Scheduler, schedulerMetrics } from '../scheduler/index.ts';
import { CloudControllerManager, cloudControllerManagerMetrics } from '../cloud/manager.ts';
import { LocalProvider } from '../cloud/local/provider.ts';
import { masterMachine, type LeaderOnlyPart } from './master.machine.ts';

const name = instanceName('master');
// Which parts run here (all by default): the benchmark runs each in a process of its own to
// measure them apart.
const components = new Set((process.env.SKIFF_MASTER_COMPONENTS || 'apiserver,scheduler,controller-manager,cloud-controller-manager').split(',').map((c) => c.trim()));
const log = createLogger({ component: 'master', instance: name });
const cfg = (() => {
  try {
    const c = loadConfig();
    // Checked here, where a mistake stops the process with its message, not at each store opening.
    parseServiceCidr(c.serviceCidr);
    largestMachine(c.cloudMachine);
    parsePortRange(c.nodePortRange);
    return c;
  } catch (err) {
    log.error((err as Error).message);
    process.exit(2);
  }
})();
const registry = createRegistry({ component: 'master', node: name });

const nc = await connectNats({ url: cfg.natsUrl, name, persistent: true, credentials: ownCredentials(name) });
log.info('connected to NATS', { url: cfg.natsUrl });
const apiserver = components.has('apiserver') ? new ApiServer({ nc, cfg, log: log.child({ actor: 'apiserver' }), registry }) : undefined;
const membership = new Membership({ nc, name, role: 'master', cfg, log: log.child({ actor: 'membership' }), registry });

const client = new ApiClient(nc, { timeoutMs: cfg.requestTimeoutMs, waitForApiserver: true });
const watchDeadlineMs = cfg.watchHeartbeatMs * 2.5;
const metrics = leaderMetrics(registry);
// Lease requests must not hang on an apiserver that stopped answering: short attempts, retried
// within the renew deadline.
const electionClient = client.withTimeouts(cfg.leaderRenewDeadlineMs, cfg.leaseAttemptMs);
const election = (lease: string, actor: string): Omit<LeaderOnlyInput, 'component'> => ({
  client: electionClient, writer: client, metrics, log: log.child({ actor }),
  cfg: { lease: `${SYSTEM_NAMESPACE}/${lease}`, identity: name, leaseDurationMs: cfg.leaderLeaseMs, renewDeadlineMs: cfg.leaderRenewDeadlineMs, retryPeriodMs: cfg.leaderRetryMs },
});

// Metrics and event recorders are made once: a restarted component counts on. The object-state
// metrics and Prometheus' discovery (/sd) read the controller-manager's informers.
const discovery = serviceDiscovery(parseSdTargets(process.env.SKIFF_SD_TARGETS));
// Labelled by the objects they describe (a pod's node is its node), not by this process.
const stateRegistry = new Registry();
const views = [stateMetrics(stateRegistry), discovery];
const parts: { scheduler?: LeaderOnlyPart; controllerManager?: LeaderOnlyPart; cloudControllerManager?: LeaderOnlyPart } = {};
if (components.has('scheduler')) {
  const deps = {
    client, log: log.child({ actor: 'scheduler' }), metrics: schedulerMetrics(registry), watchDeadlineMs,
    events: new EventRecorder(client, { component: 'default-scheduler', ratePerSecond: 50, burst: 200, registry }),
  };
  parts.scheduler = { make: () => new Scheduler(deps), election: election('skiff-scheduler', 'scheduler') };
}
if (components.has('controller-manager')) {
  const deps = {
    client, log: log.child({ actor: 'controller-manager' }), registry, metrics: controllerManagerMetrics(registry), watchDeadlineMs, gossip: membership, views,
    events: new EventRecorder(client, { component: 'controller-manager', ratePerSecond: 50, burst: 200 }),
    cfg: { nodeGraceMs: cfg.nodeGraceMs, nodeEvictionGraceMs: cfg.nodeEvictionGraceMs, nodeMonitorMs: cfg.nodeMonitorMs, resyncMs: cfg.controllerResyncMs, gcPeriodMs: cfg.gcPeriodMs, workers: cfg.controllerWorkers, statusSyncDelayMs: cfg.statusSyncDelayMs, hpaSyncMs: cfg.hpaSyncMs },
  };
  parts.controllerManager = { make: () => new ControllerManager(deps), election: election('skiff-controller-manager', 'controller-manager') };
}

if (components.has('cloud-controller-manager') && cfg.cloudProvider === 'local') {
  const ccmLog = log.child({ actor: 'cloud-controller-manager' });
  const provider = new LocalProvider(cfg, ccmLog);
  const deps = {
    client, provider, log: ccmLog, metrics: cloudControllerManagerMetrics(registry), watchDeadlineMs,
    events: new EventRecorder(client, { component: 'cloud-controller-manager', ratePerSecond: 50, burst: 200 }),
    cfg: { workers: cfg.controllerWorkers, statusSyncDelayMs: cfg.statusSyncDelayMs, syncMs: cfg.cloudSyncMs },
  };
  parts.cloudControllerManager = { make: () => new CloudControllerManager(deps), election: election('skiff-cloud-controller-manager', 'cloud-controller-manager') };
}

const master = createActor(masterMachine, {
  input: { nc, log, apiserver, membership, parts, restart: { initialMs: cfg.crashBackoffInitialMs, maxMs: cfg.crashBackoffMaxMs, resetAfterMs: cfg.crashBackoffResetMs }, leaveTimeoutMs: cfg.leaveTimeoutMs,
    apiserverTiming: { retryMs: cfg.apiserverRetryMs, sweepMs: cfg.namespaceSweepMs } },
}).start();

const http = await startStatusServer({
  port: statusPort(),
  registry,
  unlabelled: stateRegistry,
  routes: { '/sd': () => discovery.targets() },
  health: () => {
    const served = master.getSnapshot().children.apiserver?.getSnapshot();
    return !apiserver || served?.matches({ running: 'serving' }) ? null : 'apiserver is not serving yet';
  },
});
log.info('status server listening', { port: (http.address() as { port: number }).port });

const stopProfiling = startProfiling();
const shutdown = async () => {
  stopProfiling?.();
  http.close();
  await nc.drain().catch(() => {});
};
onShutdown(log, async () => {
  master.send({ type: 'STOP' });
  await toPromise(master);
  await shutdown();
});
// A component the master cannot do without failed: the root has logged why and stopped the tree.
exitOnFailure(toPromise(master), log, shutdown);
