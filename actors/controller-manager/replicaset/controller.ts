// The ReplicaSet controller: keeps the pods matching each ReplicaSet at its replicas, adopting
// matching orphans, creating in slow-start batches and waiting on its expectations so that it
// never acts twice before seeing its own writes; and keeps the status current.
import { AlreadyExists, Conflict, NotFound } from '../../../protocol/errors.ts';
import { deepEqual } from '../../../protocol/merge-patch.ts';
import type { Pod, ReplicaSet } from '../../../protocol/types.ts';
import type { ApiClient } from '../../client/client.ts';
import { objectKey } from '../../client/informer.ts';
import { QueueController } from '../context.ts';
import { Expectations } from '../../runtime/expectations.ts';
import { adoptable, planReplicaSet, podFromTemplate, slowStartBatches } from './reconcile.ts';

export class ReplicaSetController extends QueueController {
  readonly name = 'replicaset';
  private readonly expectations = new Expectations();

  register(): void {
    const { replicasets, pods } = this.ctx.informers;
    replicasets.on({ add: (rs) => this.enqueue(objectKey(rs)), update: (_o, rs) => this.enqueue(objectKey(rs)), delete: (rs) => this.expectations.forget(objectKey(rs)) });
    pods.on({
      add: (p) => this.podChanged(p, 'add'),
      update: (old, p) => {
        if (!old.metadata.deletionTimestamp && p.metadata.deletionTimestamp) this.podChanged(p, 'delete');
        else this.podChanged(p, 'status');
      },
      delete: (p) => this.podChanged(p, p.metadata.deletionTimestamp ? undefined : 'delete'),
    });
  }

  resyncAll(): void {
    for (const rs of this.ctx.informers.replicasets.list()) this.enqueue(objectKey(rs));
  }

  private ownerKey(p: Pod): string | undefined {
    const ref = p.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ReplicaSet');
    return ref ? `${p.metadata.namespace}/${ref.name}` : undefined;
  }

  private podChanged(p: Pod, seen?: 'add' | 'delete' | 'status'): void {
    const key = this.ownerKey(p);
    if (key) {
      if (seen === 'add') this.expectations.creationObserved(key);
      if (seen === 'delete') this.expectations.deletionObserved(key);
      if (seen === 'status') this.enqueueSoon(key);
      else this.enqueue(key);
      return;
    }
    // An orphan: any ReplicaSet whose selector matches may adopt it.
    for (const rs of this.ctx.informers.replicasets.listByNamespace(p.metadata.namespace ?? 'default')) {
      if (adoptable(rs, p)) this.enqueue(objectKey(rs));
    }
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const rs = this.ctx.informers.replicasets.get(key);
    if (!rs) {
      this.expectations.forget(key);
      return;
    }
    const owned = this.ctx.informers.pods.listByOwner(rs.metadata.uid!);
    if (!rs.metadata.deletionTimestamp) {
      for (const p of this.candidates(rs)) {
        if (adoptable(rs, p)) await this.adopt(writer, rs, p).catch((err) => { if (!(err instanceof Conflict) && !(err instanceof NotFound)) throw err; });
      }
    }
    const plan = planReplicaSet(rs, owned, Date.now());
    if (this.expectations.satisfied(key)) {
      if (plan.create > 0) await this.createPods(writer, key, rs, plan.create);
      else if (plan.delete.length > 0) await this.deletePods(writer, key, plan.delete);
    }
    if (!deepEqual(plan.status, rs.status)) {
      await writer.updateStatus({ ...rs, metadata: { ...rs.metadata, resourceVersion: undefined }, status: plan.status }, { returnObject: false }).catch((err) => {
        if (!(err instanceof NotFound)) throw err;
      });
    }
  }

  /** Pods that might match the selector, from the label index rather than the whole namespace. */
  private candidates(rs: ReplicaSet): Pod[] {
    return this.ctx.informers.pods.candidates(rs.metadata.namespace!, rs.spec.selector.matchLabels ?? {}, 'pod-template-hash');
  }

  private async adopt(writer: ApiClient, rs: ReplicaSet, p: Pod): Promise<void> {
    const refs = [...(p.metadata.ownerReferences ?? []), { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name!, uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true }];
    await writer.patch('pods', p.metadata.name!, p.metadata.namespace, { metadata: { ownerReferences: refs, resourceVersion: p.metadata.resourceVersion } });
  }

  private async createPods(writer: ApiClient, key: string, rs: ReplicaSet, count: number): Promise<void> {
    this.expectations.expect(key, count, 0);
    let issued = 0;
    try {
      for (const batch of slowStartBatches(count)) {
        await Promise.all(Array.from({ length: batch }, () => writer.create(podFromTemplate(rs), { returnObject: false }).catch((err) => {
          // Not going to be seen: stop waiting for it.
          this.expectations.creationObserved(key);
          if (!(err instanceof AlreadyExists)) throw err;
        })));
        issued += batch;
      }
    } catch (err) {
      for (let i = issued; i < count; i++) this.expectations.creationObserved(key);
      this.ctx.events.record(rs, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
    this.ctx.events.record(rs, 'Normal', 'SuccessfulCreate', `Created ${count} pod${count === 1 ? '' : 's'}`);
  }

  private async deletePods(writer: ApiClient, key: string, pods: Pod[]): Promise<void> {
    this.expectations.expect(key, 0, pods.length);
    await Promise.all(pods.map((p) => writer.delete('pods', p.metadata.name!, p.metadata.namespace, { preconditions: { uid: p.metadata.uid } }).catch((err) => {
      this.expectations.deletionObserved(key);
      if (!(err instanceof NotFound) && !(err instanceof Conflict)) throw err;
    })));
    const rs = this.ctx.informers.replicasets.get(key);
    if (rs) this.ctx.events.record(rs, 'Normal', 'SuccessfulDelete', `Deleted ${pods.length} pod${pods.length === 1 ? '' : 's'}`);
  }
}
