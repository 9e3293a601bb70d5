// skiff autoscale: a HorizontalPodAutoscaler for a Deployment or ReplicaSet, as kubectl autoscale
// makes one, named after its target.
import { AlreadyExists } from '../../protocol/errors.ts';
import type { HorizontalPodAutoscaler, MetricSpec } from '../../protocol/types.ts';
import { formatError, NAMESPACE_OPTIONS, stringOption, UsageError, type Command } from '../command.ts';
import { integerOption, namespaceOption, parseObjectNames } from '../arguments.ts';

export const autoscaleCommand: Command = {
  name: 'autoscale',
  help: `Make a HorizontalPodAutoscaler that keeps a Deployment's or ReplicaSet's replicas between
--min and --max, scaled on CPU or on requests per second.

Usage:
  skiff autoscale (deployment|replicaset)/NAME --max M [--min N] (--cpu-percent P | --rps R) [--name NAME] [-n NS]

The autoscaler is named after its target unless --name says otherwise. See it with
skiff get hpa, and why it scaled with skiff describe hpa NAME.

Options:
      --min N           The fewest replicas (default 1).
      --max M           The most replicas (required).
      --cpu-percent P   Target CPU use, as a percentage of the pods' CPU requests (their
                        containers must request CPU).
      --rps R           Target requests per second per pod (a Pods metric, requests_per_second).
      --name NAME       The autoscaler's name (default: the target's).
  -n, --namespace NS    Namespace (default: default).
  -h, --help            Show this help.

Examples:
  skiff autoscale deployment/web --min 2 --max 10 --cpu-percent 60
  skiff autoscale deploy/api --max 8 --rps 50`,
  options: {
    namespace: NAMESPACE_OPTIONS.namespace,
    min: { type: 'string' },
    max: { type: 'string' },
    'cpu-percent': { type: 'string' },
    rps: { type: 'string' },
    name: { type: 'string' },
  },
  async run(values, positionals, ctx) {
    const targets = parseObjectNames(positionals, ['deployments', 'replicasets'], 'deployment/web');
    if (targets.length !== 1) throw new UsageError('name one target, e.g. skiff autoscale deployment/web --max 10 --cpu-percent 60');
    const [target] = targets;
    const min = integerOption(values, 'min', 1) ?? 1;
    const max = integerOption(values, 'max', 1);
    if (max === undefined) throw new UsageError('--max is required, e.g. --max 10');
    if (min > max) throw new UsageError(`--min=${min} is more than --max=${max}`);
    const cpu = integerOption(values, 'cpu-percent', 1);
    const rps = integerOption(values, 'rps', 1);
    if ((cpu === undefined) === (rps === undefined)) throw new UsageError('give one of --cpu-percent P or --rps R');
    const metric: MetricSpec = cpu !== undefined
      ? { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }
      : { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: String(rps) } } };
    const name = stringOption(values, 'name') ?? target.name;
    const hpa: HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name, namespace: namespaceOption(values) },
      spec: { scaleTargetRef: { apiVersion: target.info.apiVersion, kind: target.info.kind, name: target.name }, minReplicas: min, maxReplicas: max, metrics: [metric] },
    };
    try {
      await (await ctx.client()).create(hpa);
    } catch (err) {
      if (err instanceof AlreadyExists) {
        ctx.err(`error: horizontalpodautoscaler "${name}" already exists (change it with skiff apply, or delete it with skiff delete hpa ${name})`);
        return 1;
      }
      ctx.err(formatError(err));
      return 1;
    }
    ctx.out(`horizontalpodautoscaler.autoscaling/${name} autoscaled`);
    return 0;
  },
};
