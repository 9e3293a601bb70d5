// The cloud node lifecycle controller: every sync it asks the provider about each of its nodes.
// A node whose instance no longer exists is deleted, with its pods (their controllers make them
// again elsewhere), rather than left NotReady for ever; a node whose instance is shut down gets
// node.cloudprovider.kubernetes.io/shutdown, lifted when it runs again. Kubernetes asks only of
// NotReady nodes, to spare its cloud's API; the local provider answers from /proc, so every node
// is asked and a dead instance's node goes within a sync.
import type { Node } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { Controller } from '../controller-manager/context.ts';
import { nodeReady, providerNodes, type CloudContext } from './context.ts';
import { SHUTDOWN_TAINT } from './provider.ts';
import { SerialTask } from '../platform/periodic.ts';

/** How long pods still bound to a node deleted here are looked for (a scheduler that had not yet seen the node go may bind one to it). */
const GONE_NODE_MEMORY_MS = 5 * 60_000;

export class CloudNodeLifecycleController implements Controller {
  readonly name = 'cloud-node-lifecycle';
  private timer?: NodeJS.Timeout;
  /** One pass at a time; a tick during a pass is skipped. */
  private readonly passes = new SerialTask(() => this.pass(), (err) => this.ctx.log.warn('cloud node lifecycle: pass failed', { err: (err as Error).message }));
  /** Nodes deleted here, and when: pods bound to them afterwards are deleted too. */
  private readonly gone = new Map<string, number>();

  constructor(private readonly ctx: CloudContext) {}

  register(): void {}

  resyncAll(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.ctx.cfg.syncMs);
    this.tick();
  }

  private tick(): void {
    if (!this.ctx.writer) clearInterval(this.timer);
    else if (!this.passes.running) void this.passes.run();
  }

  private async pass(): Promise<void> {
    const writer = this.ctx.writer;
    if (!writer) return;
    for (const node of providerNodes(this.ctx)) await this.check(node, writer).catch((err: Error) => this.ctx.log.warn('cloud node lifecycle: check failed', { node: node.metadata.name, err: err.message }));
    await this.deleteStrandedPods(writer);
  }

  /**
   * Pods bound to a node deleted here after its pods were: a scheduler whose cache still had the
   * node can bind a replacement to it in the moment before it learns (Kubernetes' pod GC deletes
   * such orphans after 40 s; these nodes are known gone, so at once).
   */
  private async deleteStrandedPods(writer: ApiClient): Promise<void> {
    const now = Date.now();
    for (const [name, at] of this.gone) {
      if (now - at > GONE_NODE_MEMORY_MS) {
        this.gone.delete(name);
        continue;
      }
      if (this.ctx.informers.nodes.getByName(name)) continue; // registered again
      for (const pod of this.ctx.informers.pods.listByNode(name)) {
        this.ctx.log.info('deleting a pod bound to a node that is gone', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, node: name });
        await writer.delete('pods', pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0 }).catch(() => {});
      }
    }
  }

  private async check(node: Node, writer: ApiClient): Promise<void> {
    const name = node.metadata.name!;
    const { instances } = this.ctx.provider;
    if (!(await instances.exists(node))) {
      this.ctx.log.info('the instance behind a node is gone: deleting the node and its pods', { node: name });
      this.ctx.events.record(node, 'Normal', 'DeletingNode', `Deleting node ${name} because its instance no longer exists`);
      for (const pod of this.ctx.informers.pods.listByNode(name)) {
        await writer.delete('pods', pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0 }).catch(() => {});
      }
      await writer.delete('nodes', name).catch(() => {});
      this.gone.set(name, Date.now());
      return;
    }
    const tainted = node.spec.taints?.some((t) => t.key === SHUTDOWN_TAINT.key) ?? false;
    const down = !nodeReady(node) && (await instances.shutdown(node));
    if (down === tainted) return;
    const taints = down ? [...(node.spec.taints ?? []), { ...SHUTDOWN_TAINT, timeAdded: new Date().toISOString() }] : (node.spec.taints ?? []).filter((t) => t.key !== SHUTDOWN_TAINT.key);
    await writer.update<Node>({ ...node, spec: { ...node.spec, taints } });
    this.ctx.log.info(down ? 'instance shut down: node tainted' : 'instance running again: shutdown taint lifted', { node: name });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
