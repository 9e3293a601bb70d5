// skiff scale: set a Deployment's or ReplicaSet's spec.replicas.
import type { ApiClient } from '../../actors/client/client.ts';
import type { Deployment, ReplicaSet } from '../../protocol/types.ts';
import { formatError, NAMESPACE_OPTIONS, UsageError, type Command } from '../command.ts';
import { integerOption, namespaceOption, parseObjectNames, type ObjectName } from '../arguments.ts';
import { objectRef } from '../resources.ts';
import { retryOnConflict } from '../retry.ts';

type Scalable = Deployment | ReplicaSet;

/** --current-replicas named another size than the object has. */
class PreconditionFailed extends Error {}

async function scaleOne(client: ApiClient, target: ObjectName, namespace: string, replicas: number, expected?: number): Promise<Scalable> {
  const { info, name } = target;
  if (expected === undefined) return client.patch<Scalable>(info.resource, name, namespace, { spec: { replicas } });
  // The precondition holds only for the version it was checked on, so the write pins that version.
  return retryOnConflict(async () => {
    const current = await client.get<Scalable>(info.resource, name, namespace);
    const actual = current.spec.replicas ?? 1;
    if (actual !== expected) {
      throw new PreconditionFailed(`${objectRef(info, name)}: expected replicas to be ${expected}, was ${actual} (--current-replicas does not match; check with: skiff get ${info.singular} ${name})`);
    }
    return client.patch<Scalable>(info.resource, name, namespace, { metadata: { resourceVersion: current.metadata.resourceVersion }, spec: { replicas } });
  });
}

/** A ReplicaSet its Deployment controls is scaled back by that Deployment's controller at once. */
function controllingDeployment(obj: Scalable): string | undefined {
  if (obj.kind !== 'ReplicaSet') return undefined;
  return obj.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === 'Deployment')?.name;
}

export const scaleCommand: Command = {
  name: 'scale',
  help: `Set a new size for a Deployment or ReplicaSet (its spec.replicas).

Usage:
  skiff scale (deployment|replicaset)/NAME... --replicas N [--current-replicas N] [-n NS]
  skiff scale (deployment|replicaset) NAME... --replicas N [--current-replicas N] [-n NS]

deploy and rs are accepted for deployment and replicaset. A ReplicaSet that a Deployment controls
is put back to the Deployment's size by its controller: scale the Deployment instead.

Options:
      --replicas N           The new number of replicas (required; 0 or more).
      --current-replicas N   Only scale if the object has N replicas now; fails otherwise, and
                             nothing is changed. The check and the write are one atomic step.
  -n, --namespace NS         Namespace (default: default).
  -h, --help                 Show this help.

Examples:
  skiff scale deployment/web --replicas 5
  skiff scale deploy web --replicas 0
  skiff scale rs/web-7d9c8 --current-replicas 2 --replicas 3`,
  options: {
    namespace: NAMESPACE_OPTIONS.namespace,
    replicas: { type: 'string' },
    'current-replicas': { type: 'string' },
  },
  async run(values, positionals, ctx) {
    const replicas = integerOption(values, 'replicas', 0);
    if (replicas === undefined) throw new UsageError('--replicas is required, e.g. --replicas 3');
    const expected = integerOption(values, 'current-replicas', 0);
    const targets = parseObjectNames(positionals, ['deployments', 'replicasets'], 'deployment/web');
    const namespace = namespaceOption(values);
    const client = await ctx.client();
    let failed = 0;
    for (const target of targets) {
      try {
        const scaled = await scaleOne(client, target, namespace, replicas, expected);
        ctx.out(`${objectRef(target.info, target.name)} scaled`);
        const owner = controllingDeployment(scaled);
        if (owner) ctx.err(`Warning: ${objectRef(target.info, target.name)} is controlled by deployment "${owner}", which will set its size back; use: skiff scale deployment/${owner} --replicas ${replicas}`);
      } catch (err) {
        ctx.err(formatError(err));
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
