// The kubelet's registration and lease: the Node object created or brought up to date, its status
// reported, and its Lease renewed, as Kubernetes' kubelet does. The kubelet machine runs these as
// its registration and lease actors.
import { AlreadyExists, NotFound } from '../../protocol/errors.ts';
import type { Lease, Node } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { Logger } from '../platform/log.ts';
import type { KubeletConfig } from './kubelet.ts';
import { newNode, nodeAnnotations, nodeLabels, nodeStatus, NODE_LEASE_NAMESPACE } from './node-object.ts';

/** Creates the Node, or brings an existing one's labels and status up to date; resolves to it. */
export async function registerNode(client: ApiClient, cfg: KubeletConfig, log: Logger): Promise<Node> {
  const { identity } = cfg;
  const now = new Date();
  try {
    const node = await client.create(newNode(identity, now));
    log.info('registered node', { node: identity.name });
    return node;
  } catch (err) {
    if (!(err instanceof AlreadyExists)) throw err;
  }
  const existing = await client.get<Node>('nodes', identity.name);
  await client.patch('nodes', identity.name, undefined, { metadata: { labels: nodeLabels(identity), annotations: nodeAnnotations(identity) } });
  const node = await client.updateStatus({ ...existing, status: nodeStatus(identity, now, existing.status) });
  log.info('node registered again', { node: identity.name });
  return node;
}

/** Reports the node's status, carrying its conditions' transition times on from `previous`; resolves to the Node. */
export function reportNodeStatus(client: ApiClient, cfg: KubeletConfig, previous: Node | undefined): Promise<Node> {
  const status = nodeStatus(cfg.identity, new Date(), previous?.status);
  return client.patch<Node>('nodes', cfg.identity.name, undefined, { status }, { subresource: 'status' });
}

export async function renewNodeLease(client: ApiClient, cfg: KubeletConfig): Promise<void> {
  const name = cfg.identity.name;
  const spec = { holderIdentity: name, leaseDurationSeconds: cfg.leaseDurationSeconds, renewTime: new Date().toISOString() };
  // Short attempts: a renewal stuck on one hung apiserver must not let the lease lapse.
  const attempts = client.withTimeouts(cfg.leaseDurationSeconds * 1000, cfg.leaseAttemptMs);
  try {
    await attempts.patch('leases', name, NODE_LEASE_NAMESPACE, { spec }, { returnObject: false });
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    const lease: Lease = { apiVersion: 'v1', kind: 'Lease', metadata: { name, namespace: NODE_LEASE_NAMESPACE }, spec };
    await attempts.create(lease).catch((e) => { if (!(e instanceof AlreadyExists)) throw e; });
  }
}
