// The endpoints controller: keeps each Service's Endpoints to the pods its selector picks, as they
// come, go and change readiness. A pod's change is synced at once: kube-proxy must stop sending
// to a pod that stopped being ready within one watch delivery.
import { NotFound } from '../../../protocol/errors.ts';
import type { Endpoints, Pod, Service } from '../../../protocol/types.ts';
import type { ApiClient } from '../../client/client.ts';
import { Informer, objectKey } from '../../client/informer.ts';
import { QueueController } from '../context.ts';
import { desiredEndpoints, sameEndpoints, selects } from './reconcile.ts';

export class EndpointsController extends QueueController {
  readonly name = 'endpoints';

  private get services(): Informer<Service> {
    return this.ctx.informers.services;
  }

  private get endpoints(): Informer<Endpoints> {
    return this.ctx.informers.endpoints;
  }

  register(): void {
    this.services.on({ add: (s) => this.enqueue(objectKey(s)), update: (_o, s) => this.enqueue(objectKey(s)), delete: (s) => this.enqueue(objectKey(s)) });
    const fromPod = (p: Pod) => {
      for (const s of this.services.listByNamespace(p.metadata.namespace ?? 'default')) {
        if (selects(s, p.metadata.labels)) this.enqueue(objectKey(s));
      }
    };
    this.ctx.informers.pods.on({
      add: fromPod,
      update: (old, p) => { fromPod(old); fromPod(p); },
      delete: fromPod,
    });
    this.endpoints.on({ delete: (e) => this.enqueue(objectKey(e)) });
  }

  resyncAll(): void {
    for (const s of this.services.list()) this.enqueue(objectKey(s));
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const svc = this.services.get(key);
    const current = this.endpoints.get(key);
    if (!svc) {
      if (current) await writer.delete('endpoints', current.metadata.name!, current.metadata.namespace).catch((err) => { if (!(err instanceof NotFound)) throw err; });
      return;
    }
    const selector = svc.spec.selector ?? {};
    if (Object.keys(selector).length === 0) return; // endpoints managed by hand
    // From the informer's label index: a sync costs about what the service selects (desiredEndpoints
    // checks the rest of the selector).
    const want = desiredEndpoints(svc, this.ctx.informers.pods.candidates(svc.metadata.namespace!, selector));
    // A conflict (our informer was behind our own last write) fails the sync; the queue retries.
    if (!current) await writer.create(want);
    else if (!sameEndpoints(current, want)) await writer.update({ ...want, metadata: { ...want.metadata, resourceVersion: current.metadata.resourceVersion } });
  }
}
