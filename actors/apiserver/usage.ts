// The apiserver's window of what nodes and pods use (protocol/metrics.ts): the latest sample each
// kubelet published, served as `nodemetrics` and `podmetrics` lists to whoever may list nodes or
// pods. The subject a sample came on names its node (only that node may publish there), not the
// sample's own field.
import type { Msg, NatsConnection } from 'nats';
import { decode } from '../../protocol/codec.ts';
import type { NodeUsage, PodUsage } from '../../protocol/metrics.ts';
import { METRICS_WILDCARD } from '../../protocol/subjects.ts';

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

  /** Every pod's usage, or one namespace's, with its node and the sample's time. */
  pods(namespace?: string): (PodUsage & { node: string; timestamp: number; windowMs: number })[] {
    return this.fresh().flatMap((u) => u.pods
      .filter((p) => namespace === undefined || p.namespace === namespace)
      .map((p) => ({ ...p, node: u.node, timestamp: u.timestamp, windowMs: u.windowMs })));
  }
}
