// The controller-manager: one set of informers, kept warm in every master, and the controllers
// that act on them, which run only while this master holds the controller-manager lease.
import { Counter, type Registry } from 'prom-client';
import { NODE_LEASE_NAMESPACE } from '../../protocol/defaults.ts';
import type { ApiClient } from '../client/client.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { Informer } from '../client/informer.ts';
import type { LeaderOnly } from '../runtime/leader.ts';
import type { Logger } from '../platform/log.ts';
import type { Controller, ControllerConfig, ControllerContext, GossipView } from './context.ts';
import { DeploymentController } from './deployment/controller.ts';
import { EndpointsController } from './endpoints/controller.ts';
import { GarbageCollector } from './gc/controller.ts';
import { HpaController } from './hpa/controller.ts';
import { NodeLifecycleController } from './nodelifecycle/controller.ts';
import { ReplicaSetController } from './replicaset/controller.ts';
import type { InformerView } from './state-metrics.ts';

/** Registered once per process: a restarted controller-manager counts on. */
export function controllerManagerMetrics(registry: Registry): { syncs: ControllerContext['syncs'] } {
  return { syncs: new Counter({ name: 'skiff_controller_syncs_total', help: 'Controller syncs, by controller and result.', labelNames: ['controller', 'result'], registers: [registry] }) };
}

export interface ControllerManagerDeps {
  client: ApiClient;
  log: Logger;
  registry: Registry;
  metrics: ReturnType<typeof controllerManagerMetrics>;
  events: EventRecorder;
  cfg: ControllerConfig;
  watchDeadlineMs: number;
  gossip?: GossipView;
  /** Read the informers from outside while this runs: the state metrics, /sd. */
  views?: InformerView[];
}

export class ControllerManager implements LeaderOnly {
  readonly ctx: ControllerContext;
  private readonly controllers: Controller[];
  private resync?: NodeJS.Timeout;
  private readonly detach: (() => void)[];
  /** The current term of leadership; a lead() that outlives its term must not start acting. */
  private term?: object;

  constructor(deps: ControllerManagerDeps) {
    const opts = { deadlineMs: deps.watchDeadlineMs };
    this.ctx = {
      informers: {
        pods: new Informer(deps.client, 'pods', opts),
        replicasets: new Informer(deps.client, 'replicasets', opts),
        deployments: new Informer(deps.client, 'deployments', opts),
        nodes: new Informer(deps.client, 'nodes', opts),
        nodeLeases: new Informer(deps.client, 'leases', { ...opts, namespace: NODE_LEASE_NAMESPACE }),
        services: new Informer(deps.client, 'services', opts),
        endpoints: new Informer(deps.client, 'endpoints', opts),
        hpas: new Informer(deps.client, 'horizontalpodautoscalers', opts),
      },
      gossip: deps.gossip,
      events: deps.events,
      log: deps.log,
      cfg: deps.cfg,
      registry: deps.registry,
      syncs: deps.metrics.syncs,
    };
    this.controllers = [
      new ReplicaSetController(this.ctx),
      new DeploymentController(this.ctx),
      new NodeLifecycleController(this.ctx),
      new GarbageCollector(this.ctx),
      new EndpointsController(this.ctx),
      new HpaController(this.ctx),
    ];
    this.detach = (deps.views ?? []).map((v) => v.attach({ informers: this.ctx.informers, leading: () => this.ctx.writer !== undefined }));
  }

  start(): void {
    for (const c of this.controllers) c.register();
    for (const i of Object.values(this.ctx.informers)) i.start();
  }

  async synced(): Promise<void> {
    await Promise.all(Object.values(this.ctx.informers).map((i) => i.synced()));
  }

  /** Begins acting, every write fenced by `writer`. */
  async lead(writer: ApiClient): Promise<void> {
    const term = (this.term = {});
    await this.synced();
    if (this.term !== term) return;
    this.ctx.writer = writer;
    for (const c of this.controllers) c.resyncAll();
    this.resync = setInterval(() => { for (const c of this.controllers) c.resyncAll(); }, this.ctx.cfg.resyncMs);
  }

  follow(): void {
    this.term = undefined;
    this.ctx.writer = undefined;
    clearInterval(this.resync);
  }

  stop(): void {
    for (const d of this.detach) d();
    this.follow();
    for (const c of this.controllers) c.stop();
    for (const i of Object.values(this.ctx.informers)) i.stop();
  }
}
