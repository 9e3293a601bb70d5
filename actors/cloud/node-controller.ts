// The cloud node controller: a node the provider made registers itself tainted
// node.cloudprovider.kubernetes.io/uninitialized; this gives it spec.providerID, its zone and
// instance-type labels, and its pool's, from what the provider says of its instance, then lifts
// the taint, so that the scheduler may place pods there (Kubernetes' cloud-node controller).
import type { Node } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import { objectKey } from '../client/informer.ts';
import { QueueController } from '../controller-manager/context.ts';
import type { CloudContext } from './context.ts';
import { INSTANCE_TYPE_LABEL, UNINITIALIZED_TAINT, ZONE_LABEL } from './provider.ts';

const uninitialized = (n: Node) => n.spec.taints?.some((t) => t.key === UNINITIALIZED_TAINT.key) ?? false;

export class CloudNodeController extends QueueController<CloudContext> {
  readonly name = 'cloud-node';

  register(): void {
    this.ctx.informers.nodes.on({
      add: (n) => { if (uninitialized(n)) this.enqueue(objectKey(n)); },
      update: (_o, n) => { if (uninitialized(n)) this.enqueue(objectKey(n)); },
    });
  }

  resyncAll(): void {
    for (const n of this.ctx.informers.nodes.list()) if (uninitialized(n)) this.enqueue(objectKey(n));
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const node = this.ctx.informers.nodes.get(key);
    if (!node || !uninitialized(node)) return;
    const meta = await this.ctx.provider.instances.metadata(node);
    if (!meta) {
      this.ctx.log.warn('a node waits to be initialized, but the provider has no instance of that name', { node: node.metadata.name });
      return;
    }
    // A full update at the version the informer saw: the taints are a list, and another writer's
    // change to them (the node lifecycle's not-ready taint) must not be overwritten.
    await writer.update<Node>({
      ...node,
      metadata: { ...node.metadata, labels: { ...node.metadata.labels, [ZONE_LABEL]: meta.zone, [INSTANCE_TYPE_LABEL]: meta.instanceType } },
      spec: { ...node.spec, providerID: meta.providerID, taints: (node.spec.taints ?? []).filter((t) => t.key !== UNINITIALIZED_TAINT.key) },
    });
    this.ctx.log.info('node initialized', { node: node.metadata.name, providerID: meta.providerID, zone: meta.zone });
  }
}
