// The admission chain: plugins that see every write after validation and before storage. Each
// may adjust the object or throw to refuse it. NamespaceLifecycle is the first; later issues add
// theirs with `use`.
import { Forbidden, NotFound } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { DEFAULT_NAMESPACE, NODE_LEASE_NAMESPACE, SYSTEM_NAMESPACE } from '../../protocol/defaults.ts';
import type { KubeObject, Namespace } from '../../protocol/types.ts';

export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  info: KindInfo;
  /** The object to be stored (CREATE, UPDATE) or being deleted (DELETE). */
  object: KubeObject;
  oldObject?: KubeObject;
  /** The node the request came from, when a node sent it. */
  origin?: string;
  dryRun: boolean;
}

export interface AdmissionContext {
  getNamespace(name: string): Promise<Namespace | undefined>;
}

export interface AdmissionPlugin {
  name: string;
  admit(req: AdmissionRequest, ctx: AdmissionContext): void | Promise<void>;
  /** The object is gone from the store: release what admission reserved for it. */
  deleted?(info: KindInfo, object: KubeObject): Promise<void>;
  /** An update was written: release what the old object held and the new one does not. */
  updated?(info: KindInfo, old: KubeObject, next: KubeObject): Promise<void>;
}

export const PROTECTED_NAMESPACES = [DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, NODE_LEASE_NAMESPACE];

export const namespaceLifecycle: AdmissionPlugin = {
  name: 'NamespaceLifecycle',
  async admit(req, ctx) {
    if (req.info.kind === 'Namespace' && req.operation === 'DELETE' && PROTECTED_NAMESPACES.includes(req.object.metadata.name!)) {
      throw new Forbidden(`namespace ${JSON.stringify(req.object.metadata.name)} may not be deleted: skiff needs it`);
    }
    if (!req.info.namespaced || req.operation !== 'CREATE') return;
    const nsName = req.object.metadata.namespace!;
    const ns = await ctx.getNamespace(nsName);
    if (!ns) throw new NotFound(`namespace ${JSON.stringify(nsName)} not found (create it first: skiff create namespace ${nsName}, or apply a Namespace manifest)`);
    // Events may still be recorded about objects being torn down, as in Kubernetes.
    if (ns.status?.phase === 'Terminating' && req.info.kind !== 'Event') {
      throw new Forbidden(`unable to create new content in namespace ${nsName} because it is being terminated`);
    }
  },
};

export class AdmissionChain {
  private readonly plugins: AdmissionPlugin[] = [];

  constructor(private readonly ctx: AdmissionContext, plugins: AdmissionPlugin[] = [namespaceLifecycle]) {
    this.plugins.push(...plugins);
  }

  use(plugin: AdmissionPlugin): this {
    this.plugins.push(plugin);
    return this;
  }

  async admit(req: AdmissionRequest): Promise<void> {
    for (const p of this.plugins) await p.admit(req, this.ctx);
  }

  /** After a delete has been written: never fails it, as it has happened. */
  async deleted(info: KindInfo, object: KubeObject): Promise<void> {
    for (const p of this.plugins) if (p.deleted) await p.deleted(info, object).catch(() => {});
  }

  /** After an update has been written: never fails it, as it has happened. Every write passes here, so plugins without the hook cost no await. */
  async updated(info: KindInfo, old: KubeObject, next: KubeObject): Promise<void> {
    for (const p of this.plugins) if (p.updated) await p.updated(info, old, next).catch(() => {});
  }
}
