// What the cloud controller manager's controllers share: their informers (kept warm whether or not
// this master leads), the provider, the fenced writer while leading, events and logging.
import type { Counter } from 'prom-client';
import type { Node, NodePool, Pod, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { NODE_POOL_LABEL, type CloudProvider } from './provider.ts';

export interface CloudInformers {
  nodes: Informer<Node>;
  pods: Informer<Pod>;
  services: Informer<Service>;
  nodepools: Informer<NodePool>;
}

export interface CloudConfig {
  workers: number;
  statusSyncDelayMs: number;
  /** How often instances, pools and pending pods are looked at, whatever changed. */
  syncMs: number;
}

export interface CloudContext {
  informers: CloudInformers;
  provider: CloudProvider;
  writer?: ApiClient;
  events: EventRecorder;
  log: Logger;
  cfg: CloudConfig;
  syncs: Counter<'controller' | 'result'>;
}

/** A node is Ready when its kubelet says so. */
export function nodeReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The nodes of this provider: those whose providerID is its, and those of a pool not yet initialized. */
export function providerNodes(ctx: CloudContext): Node[] {
  const prefix = `${ctx.provider.name}://`;
  return ctx.informers.nodes.list().filter((n) => (n.spec.providerID ? n.spec.providerID.startsWith(prefix) : n.metadata.labels?.[NODE_POOL_LABEL] !== undefined));
}
