// The scheduler: it keeps a cache of nodes and of what the pods on them request, takes pending
// pods from a queue, filters and scores nodes, and binds. Like Kubernetes' scheduler it assumes
// optimistically: the chosen node is charged for the pod at once and the bind runs in the
// background, so the next pod is scheduled without waiting; a failed bind undoes the assumption.
// A pod no node can take gets PodScheduled=False with the reasons, an Event, and another try
// whenever nodes or pods change.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SCHEDULER_BIND_RETRY_MS, SCHEDULER_UNSCHEDULABLE_RETRY_MS } from '../../protocol/config.ts';
import { Conflict, NotFound, StaleLeader } from '../../protocol/errors.ts';
import { deepEqual } from '../../protocol/merge-patch.ts';
import type { Node, Pod } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { LeaderOnly } from '../runtime/leader.ts';
import { Informer, objectKey } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import { firstFailure, podFacts, unschedulableMessage } from './filters.ts';
import { account, controllerUid, emptyNodeInfo, nodeInfoFrom, type NodeInfo } from './node-info.ts';
import { pickNode } from './scores.ts';

export const SCHEDULER_NAME = 'default-scheduler';
const BATCH = 100;
const MAX_BINDS_IN_FLIGHT = 256;

export interface SchedulerMetrics {
  scheduled: Counter;
  unschedulable: Counter;
  bindFailures: Counter<'reason'>;
  e2e: Histogram;
  pending: Gauge;
}

