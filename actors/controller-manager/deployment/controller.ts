// The Deployment controller: for each Deployment, plan the rollout over its ReplicaSets (pure, in
// rollout.ts) and carry the plan out: create the new ReplicaSet, scale, renumber a rolled-back
// revision, delete history past the limit, and write the status.
import { AlreadyExists, Conflict, NotFound } from '../../../protocol/errors.ts';
import { deepEqual } from '../../../protocol/merge-patch.ts';
import type { Deployment, Pod, ReplicaSet } from '../../../protocol/types.ts';
import type { ApiClient } from '../../client/client.ts';
import { objectKey } from '../../client/informer.ts';
import { QueueController } from '../context.ts';
import { planRollout, REVISION_ANNOTATION, type RolloutAction } from './rollout.ts';

export class DeploymentController extends QueueController {
  readonly name = 'deployment';

  register(): void {
    const { deployments, replicasets, pods } = this.ctx.informers;
    deployments.on({ add: (d) => this.enqueue(objectKey(d)), update: (_o, d) => this.enqueue(objectKey(d)) });
    const fromRs = (rs: ReplicaSet, soon = false) => {
      const ref = rs.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      if (!ref) return;
      if (soon) this.enqueueSoon(`${rs.metadata.namespace}/${ref.name}`);
      else this.enqueue(`${rs.metadata.namespace}/${ref.name}`);
    };
    // A ReplicaSet whose spec is unchanged only reports progress: batch those.
    replicasets.on({
      add: (rs) => fromRs(rs),
      update: (old, rs) => fromRs(rs, old.metadata.generation === rs.metadata.generation),
      delete: (rs) => fromRs(rs),
    });
    // Recreate waits until the old pods are gone.
    pods.on({
      delete: (p: Pod) => {
        const rsRef = p.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ReplicaSet');
        const rs = rsRef && replicasets.getByName(rsRef.name, p.metadata.namespace);
        if (rs) fromRs(rs, true);
      },
    });
  }

  resyncAll(): void {
    for (const d of this.ctx.informers.deployments.list()) this.enqueue(objectKey(d));
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const d = this.ctx.informers.deployments.get(key);
    if (!d || d.metadata.deletionTimestamp) return;
    const owned = this.ctx.informers.replicasets.listByOwner(d.metadata.uid!);
    const views = owned.map((rs) => ({ rs, podCount: this.ctx.informers.pods.listByOwner(rs.metadata.uid!).length }));
    const plan = planRollout(d, views, Date.now());
    for (const a of plan.actions) await this.apply(writer, d, a);
    if (!deepEqual(plan.status, d.status)) {
      await writer.updateStatus({ ...d, metadata: { ...d.metadata, resourceVersion: undefined }, status: plan.status }, { returnObject: false }).catch((err) => {
        if (!(err instanceof NotFound)) throw err;
      });
    }
  }

  private async apply(writer: ApiClient, d: Deployment, a: RolloutAction): Promise<void> {
    const ns = d.metadata.namespace;
    try {
      switch (a.type) {
        case 'create':
          await writer.create(a.rs);
          this.ctx.events.record(d, 'Normal', 'ScalingReplicaSet', `Created new replica set ${a.rs.metadata.name}`);
          return;
        case 'scale': {
          const rs = this.ctx.informers.replicasets.getByName(a.name, ns);
          const from = rs?.spec.replicas ?? 0;
          await writer.patch('replicasets', a.name, ns, { spec: { replicas: a.replicas } });
          this.ctx.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled ${a.replicas > from ? 'up' : 'down'} replica set ${a.name} from ${from} to ${a.replicas}`);
          return;
        }
        case 'setRevision':
          await writer.patch('replicasets', a.name, ns, { metadata: { annotations: { [REVISION_ANNOTATION]: String(a.revision) } } });
          return;
        case 'delete':
          await writer.delete('replicasets', a.name, ns);
          return;
      }
    } catch (err) {
      // The informer will show what happened; the next sync plans again from there.
      if (err instanceof AlreadyExists || err instanceof NotFound || err instanceof Conflict) return;
      throw err;
    }
  }
}
