// The apiserver's window of what nodes and pods use (protocol/metrics.ts): the latest sample each
// kubelet published, served as `nodemetrics` and `podmetrics` lists to whoever may list nodes or
// pods. The subject a sample came on names its node (only that node may publish there), not the
// sample's own field.
import type { Msg, NatsConnection } from 'nats';
import { decode } from '../../protocol/codec.ts';
import type { NodeUsage, PodUsage } from '../../protocol/metrics.ts';
import { METRICS_WILDCARD } from '../../protocol/subjects.ts';

/** What the kube-proxies forwarded to one pod, all nodes together. */
export interface PodLoad {
  requestsPerSecond: number;
  activeConnections: number;
}

export class UsageWindow {
  private readonly latest = new Map<string, NodeUsage>();

  constructor(private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  /** Takes a kubelet's sample; a malformed one is dropped. */
  receive(node: string, data: Uint8Array): void {
    try {
      const usage = decode(data).usage as NodeUsage | undefined;
      if (!usage || typeof usage.cpuCores !== 'number' || !Array.isArray(usage.pods)) return;
      this.latest.set(node, { ...usage, node });
    } catch {
      // Not a sample: nothing to keep.
    }
  }

  subscribe(nc: NatsConnection): () => void {
    const sub = nc.subscribe(METRICS_WILDCARD, { callback: (err, msg: Msg) => { if (!err) this.receive(msg.subject.slice(msg.subject.lastIndexOf('.') + 1), msg.data); } });
    return () => sub.unsubscribe();
  }

  private fresh(): NodeUsage[] {
    const since = this.now() - this.maxAgeMs;
    for (const [node, u] of this.latest) if (u.timestamp < since) this.latest.delete(node);
    return [...this.latest.values()];
  }

  nodes(): Omit<NodeUsage, 'pods'>[] {
    return this.fresh().map(({ pods: _pods, ...rest }) => rest);
  }

  /**
   * Every pod's usage, or one namespace's, with its node, the sample's time and the window of its
   * CPU figures, and what every node's kube-proxy forwarded to it (summed: clients reach a pod
   * through any node).
   */
  pods(namespace?: string): (PodUsage & Partial<PodLoad> & { node: string; timestamp: number; windowMs: number })[] {
    const samples = this.fresh();
    // No node counted (every kube-proxy in nftables mode): no figure at all, rather than a zero.
    const counted = samples.some((u) => u.traffic !== undefined);
    const load = new Map<string, PodLoad>();
    for (const u of samples) {
      for (const t of u.traffic ?? []) {
        if (namespace !== undefined && t.namespace !== namespace) continue;
        const id = `${t.namespace}/${t.name}`;
        const l = load.get(id) ?? { requestsPerSecond: 0, activeConnections: 0 };
        load.set(id, { requestsPerSecond: l.requestsPerSecond + t.requestsPerSecond, activeConnections: l.activeConnections + t.activeConnections });
      }
    }
    return samples.flatMap((u) => u.pods
      .filter((p) => namespace === undefined || p.namespace === namespace)
      .map((p) => ({ ...p, ...(counted ? load.get(`${p.namespace}/${p.name}`) ?? { requestsPerSecond: 0, activeConnections: 0 } : {}), node: u.node, timestamp: u.timestamp, windowMs: p.windowMs ?? u.windowMs })));
  }
}
