// What every controller of the controller-manager shares: the informers (kept warm whether or
// not this process leads), the fenced writer while it leads, events and logging.
import type { Counter, Registry } from 'prom-client';
import type { Deployment, Endpoints, HorizontalPodAutoscaler, Lease, MemberState, Node, Pod, ReplicaSet, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import { WorkQueue } from '../runtime/workqueue.ts';

export interface Informers {
  pods: Informer<Pod>;
  replicasets: Informer<ReplicaSet>;
  deployments: Informer<Deployment>;
  nodes: Informer<Node>;
  nodeLeases: Informer<Lease>;
  services: Informer<Service>;
  endpoints: Informer<Endpoints>;
  hpas: Informer<HorizontalPodAutoscaler>;
}

export interface ControllerConfig {
  /** A node whose lease is older than this is unreachable. */
  nodeGraceMs: number;
  /** A node whose lease is late but which gossip still hears is evicted only after this. */
  nodeEvictionGraceMs: number;
  nodeMonitorMs: number;
  resyncMs: number;
  gcPeriodMs: number;
  workers: number;
  /** Status-only changes are synced after this delay, so that a burst of them costs one sync. */
  statusSyncDelayMs: number;
  /** How often each HorizontalPodAutoscaler looks at its figures. */
  hpaSyncMs: number;
}

/** Gossip's view of the members, as this master sees it. */
export interface GossipView {
  state(name: string): MemberState | undefined;
  /** A dead member that died by a suspicion that ran out (a slow or cut link can cause it), not by nobody being at its address. */
  diedBySuspicion(name: string): boolean;
  onChange(listener: (member: { name: string; state: MemberState }, previous: { state: MemberState } | undefined) => void): () => void;
}

export interface ControllerContext {
  informers: Informers;
  gossip?: GossipView;
  /** Set while this controller-manager leads; every write goes through it. */
  writer?: ApiClient;
  events: EventRecorder;
  log: Logger;
  cfg: ControllerConfig;
  registry: Registry;
  syncs: Counter<'controller' | 'result'>;
}

export interface Controller {
  name: string;
  /** Registers informer handlers; called once. */
  register(): void;
  /** Leadership began: look at everything. */
  resyncAll(): void;
  stop(): void;
}

/** What a QueueController needs of its context (the cloud controller manager's has other informers). */
export interface QueueContext {
  writer?: ApiClient;
  log: Logger;
  cfg: Pick<ControllerConfig, 'workers' | 'statusSyncDelayMs'>;
  syncs: Counter<'controller' | 'result'>;
}

/**
 * The usual shape of a controller: handlers enqueue keys, a worker syncs a key at a time. A sync
 * while not leading does nothing; leading again resyncs everything.
 */
export abstract class QueueController<C extends QueueContext = ControllerContext> implements Controller {
  abstract readonly name: string;
  protected readonly queue: WorkQueue<string>;

  constructor(protected readonly ctx: C) {
    this.queue = new WorkQueue<string>({
      concurrency: ctx.cfg.workers,
      baseDelayMs: 5,
      maxDelayMs: 30_000,
      process: async (key) => {
        const writer = this.ctx.writer;
        if (!writer) return;
        try {
          await this.sync(key, writer);
          this.ctx.syncs.inc({ controller: this.name, result: 'ok' });
        } catch (err) {
          this.ctx.syncs.inc({ controller: this.name, result: 'error' });
          throw err;
        }
      },
      onError: (key, err, retries) => { if (retries > 2) this.ctx.log.warn('sync failed; retrying', { controller: this.name, key, err }); },
    });
  }

  abstract register(): void;
  abstract resyncAll(): void;
  protected abstract sync(key: string, writer: ApiClient): Promise<void>;

  enqueue(key: string): void {
    if (this.ctx.writer) this.queue.add(key);
  }

  /** For changes that only move status counts: many of them in a burst make one sync. */
  enqueueSoon(key: string): void {
    if (this.ctx.writer) this.queue.addAfter(key, this.ctx.cfg.statusSyncDelayMs);
  }

  stop(): void {
    this.queue.shutdown();
  }
}
