// The service controller: a `type: LoadBalancer` Service gets a balancer from the provider over
// the Ready nodes, its address in status.loadBalancer.ingress, and the finalizer
// service.kubernetes.io/load-balancer-cleanup, so that deleting the Service removes the balancer
// before the Service goes. Nodes coming and going update every balancer (Kubernetes'
// service-lb controller).
import type { Node, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import { objectKey } from '../client/informer.ts';
import { QueueController } from '../controller-manager/context.ts';
import { nodeReady, type CloudContext } from './context.ts';
import { LOAD_BALANCER_FINALIZER, SHUTDOWN_TAINT, UNINITIALIZED_TAINT } from './provider.ts';

const wantsBalancer = (s: Service) => s.spec.type === 'LoadBalancer';
const hasFinalizer = (s: Service) => s.metadata.finalizers?.includes(LOAD_BALANCER_FINALIZER) ?? false;

/** The nodes a balancer sends to: Ready, initialized, not shut down. */
function balancedNodes(nodes: Node[]): Node[] {
  return nodes.filter((n) => nodeReady(n) && !n.metadata.deletionTimestamp && !n.spec.taints?.some((t) => t.key === UNINITIALIZED_TAINT.key || t.key === SHUTDOWN_TAINT.key))
    .sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}

export class ServiceController extends QueueController<CloudContext> {
  readonly name = 'service-lb';
  /** The balanced nodes last seen: a node's change re-syncs the balancers only when it changes this set. */
  private nodeSet = '';

  register(): void {
    this.ctx.informers.services.on({
      add: (s) => this.maybe(s),
      update: (_o, s) => this.maybe(s),
    });
    // Every node's status write comes here: only a leader recounts the balanced nodes.
    const nodesChanged = () => {
      if (!this.ctx.writer) return;
      const set = this.balancedSet();
      if (set === this.nodeSet) return;
      this.nodeSet = set;
      for (const s of this.ctx.informers.services.list()) this.maybe(s);
    };
    this.ctx.informers.nodes.on({ add: nodesChanged, update: nodesChanged, delete: nodesChanged });
  }

  private balancedSet(): string {
    return balancedNodes(this.ctx.informers.nodes.list()).map((n) => n.metadata.name).join(',');
  }

  private maybe(s: Service): void {
    if (wantsBalancer(s) || hasFinalizer(s)) this.enqueue(objectKey(s));
  }

  resyncAll(): void {
    this.nodeSet = this.balancedSet();
    for (const s of this.ctx.informers.services.list()) this.maybe(s);
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const svc = this.ctx.informers.services.get(key);
    if (!svc) return;
    const { name, namespace } = svc.metadata;
    const lbs = this.ctx.provider.loadBalancers;
    if (svc.metadata.deletionTimestamp || !wantsBalancer(svc)) {
      if (!hasFinalizer(svc)) return;
      await lbs.ensureDeleted(svc);
      this.ctx.events.record(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
      await writer.update<Service>({ ...svc, metadata: { ...svc.metadata, finalizers: svc.metadata.finalizers!.filter((f) => f !== LOAD_BALANCER_FINALIZER) } });
      if (!svc.metadata.deletionTimestamp && svc.status?.loadBalancer?.ingress?.length) {
        await writer.patch('services', name!, namespace, { status: { loadBalancer: null } }, { subresource: 'status' });
      }
      return;
    }
    if (!hasFinalizer(svc)) {
      // The finalizer first: a balancer must never exist without it, or a delete could outrun the cleanup.
      await writer.update<Service>({ ...svc, metadata: { ...svc.metadata, finalizers: [...(svc.metadata.finalizers ?? []), LOAD_BALANCER_FINALIZER] } });
      return; // the update brings this service back round
    }
    const nodes = balancedNodes(this.ctx.informers.nodes.list());
    const had = svc.status?.loadBalancer?.ingress ?? [];
    const ingress = await lbs.ensure(svc, nodes);
    if (JSON.stringify(had) === JSON.stringify(ingress)) return;
    await writer.patch('services', name!, namespace, { status: { loadBalancer: { ingress } } }, { subresource: 'status' });
    this.ctx.events.record(svc, 'Normal', 'EnsuredLoadBalancer', `Ensured load balancer at ${ingress.map((i) => i.ip ?? i.hostname).join(', ')} over ${nodes.length} node(s)`);
  }
}
