// A master process: the apiserver, and the scheduler and controller-manager, each of which acts
// only while this master holds its leader lease (the others keep their caches warm to take over
// quickly), and a gossip member whose view the node lifecycle controller weighs. Serves /healthz
// and /metrics on PORT.
import { createActor, fromCallback } from 'xstate';
import { loadConfig } from '../../protocol/config.ts';
import { SYSTEM_NAMESPACE } from '../../protocol/defaults.ts';
import { startApiserver } from '../apiserver/index.ts';
import { ControllerManager } from '../controller-manager/index.ts';
import { ApiClient } from '../client/client.ts';
import { EventRecorder } from '../runtime/events.ts';
import { createLeaderMachine, leaderMetrics, type LeaderWorkInput } from '../runtime/leader.ts';
import { joinGossip } from '../membership/index.ts';
import { createLogger } from '../platform/log.ts';
import { createRegistry, startStatusServer } from '../platform/metrics.ts';
import { connectNats } from '../platform/nats.ts';
import { instanceName, onShutdown, statusPort } from '../platform/process.ts';
import { startProfiling } from '../platform/profile.ts';
import { Scheduler, schedulerMetrics } from '../scheduler/index.ts';

const name = instanceName('master');
// Which parts run here (all by default): the benchmark runs each in a process of its own to
// measure them apart.
const components = new Set((process.env.SKIFF_MASTER_COMPONENTS || 'apiserver,scheduler,controller-manager').split(',').map((c) => c.trim()));
const log = createLogger({ component: 'master', instance: name });
const cfg = loadConfig();
const registry = createRegistry({ component: 'master', node: name });

const nc = await connectNats({ url: cfg.natsUrl, name, persistent: true });
log.info('connected to NATS', { url: cfg.natsUrl });
const apiserver = components.has('apiserver') ? startApiserver({ nc, cfg, log: log.child({ actor: 'apiserver' }), registry }) : undefined;

const { membership, leave } = joinGossip({ nc, name, role: 'master', cfg, log: log.child({ actor: 'membership' }), registry });

const client = new ApiClient(nc, { timeoutMs: cfg.requestTimeoutMs, waitForApiserver: true });
const watchDeadlineMs = cfg.watchHeartbeatMs * 2.5;

const scheduler = new Scheduler({
  client, log: log.child({ actor: 'scheduler' }), metrics: schedulerMetrics(registry), watchDeadlineMs,
  events: new EventRecorder(client, { component: 'default-scheduler', ratePerSecond: 50, burst: 200, registry }),
});
const controllers = new ControllerManager({
  client, log: log.child({ actor: 'controller-manager' }), registry, watchDeadlineMs, gossip: membership,
  events: new EventRecorder(client, { component: 'controller-manager', ratePerSecond: 50, burst: 200 }),
  cfg: { nodeGraceMs: cfg.nodeGraceMs, nodeEvictionGraceMs: cfg.nodeEvictionGraceMs, nodeMonitorMs: cfg.nodeMonitorMs, resyncMs: cfg.controllerResyncMs, gcPeriodMs: cfg.gcPeriodMs, workers: cfg.controllerWorkers, statusSyncDelayMs: cfg.statusSyncDelayMs },
});

const metrics = leaderMetrics(registry);
// Lease requests must not hang on an apiserver that stopped answering: short attempts, retried
// within the renew deadline.
const electionClient = client.withTimeouts(cfg.leaderRenewDeadlineMs, cfg.leaseAttemptMs);
const elect = (lease: string, component: { lead(w: ApiClient): Promise<void>; follow(): void }) => {
  const work = fromCallback<{ type: string }, LeaderWorkInput>(({ input }) => {
    void component.lead(client.fenced(input.fence));
    return () => component.follow();
  });
  return createActor(createLeaderMachine(work), {
    input: {
      client: electionClient, metrics, log: log.child({ actor: lease }),
      cfg: { lease: `${SYSTEM_NAMESPACE}/${lease}`, identity: name, leaseDurationMs: cfg.leaderLeaseMs, renewDeadlineMs: cfg.leaderRenewDeadlineMs, retryPeriodMs: cfg.leaderRetryMs },
    },
  });
};

// The control loops start once this master's apiserver serves (any apiserver would do, but a
// master alone must not spin on an empty queue group).
await apiserver?.ready;
const leaders: ReturnType<typeof elect>[] = [];
if (components.has('scheduler')) {
  scheduler.start();
  leaders.push(elect('skiff-scheduler', scheduler));
}
if (components.has('controller-manager')) {
  controllers.start();
  leaders.push(elect('skiff-controller-manager', controllers));
}
for (const l of leaders) l.start();

const http = await startStatusServer({
  port: statusPort(),
  registry,
  health: () => (!apiserver || apiserver.actor.getSnapshot().matches({ running: 'serving' }) ? null : 'apiserver is not serving yet'),
});
log.info('status server listening', { port: (http.address() as { port: number }).port });

const stopProfiling = startProfiling();
onShutdown(log, async () => {
  stopProfiling?.();
  await leave();
  for (const l of leaders) l.stop();
  scheduler.stop();
  controllers.stop();
  apiserver?.actor.send({ type: 'STOP' });
  http.close();
  await nc.drain();
});