export function schedulerMetrics(registry: Registry): SchedulerMetrics {
  const registers = [registry];
  return {
    scheduled: new Counter({ name: 'skiff_scheduler_binds_total', help: 'Pods bound to a node.', registers }),
    unschedulable: new Counter({ name: 'skiff_scheduler_unschedulable_total', help: 'Scheduling attempts that found no node.', registers }),
    bindFailures: new Counter({ name: 'skiff_scheduler_bind_failures_total', help: 'Binds the apiserver refused, by reason.', labelNames: ['reason'], registers }),
    e2e: new Histogram({
      name: 'skiff_scheduler_pod_scheduling_duration_seconds', help: 'From pod creation to its bind being accepted.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    }),
    pending: new Gauge({ name: 'skiff_scheduler_pending_pods', help: 'Pods waiting to be scheduled.', registers }),
  };
}

/** How many feasible nodes to find before choosing, as Kubernetes' percentageOfNodesToScore. */
export function feasibleTarget(nodes: number): number {
  const percent = Math.max(5, 50 - nodes / 125);
  return Math.max(100, Math.floor((nodes * percent) / 100));
}

function scheduleRelevant(n: NodeInfo): unknown {
  return [n.ready, n.unschedulable, n.labels, n.taints, n.allocatable];
}

export interface SchedulerDeps {
  /** For the informers; writes go through the fenced client `lead` is given. */
  client: ApiClient;
  log: Logger;
  events: EventRecorder;
  metrics: SchedulerMetrics;
  watchDeadlineMs: number;
}

export class Scheduler implements LeaderOnly {
  private readonly nodes = new Map<string, NodeInfo>();
  private nodeList: NodeInfo[] = [];
  /** Where each pod is charged: bound, or assumed while its bind is in flight. */
  private readonly placed = new Map<string, { node: string; pod: Pod }>();
  private readonly assumed = new Set<string>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly unschedulable = new Map<string, string>();
  private offset = 0;
  private tie = 0;
  private inFlight = 0;
  private pumping = false;
  private stopped = false;
  private readonly pods: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private retryTimer?: NodeJS.Timeout;
  /** Set while this scheduler leads: the client whose writes carry the leader's fence. */
  private writer?: ApiClient;
  /** The current term of leadership; a lead() that outlives its term must not start scheduling. */
  private term?: object;

  constructor(private readonly deps: SchedulerDeps) {
    this.pods = new Informer<Pod>(deps.client, 'pods', { deadlineMs: deps.watchDeadlineMs });
    this.nodeInformer = new Informer<Node>(deps.client, 'nodes', { deadlineMs: deps.watchDeadlineMs });
    this.nodeInformer.on({ add: (n) => this.upsertNode(n), update: (_o, n) => this.upsertNode(n), delete: (n) => this.removeNode(n) });
    this.pods.on({ add: (p) => this.upsertPod(p), update: (_o, p) => this.upsertPod(p), delete: (p) => this.removePod(p) });
  }

  /** Starts the informers: a follower keeps its cache warm, so that taking over is quick. */
  start(): void {
    this.nodeInformer.start();
    this.pods.start();
    this.retryTimer = setInterval(() => this.moveAllToActive(), SCHEDULER_UNSCHEDULABLE_RETRY_MS);
  }

  stop(): void {
    this.stopped = true;
    this.writer = undefined;
    this.pods.stop();
    this.nodeInformer.stop();
    clearInterval(this.retryTimer);
  }

  /** Begins scheduling, every write fenced by `writer`; every pending pod is queued afresh. */
  async lead(writer: ApiClient): Promise<void> {
    const term = (this.term = {});
    await Promise.all([this.pods.synced(), this.nodeInformer.synced()]);
    if (this.stopped || this.term !== term) return;
    this.writer = writer;
    for (const p of this.pods.list()) if (!p.spec.nodeName) this.upsertPod(p);
    this.moveAllToActive();
    this.schedulePump();
  }

  /** Stops scheduling at once; binds already sent finish (or are refused as stale). */
  follow(): void {
    this.term = undefined;
    this.writer = undefined;
  }

  get pendingCount(): number {
    return this.queue.length;
  }

  private upsertNode(n: Node): void {
    const prev = this.nodes.get(n.metadata.name!);
    const next = nodeInfoFrom(n, prev);
    this.nodes.set(next.name, next);
    if (!prev) this.nodeList.push(next);
    else this.nodeList[this.nodeList.indexOf(prev)] = next;
    if (!prev || !deepEqual(scheduleRelevant(prev), scheduleRelevant(next))) this.moveAllToActive();
  }

  private removeNode(n: Node): void {
    const prev = this.nodes.get(n.metadata.name!);
    if (!prev) return;
    this.nodes.delete(prev.name);
    this.nodeList = this.nodeList.filter((x) => x !== prev);
  }

  private nodeFor(name: string): NodeInfo {
    let info = this.nodes.get(name);
    if (!info) {
      // A pod bound to a node we have not heard of yet: keep its charge until the node shows up.
      info = emptyNodeInfo(name);
      this.nodes.set(name, info);
      this.nodeList.push(info);
    }
    return info;
  }

  private charge(key: string, pod: Pod, node: string): void {
    const was = this.placed.get(key);
    if (was && was.node === node) return;
    if (was) account(this.nodeFor(was.node), key, was.pod, -1);
    account(this.nodeFor(node), key, pod, 1);
    this.placed.set(key, { node, pod });
  }

  private uncharge(key: string): void {
    const was = this.placed.get(key);
    if (!was) return;
    account(this.nodeFor(was.node), key, was.pod, -1);
    this.placed.delete(key);
  }

  private upsertPod(p: Pod): void {
    const key = objectKey(p);
    const terminal = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    if (p.spec.nodeName) {
      this.assumed.delete(key);
      this.unschedulable.delete(key);
      if (terminal) this.uncharge(key);
      else this.charge(key, p, p.spec.nodeName);
      return;
    }
    if (terminal || p.metadata.deletionTimestamp || (p.spec.schedulerName ?? SCHEDULER_NAME) !== SCHEDULER_NAME) return;
    if (!this.assumed.has(key) && !this.unschedulable.has(key)) this.enqueue(key);
  }

  private removePod(p: Pod): void {
    const key = objectKey(p);
    this.assumed.delete(key);
    this.unschedulable.delete(key);
    this.queued.delete(key);
    if (this.placed.has(key)) {
      this.uncharge(key);
      this.moveAllToActive();
    }
  }

  private enqueue(key: string): void {
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.deps.metrics.pending.set(this.queue.length);
    this.schedulePump();
  }

  /** Something changed that may make room: every unschedulable pod gets another try. */
  private moveAllToActive(): void {
    if (this.unschedulable.size === 0) return;
    const keys = [...this.unschedulable.keys()];
    this.unschedulable.clear();
    for (const k of keys) this.enqueue(k);
  }

  private schedulePump(): void {
    if (this.pumping || this.stopped || !this.writer) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      this.pump();
    });
  }

  private pump(): void {
    let n = 0;
    while (this.writer && this.queue.length > 0 && n < BATCH && this.inFlight < MAX_BINDS_IN_FLIGHT) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.scheduleOne(key);
      n++;
    }
    this.deps.metrics.pending.set(this.queue.length);
    if (this.queue.length > 0 && this.inFlight < MAX_BINDS_IN_FLIGHT) this.schedulePump();
  }

  private scheduleOne(key: string): void {
    const pod = this.pods.get(key);
    if (!pod || pod.spec.nodeName || pod.metadata.deletionTimestamp || this.assumed.has(key)) return;
    const facts = podFacts(pod);
    const owner = controllerUid(pod);
    const total = this.nodeList.length;
    const target = feasibleTarget(total);
    const feasible: NodeInfo[] = [];
    const reasons = new Map<string, number>();
    let checked = 0;
    for (; checked < total && feasible.length < target; checked++) {
      const node = this.nodeList[(this.offset + checked) % total];
      const why = firstFailure(pod, node, facts);
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
      else feasible.push(node);
    }
    this.offset = total ? (this.offset + checked) % total : 0;
    const chosen = pickNode(feasible, facts.req, owner, this.tie++);
    if (!chosen) return this.markUnschedulable(pod, key, unschedulableMessage(total, reasons));
    this.charge(key, pod, chosen.name);
    this.assumed.add(key);
    void this.bind(this.writer!, pod, key, chosen.name);
  }

  private async bind(writer: ApiClient, pod: Pod, key: string, node: string): Promise<void> {
    this.inFlight++;
    try {
      await writer.bind(pod.metadata.namespace!, pod.metadata.name!, node, { uid: pod.metadata.uid, returnObject: false });
      this.deps.metrics.scheduled.inc();
      const created = Date.parse(pod.metadata.creationTimestamp ?? '');
      if (!Number.isNaN(created)) this.deps.metrics.e2e.observe((Date.now() - created) / 1000);
      this.deps.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`);
    } catch (err) {
      this.deps.metrics.bindFailures.inc({ reason: (err as Error).name });
      if (this.assumed.delete(key)) this.uncharge(key);
      if (err instanceof StaleLeader || err instanceof NotFound) return;
      if (!(err instanceof Conflict)) this.deps.log.warn('bind failed; will retry', { pod: key, node, err });
      const latest = this.pods.get(key);
      if (latest && !latest.spec.nodeName) setTimeout(() => this.enqueue(key), err instanceof Conflict ? 0 : SCHEDULER_BIND_RETRY_MS);
    } finally {
      this.inFlight--;
      if (this.queue.length > 0) this.schedulePump();
    }
  }

  private markUnschedulable(pod: Pod, key: string, message: string): void {
    this.deps.metrics.unschedulable.inc();
    const before = this.unschedulable.get(key);
    this.unschedulable.set(key, message);
    const current = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (before === message && current?.message === message) return;
    const writer = this.writer;
    if (!writer) return;
    this.deps.events.record(pod, 'Warning', 'FailedScheduling', message);
    const conditions = [
      ...(pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled'),
      { type: 'PodScheduled', status: 'False' as const, reason: 'Unschedulable', message, lastTransitionTime: new Date().toISOString() },
    ];
    void writer.patch('pods', pod.metadata.name!, pod.metadata.namespace, { status: { phase: 'Pending', conditions } }, { subresource: 'status' })
      .catch((err) => { if (!(err instanceof NotFound) && !(err instanceof StaleLeader)) this.deps.log.warn('could not record unschedulable pod', { pod: key, err }); });
  }
}
