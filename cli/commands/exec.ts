// skiff exec: run a command in a container's working directory and environment, on its node.
import { NAMESPACE_OPTIONS, stringOption, UsageError, type Command } from '../command.ts';
import { nodeOpSubject, receiveStream } from '../stream.ts';
import { podAndNode } from './logs.ts';

export const execCommand: Command = {
  name: 'exec',
  help: `Run a command in a container's working directory and environment, on the pod's node, and
print its output. The exit code is the command's.

Usage:
  skiff exec POD [-c CONTAINER] [-n NS] -- COMMAND [ARG...]

Options:
  -c, --container NAME  The container (needed when the pod has several).
  -n, --namespace NS    Namespace (default: default).
  -h, --help            Show this help.

Standard input is not passed on.`,
  options: { container: { type: 'string', short: 'c' }, namespace: NAMESPACE_OPTIONS.namespace },
  async run(values, positionals, ctx) {
    const [podWord, ...command] = positionals;
    if (command.length === 0) throw new UsageError('give the command after --, e.g. skiff exec web -- ls -l');
    const namespace = stringOption(values, 'namespace') ?? 'default';
    const { pod, node } = await podAndNode(ctx, podWord, namespace);
    let exit = 1;
    const nc = await ctx.nats();
    await receiveStream(nc, nodeOpSubject(nc, node, 'exec'), {
      namespace, name: pod.metadata.name, container: stringOption(values, 'container'), command,
    }, ctx.cfg.requestTimeoutMs, (m) => {
      if (m.data) (m.stream === 'stderr' ? process.stderr : process.stdout).write(m.data);
      if (m.error) process.stderr.write(`skiff: ${m.error}\n`);
      if (m.exit === undefined) return true;
      exit = m.exit;
      return false;
    }, ctx.interrupted);
    return exit;
  },
};
