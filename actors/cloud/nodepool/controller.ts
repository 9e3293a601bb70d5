// The node pool controller: every sync (and soon after a pod is found unschedulable or a pool
// changes) it looks at each NodePool, its instances and nodes, and the pods the scheduler found no
// node for; grows each pool by the fewest nodes that fit them (plan.ts), or to its minNodes; and
// removes a pool's nodes that have stood empty for its consolidateAfter, never below minNodes: it
// cordons the node, makes sure it is still empty, removes the instance (the node stops) and the
// Node. A deleted pool's instances go with it. Decisions are Events on the pool (ScaledUp,
// ScaledDown) and on pods that fit no pool (NotTriggerScaleUp), and the pool's status: nodes,
// readyNodes, lastScaleTime, and the conditions Ready and ScaleUpLimited with their reasons.
import type { Condition, Node, NodePool, Pod } from '../../../protocol/types.ts';
import type { ApiClient } from '../../client/client.ts';
import type { Controller } from '../../controller-manager/context.ts';
import { nodeReady, type CloudContext } from '../context.ts';
import { UNINITIALIZED_TAINT, type Instance } from '../provider.ts';
import { planScaleDown, planScaleUp, type PoolNode, type PoolView } from './plan.ts';
import { SerialTask } from '../../platform/periodic.ts';

/** How soon after a nudge (a pod found unschedulable, a pool changed) a sync runs: a burst makes one. */
const NUDGE_MS = 50;

