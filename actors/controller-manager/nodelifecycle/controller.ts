// The node lifecycle controller: every monitor period, and at once when gossip declares a node
// dead, it weighs each node's Lease and gossip's view of it (decide.ts). A node judged lost is
// tainted unreachable and its pods are evicted when their toleration of that runs out, so that
// their controllers replace them on healthy nodes; one only unreachable is kept from new pods.
// The node's kubelet, when it comes back, sees its evicted pods gone and stops them.
import { NotFound } from '../../../protocol/errors.ts';
import { NODE_LEASE_NAMESPACE } from '../../../protocol/defaults.ts';
import type { MemberState, Node, Pod } from '../../../protocol/types.ts';
import { SerialTask } from '../../platform/periodic.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { evictionDueAt, evictionsAllowed, leaseAgeMs, nodeChange, nodeHealth, readyEvent, UNREACHABLE, type NodeHealth } from './decide.ts';

export class NodeLifecycleController implements Controller {
  readonly name = 'nodelifecycle';
  private timer?: NodeJS.Timeout;
  /** One pass at a time; a pass asked for during one runs after it. */
  private readonly passes = new SerialTask(() => this.ctx.writer && this.pass(Date.now()), (err) => this.ctx.log.warn('node monitor pass failed', { err }));
  private readonly evicting = new Set<string>();
  private holding = false;
  private unsubscribe?: () => void;

  constructor(private readonly ctx: ControllerContext) {}

  register(): void {
    this.timer = setInterval(() => void this.monitor(), this.ctx.cfg.nodeMonitorMs);
    // Entering or leaving dead/left is acted on now, not at the next monitor tick. Other changes (a
    // first sighting, a refuted suspicion) wait for the tick: at most they decide whether a node
    // whose lease is already late is unreachable or lost.
    const gone = (state: MemberState | undefined) => state === 'dead' || state === 'left';
    this.unsubscribe = this.ctx.gossip?.onChange((m, previous) => {
      if (gone(m.state) !== gone(previous?.state)) void this.monitor();
    });
  }

  resyncAll(): void {
    void this.monitor();
  }

  stop(): void {
    clearInterval(this.timer);
    this.passes.stop();
    this.unsubscribe?.();
  }

  /** One pass over every node, while this controller leads. */
  async monitor(): Promise<void> {
    if (this.ctx.writer) await this.passes.run();
  }

  private async pass(now: number): Promise<void> {
    const { cfg, informers, gossip } = this.ctx;
    const nodes = informers.nodes.list();
    const verdicts = new Map<string, { health: NodeHealth; gossip: ReturnType<NonNullable<typeof gossip>['state']>; nobodyThere: boolean }>();
    for (const n of nodes) {
      const name = n.metadata.name!;
      const age = leaseAgeMs(informers.nodeLeases.getByName(name, NODE_LEASE_NAMESPACE), now, n.metadata.creationTimestamp);
      const seen = gossip?.state(name);
      const bySuspicion = seen === 'dead' && gossip!.diedBySuspicion(name);
      const health = nodeHealth(age, seen, { graceMs: cfg.nodeGraceMs, evictionGraceMs: cfg.nodeEvictionGraceMs }, bySuspicion);
      verdicts.set(name, { health, gossip: seen, nobodyThere: seen === 'dead' && !bySuspicion });
    }
    // The mass-disruption guard weighs the lease's word alone: gossip's "dead" by nobody being at
    // the node's address is not counted, as a control-plane problem cannot fake it (a suspicion
    // that ran out can be the masters' own link).
    const unhealthy = [...verdicts.values()].filter((v) => v.health !== 'ready' && !v.nobodyThere).length;
    const evict = evictionsAllowed(nodes.length, unhealthy);
    if (!evict && !this.holding) this.ctx.log.warn('most nodes look unreachable at once; holding evictions back', { unhealthy, total: nodes.length });
    this.holding = !evict;
    for (const node of nodes) {
      const v = verdicts.get(node.metadata.name!)!;
      const change = nodeChange(node, v.health, now, v.gossip);
      let current: Node = node;
      if (change) current = await this.write(node, change, v.gossip);
      const taint = (current.spec?.taints ?? []).find((t) => t.key === UNREACHABLE && t.effect === 'NoExecute');
      if (v.health === 'lost' && taint && (evict || v.nobodyThere)) this.evictPods(current, taint, now);
    }
  }

  private async write(node: Node, change: NonNullable<ReturnType<typeof nodeChange>>, gossip: string | undefined): Promise<Node> {
    const writer = this.ctx.writer!;
    const name = node.metadata.name!;
    let result = node;
    if (change.taints) {
      result = await writer.patch<Node>('nodes', name, undefined, { spec: { taints: change.taints.length ? change.taints : null } });
    }
    if (change.conditions) {
      result = await writer.patch<Node>('nodes', name, undefined, { status: { conditions: change.conditions } }, { subresource: 'status' });
      const ready = change.conditions.find((c) => c.type === 'Ready')!;
      // Told once per transition, as the Event is; a reason that changes meanwhile is not news.
      const event = readyEvent(node, change);
      if (event) {
        this.ctx.log.info(ready.status === 'True' ? 'node is back' : 'node is not ready', { node: name, gossip, reason: ready.message });
        this.ctx.events.record(node, event === 'NodeReady' ? 'Normal' : 'Warning', event, `Node ${name} status is now: ${event}`);
      }
    }
    return result;
  }

  private evictPods(node: Node, taint: NonNullable<Node['spec']['taints']>[number], now: number): void {
    for (const pod of this.ctx.informers.pods.listByNode(node.metadata.name!)) {
      const due = evictionDueAt(pod, taint);
      if (due === 'never' || due > now) continue;
      const key = `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`;
      if (this.evicting.has(key)) continue;
      this.evicting.add(key);
      void this.evict(pod).finally(() => this.evicting.delete(key));
    }
  }

  /** The kubelet cannot finish a graceful delete: remove the pod at once, so it is replaced. */
  private async evict(pod: Pod): Promise<void> {
    try {
      await this.ctx.writer!.delete('pods', pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      this.ctx.events.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}: its node ${pod.spec.nodeName} is unreachable`);
    } catch (err) {
      if (!(err instanceof NotFound)) this.ctx.log.warn('eviction failed', { pod: pod.metadata.name, err });
    }
  }
}
