// skiff logs: a container's output, served by the kubelet of the node the pod runs on.
import type { Deployment, Pod, ReplicaSet } from '../../protocol/types.ts';
import { resolveResource } from '../../protocol/kinds.ts';
import { formatSelector, fromLabelSelector } from '../../protocol/selector.ts';
import { NAMESPACE_OPTIONS, stringOption, UsageError, type CliContext, type Command } from '../command.ts';
import { nodeOpSubject, nodeRequest, receiveStream } from '../stream.ts';

/** A running pod of a Deployment or ReplicaSet (`deployment/web`), as kubectl picks one. */
async function podOf(ctx: CliContext, kind: string, name: string, namespace: string): Promise<Pod> {
  const client = await ctx.client();
  const owner = await client.get<Deployment | ReplicaSet>(kind, name, namespace);
  const selector = formatSelector(fromLabelSelector(owner.spec.selector));
  const pods = (await client.list<Pod>('pods', { namespace, labelSelector: selector })).items.filter((p) => !p.metadata.deletionTimestamp);
  const pod = pods.find((p) => p.status?.phase === 'Running') ?? pods[0];
  if (!pod) throw new UsageError(`${kind} ${name} has no pods yet`);
  return pod;
}

/** The pod named on the command line (`NAME`, `pod/NAME` or `deployment/NAME`), and the node it runs on. */
export async function podAndNode(ctx: CliContext, word: string | undefined, namespace: string): Promise<{ pod: Pod; node: string }> {
  if (!word) throw new UsageError('name the pod');
  const [kind, rest] = word.includes('/') ? word.split('/', 2) : ['pod', word];
  const resource = resolveResource(kind)?.resource;
  if (resource !== 'pods' && resource !== 'deployments' && resource !== 'replicasets') throw new UsageError(`${JSON.stringify(word)}: give a pod name, pod/NAME or deployment/NAME`);
  const pod = resource === 'pods' ? await (await ctx.client()).get<Pod>('pods', rest, namespace) : await podOf(ctx, resource, rest, namespace);
  const name = pod.metadata.name!;
  if (!pod.spec.nodeName) throw new UsageError(`pod ${name} is not running on a node yet (it is not scheduled)`);
  return { pod, node: pod.spec.nodeName };
}

export const logsCommand: Command = {
  name: 'logs',
  help: `Print a container's output (stdout and stderr), as kept by its node.

Usage:
  skiff logs POD|deployment/NAME [-c CONTAINER] [-n NS] [-f] [--previous] [--tail N]

With deployment/NAME (or rs/NAME), one of its running pods is picked.

Options:
  -c, --container NAME  The container (needed when the pod has several).
  -n, --namespace NS    Namespace (default: default).
  -f, --follow          Keep printing as the container writes (Ctrl-C to stop); follows it across restarts.
  -p, --previous        The output of the previous instance, before its last restart.
      --tail N          Only the last N lines.
  -h, --help            Show this help.`,
  options: {
    container: { type: 'string', short: 'c' },
    namespace: NAMESPACE_OPTIONS.namespace,
    follow: { type: 'boolean', short: 'f' },
    previous: { type: 'boolean', short: 'p' },
    tail: { type: 'string' },
  },
  async run(values, positionals, ctx) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
    const tailText = stringOption(values, 'tail');
    const tail = tailText === undefined ? undefined : Number(tailText);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UsageError(`--tail ${tailText}: must be a whole number of lines`);
    const namespace = stringOption(values, 'namespace') ?? 'default';
    const { pod, node } = await podAndNode(ctx, positionals[0], namespace);
    const body = { namespace, name: pod.metadata.name, container: stringOption(values, 'container'), previous: values.previous === true, tail, follow: values.follow === true };
    const nc = await ctx.nats();
    if (!body.follow) {
      const reply = await nodeRequest(nc, nodeOpSubject(nc, node, 'logs'), body, ctx.cfg.requestTimeoutMs);
      process.stdout.write(reply.data as Uint8Array);
      return 0;
    }
    await receiveStream(nc, nodeOpSubject(nc, node, 'logs'), body, ctx.cfg.requestTimeoutMs, (m) => {
      if (m.data) process.stdout.write(m.data);
      return !m.end;
    }, ctx.interrupted);
    return 0;
  },
};