const initialized = (n: Node) => !n.spec.taints?.some((t) => t.key === UNINITIALIZED_TAINT.key);
const unschedulable = (p: Pod) => !p.spec.nodeName && !p.metadata.deletionTimestamp
  && (p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable') ?? false);
const ended = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class NodePoolController implements Controller {
  readonly name = 'nodepool';
  private timer?: NodeJS.Timeout;
  private nudged?: NodeJS.Timeout;
  /** One sync at a time; one asked for during a sync runs after it. */
  private readonly syncs = new SerialTask(() => this.syncWhileLeading(), (err) => this.ctx.log.warn('node pools: sync failed', { err: (err as Error).message }));
  /** When each pool node was first seen empty (plan.ts's planScaleDown keeps it). */
  private readonly emptySince = new Map<string, number>();
  /** Nodes being removed now, so that a sync meanwhile leaves them be. */
  private readonly removing = new Set<string>();
  /** The NotTriggerScaleUp message last told of each pod, so that it is told once. */
  private readonly toldUnfit = new Map<string, string>();

  constructor(private readonly ctx: CloudContext) {}

  register(): void {
    const nudge = () => this.nudge();
    this.ctx.informers.pods.on({ add: (p) => { if (unschedulable(p)) nudge(); }, update: (_o, p) => { if (unschedulable(p)) nudge(); } });
    this.ctx.informers.nodepools.on({ add: nudge, update: nudge, delete: nudge });
  }

  private nudge(): void {
    if (!this.ctx.writer || this.nudged) return;
    this.nudged = setTimeout(() => {
      this.nudged = undefined;
      this.tick();
    }, NUDGE_MS);
  }

  resyncAll(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.ctx.cfg.syncMs);
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.nudged);
  }

  private tick(): void {
    if (!this.ctx.writer) this.stop();
    else void this.syncs.run();
  }

  private async syncWhileLeading(): Promise<void> {
    const writer = this.ctx.writer;
    if (writer) await this.sync(writer);
  }

  /** Each pool with its instances, and each instance's node and pods. */
  private views(pools: NodePool[], instances: Instance[]): PoolView[] {
    const { nodes, pods } = this.ctx.informers;
    return pools.map((pool) => ({
      pool,
      nodes: instances.filter((i) => i.pool === pool.metadata.name && !this.removing.has(i.name)).map((i): PoolNode => {
        const node = nodes.getByName(i.name);
        const ready = node !== undefined && nodeReady(node) && initialized(node) && !node.spec.unschedulable && i.state === 'running';
        return { name: i.name, node, ready, pods: node ? pods.listByNode(i.name).filter((p) => !ended(p)) : [] };
      }),
    }));
  }

  private async sync(writer: ApiClient): Promise<void> {
    const pools = this.ctx.informers.nodepools.list().filter((p) => !p.metadata.deletionTimestamp);
    const instances = await this.ctx.provider.instances.list();
    // A pool deleted: its instances go with it.
    const names = new Set(pools.map((p) => p.metadata.name));
    for (const i of instances) if (!names.has(i.pool) && !this.removing.has(i.name)) void this.remove(writer, i.name, undefined, 'its node pool was deleted');
    const views = this.views(pools, instances);
    const pending = this.ctx.informers.pods.list().filter(unschedulable);
    const plan = planScaleUp(views, pending);
    this.tellUnfit(plan.unfit);
    const now = Date.now();
    await Promise.all(views.map(async (v) => {
      const name = v.pool.metadata.name!;
      const min = v.pool.spec.minNodes ?? 0;
      const add = Math.min(v.pool.spec.maxNodes - v.nodes.length, Math.max(plan.add.get(name) ?? 0, min - v.nodes.length));
      if (add > 0) {
        // Not awaited: each instance is recorded before its first await, so the next sync counts it.
        void this.grow(v, add, plan.placed.get(name)?.length ?? 0);
      } else if (!plan.placed.has(name)) {
        for (const node of planScaleDown(v, this.emptySince, now)) void this.remove(writer, node, v.pool, `empty for ${v.pool.spec.consolidateAfter}`);
      }
      await this.writeStatus(writer, v, plan.atMax.has(name), add > 0 ? new Date(now).toISOString() : undefined);
    }));
  }

  /** Adds `add` instances to the pool; their nodes register themselves. */
  private async grow(v: PoolView, add: number, forPods: number): Promise<void> {
    const pool = v.pool;
    const name = pool.metadata.name!;
    const why = forPods > 0 ? `for ${forPods} pending pod(s)` : `to its minimum of ${pool.spec.minNodes}`;
    this.ctx.log.info('node pool: scaling up', { pool: name, add, from: v.nodes.length, why });
    const made = await Promise.allSettled(Array.from({ length: add }, () => this.ctx.provider.instances.create({
      pool: name, labels: pool.spec.template.labels ?? {}, taints: pool.spec.template.taints ?? [], capacity: pool.spec.template.capacity,
    })));
    const ok = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value.name] : []));
    const failed = made.flatMap((m) => (m.status === 'rejected' ? [(m.reason as Error).message] : []));
    if (ok.length) this.ctx.events.record(pool, 'Normal', 'ScaledUp', `Added ${ok.length} node(s) ${why}: ${ok.join(', ')} (now ${v.nodes.length + ok.length} of at most ${pool.spec.maxNodes})`);
    if (failed.length) this.ctx.events.record(pool, 'Warning', 'FailedScaleUp', `Could not add ${failed.length} node(s): ${failed[0]}`);
  }

  /** Cordons the node, and if it is still empty, removes its instance and its Node. */
  private async remove(writer: ApiClient, node: string, pool: NodePool | undefined, why: string): Promise<void> {
    if (this.removing.has(node)) return;
    this.removing.add(node);
    try {
      const n = this.ctx.informers.nodes.getByName(node);
      if (n && pool) {
        await writer.patch('nodes', node, undefined, { spec: { unschedulable: true } });
        const busy = this.ctx.informers.pods.listByNode(node).filter((p) => !ended(p));
        if (busy.length) {
          // A pod got there first: the node stays.
          await writer.patch('nodes', node, undefined, { spec: { unschedulable: null } });
          this.emptySince.delete(node);
          return;
        }
      }
      await this.ctx.provider.instances.delete(node);
      if (n) await writer.delete('nodes', node).catch(() => {});
      this.emptySince.delete(node);
      if (pool) this.ctx.events.record(pool, 'Normal', 'ScaledDown', `Removed node ${node}: ${why}`);
      this.ctx.log.info('node pool: node removed', { node, pool: pool?.metadata.name ?? null, why });
    } catch (err) {
      this.ctx.log.warn('node pool: could not remove a node', { node, err: (err as Error).message });
    } finally {
      this.removing.delete(node);
    }
  }

  private tellUnfit(unfit: { pod: Pod; why: string }[]): void {
    const seen = new Set<string>();
    for (const { pod, why } of unfit) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      seen.add(key);
      if (this.toldUnfit.get(key) === why) continue;
      this.toldUnfit.set(key, why);
      this.ctx.events.record(pod, 'Normal', 'NotTriggerScaleUp', `pod didn't trigger scale-up: ${why}`);
    }
    for (const key of this.toldUnfit.keys()) if (!seen.has(key)) this.toldUnfit.delete(key);
  }

  private async writeStatus(writer: ApiClient, v: PoolView, atMax: boolean, scaledAt: string | undefined): Promise<void> {
    const pool = v.pool;
    const nodes = v.nodes.length;
    const ready = v.nodes.filter((n) => n.ready).length;
    const wanted: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>[] = [
      nodes === ready
        ? { type: 'Ready', status: 'True', reason: 'NodesReady', message: `all ${nodes} node(s) are ready` }
        : { type: 'Ready', status: 'False', reason: 'NodesNotReady', message: `${ready} of ${nodes} node(s) ready` },
      atMax
        ? { type: 'ScaleUpLimited', status: 'True', reason: 'MaxNodesReached', message: `pending pods need more nodes than maxNodes (${pool.spec.maxNodes}) allows` }
        : { type: 'ScaleUpLimited', status: 'False', reason: 'WithinLimits', message: 'the pool can grow for its pending pods' },
    ];
    const before = pool.status?.conditions ?? [];
    const conditions: Condition[] = wanted.map((c) => {
      const prev = before.find((p) => p.type === c.type);
      return { ...c, lastTransitionTime: prev?.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : new Date().toISOString() };
    });
    const status = { nodes, readyNodes: ready, conditions, ...(scaledAt ?? pool.status?.lastScaleTime ? { lastScaleTime: scaledAt ?? pool.status?.lastScaleTime } : {}) };
    if (JSON.stringify(status) === JSON.stringify(pool.status ?? {})) return;
    await writer.patch('nodepools', pool.metadata.name!, undefined, { status }, { subresource: 'status' });
  }
}
