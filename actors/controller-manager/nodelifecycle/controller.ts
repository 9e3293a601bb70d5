// The node lifecycle controller: every monitor period it looks at each node's Lease; a node not
// renewed within the grace period goes Ready=Unknown and is tainted unreachable, and its pods are
// evicted when their toleration of that runs out, so that their controllers replace them on
// healthy nodes. The node's kubelet, when it comes back, sees those pods gone and stops them.
import { NotFound } from '../../../protocol/errors.ts';
import { NODE_LEASE_NAMESPACE } from '../../../protocol/defaults.ts';
import type { Node, Pod } from '../../../protocol/types.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { evictionDueAt, evictionsAllowed, leaseAgeMs, nodeChange, UNREACHABLE } from './decide.ts';

export class NodeLifecycleController implements Controller {
  readonly name = 'nodelifecycle';
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly evicting = new Set<string>();
  private holding = false;

  constructor(private readonly ctx: ControllerContext) {}

  register(): void {
    this.timer = setInterval(() => void this.monitor(), this.ctx.cfg.nodeMonitorMs);
  }

  resyncAll(): void {
    void this.monitor();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass over every node. */
  async monitor(): Promise<void> {
    const writer = this.ctx.writer;
    if (!writer || this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const nodes = this.ctx.informers.nodes.list();
      const fresh = new Map(nodes.map((n) => [
        n.metadata.name!,
        leaseAgeMs(this.ctx.informers.nodeLeases.getByName(n.metadata.name!, NODE_LEASE_NAMESPACE), now, n.metadata.creationTimestamp) <= this.ctx.cfg.nodeGraceMs,
      ]));
      const unhealthy = [...fresh.values()].filter((f) => !f).length;
      const evict = evictionsAllowed(nodes.length, unhealthy);
      if (!evict && !this.holding) this.ctx.log.warn('most nodes look unreachable at once; holding evictions back', { unhealthy, total: nodes.length });
      this.holding = !evict;
      for (const node of nodes) {
        const ok = fresh.get(node.metadata.name!)!;
        const change = nodeChange(node, ok, now);
        let current: Node = node;
        if (change) current = await this.write(node, change);
        const taint = (current.spec?.taints ?? []).find((t) => t.key === UNREACHABLE && t.effect === 'NoExecute');
        if (!ok && taint && evict) this.evictPods(current, taint, now);
      }
    } catch (err) {
      this.ctx.log.warn('node monitor pass failed', { err });
    } finally {
      this.busy = false;
    }
  }

  private async write(node: Node, change: NonNullable<ReturnType<typeof nodeChange>>): Promise<Node> {
    const writer = this.ctx.writer!;
    const name = node.metadata.name!;
    let result = node;
    if (change.taints) {
      result = await writer.patch<Node>('nodes', name, undefined, { spec: { taints: change.taints.length ? change.taints : null } });
    }
    if (change.conditions) {
      result = await writer.patch<Node>('nodes', name, undefined, { status: { conditions: change.conditions } }, { subresource: 'status' });
      const ready = change.conditions.find((c) => c.type === 'Ready')!;
      this.ctx.log.info(ready.status === 'True' ? 'node is back' : 'node is unreachable', { node: name });
      this.ctx.events.record(node, ready.status === 'True' ? 'Normal' : 'Warning', ready.status === 'True' ? 'NodeReady' : 'NodeNotReady',
        ready.status === 'True' ? `Node ${name} status is now: NodeReady` : `Node ${name} status is now: NodeNotReady`);
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
