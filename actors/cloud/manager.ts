// The cloud controller manager: the fourth part of a master, leader-elected on its own lease like
// the scheduler and the controller-manager, and an actor in the master's tree (a LeaderOnly that
// leaderOnlyMachine runs). Its informers stay warm in every master; its controllers act only while
// this master leads: the cloud node controller, the cloud node lifecycle controller, the service
// (load balancer) controller and the node pool controller. Losing the lead lets go of what the
// provider serves in this process (the local balancers' listeners); the next leader takes them up.
import type { Registry } from 'prom-client';
import type { Node, NodePool, Pod, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import type { Controller } from '../controller-manager/context.ts';
import type { Logger } from '../platform/log.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { LeaderOnly } from '../runtime/leader.ts';
import type { CloudConfig, CloudContext } from './context.ts';
import { CloudNodeLifecycleController } from './node-lifecycle.ts';
import { CloudNodeController } from './node-controller.ts';
import { NodePoolController } from './nodepool/controller.ts';
import type { CloudProvider } from './provider.ts';
import { ServiceController } from './service-controller.ts';
import { Counter } from 'prom-client';

/** Registered once per process: a restarted cloud controller manager counts on. */
export function cloudControllerManagerMetrics(registry: Registry): { syncs: CloudContext['syncs'] } {
  return { syncs: new Counter({ name: 'skiff_cloud_controller_syncs_total', help: 'Cloud controller syncs, by controller and result.', labelNames: ['controller', 'result'], registers: [registry] }) };
}

export interface CloudControllerManagerDeps {
  client: ApiClient;
  provider: CloudProvider;
  log: Logger;
  events: EventRecorder;
  metrics: ReturnType<typeof cloudControllerManagerMetrics>;
  cfg: CloudConfig;
  watchDeadlineMs: number;
}

export class CloudControllerManager implements LeaderOnly {
  readonly ctx: CloudContext;
  private readonly controllers: Controller[];
  private term?: object;

  constructor(deps: CloudControllerManagerDeps) {
    const opts = { deadlineMs: deps.watchDeadlineMs };
    this.ctx = {
      informers: {
        nodes: new Informer<Node>(deps.client, 'nodes', opts),
        pods: new Informer<Pod>(deps.client, 'pods', opts),
        services: new Informer<Service>(deps.client, 'services', opts),
        nodepools: new Informer<NodePool>(deps.client, 'nodepools', opts),
      },
      provider: deps.provider, events: deps.events, log: deps.log, cfg: deps.cfg, syncs: deps.metrics.syncs,
    };
    this.controllers = [new CloudNodeController(this.ctx), new CloudNodeLifecycleController(this.ctx), new ServiceController(this.ctx), new NodePoolController(this.ctx)];
  }

  start(): void {
    for (const c of this.controllers) c.register();
    for (const i of Object.values(this.ctx.informers)) i.start();
  }

  async lead(writer: ApiClient): Promise<void> {
    const term = (this.term = {});
    await Promise.all(Object.values(this.ctx.informers).map((i) => i.synced()));
    if (this.term !== term) return;
    this.ctx.writer = writer;
    for (const c of this.controllers) c.resyncAll();
  }

  follow(): void {
    this.term = undefined;
    const led = this.ctx.writer !== undefined;
    this.ctx.writer = undefined;
    if (led) void this.ctx.provider.release().catch((err: Error) => this.ctx.log.warn('cloud provider: could not let go', { err: err.message }));
  }

  stop(): void {
    this.follow();
    for (const c of this.controllers) c.stop();
    for (const i of Object.values(this.ctx.informers)) i.stop();
  }
}
