// Garbage collection through ownerReferences. The apiserver cascades deletes as they happen; this
// sweep catches what a cascade missed (a dependent created while its owner was being deleted, or
// an apiserver that died mid-cascade): a pod or ReplicaSet whose controlling owner no longer
// exists is deleted.
import { NotFound } from '../../../protocol/errors.ts';
import { kindInfo } from '../../../protocol/kinds.ts';
import type { KubeObject, OwnerReference } from '../../../protocol/types.ts';
import { every } from '../../platform/periodic.ts';
import type { Controller, ControllerContext } from '../context.ts';

export class GarbageCollector implements Controller {
  readonly name = 'garbagecollector';
  private stopSweeps?: () => void;

  constructor(private readonly ctx: ControllerContext) {}

  register(): void {
    // Never two sweeps at once: a slow one (many dependents, a slow apiserver) is not overtaken.
    this.stopSweeps = every(this.ctx.cfg.gcPeriodMs, () => this.sweep(), (err) => this.ctx.log.warn('garbage collection sweep failed', { err }));
  }

  resyncAll(): void {}

  stop(): void {
    this.stopSweeps?.();
  }

  private ownerKnown(ref: OwnerReference, namespace: string | undefined): boolean {
    const { replicasets, deployments } = this.ctx.informers;
    const informer = ref.kind === 'ReplicaSet' ? replicasets : ref.kind === 'Deployment' ? deployments : undefined;
    if (!informer) return true; // not a kind we follow: leave it be
    return informer.getByName(ref.name, namespace)?.metadata.uid === ref.uid;
  }

  async sweep(): Promise<void> {
    const writer = this.ctx.writer;
    if (!writer) return;
    const { pods, replicasets } = this.ctx.informers;
    const dependents: KubeObject[] = [...replicasets.list(), ...pods.list()];
    for (const obj of dependents) {
      const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
      if (!ref || this.ownerKnown(ref, obj.metadata.namespace)) continue;
      // The informer may lag: ask the apiserver before deleting anything.
      const info = kindInfo(ref.kind);
      if (!info) continue;
      try {
        const owner = await writer.get(info.resource, ref.name, obj.metadata.namespace);
        if (owner.metadata.uid === ref.uid) continue;
      } catch (err) {
        if (!(err instanceof NotFound)) continue;
      }
      const own = kindInfo(obj.kind)!;
      await writer.delete(own.resource, obj.metadata.name!, obj.metadata.namespace, { preconditions: { uid: obj.metadata.uid } }).catch(() => {});
      this.ctx.log.info('collected an orphan', { kind: obj.kind, name: `${obj.metadata.namespace}/${obj.metadata.name}`, owner: `${ref.kind}/${ref.name}` });
    }
  }
}
