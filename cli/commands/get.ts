// skiff get: kubectl-style tables, or yaml/json/name, once or as changes happen (-w).
import { NotFound } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import type { KubeObject } from '../../protocol/types.ts';
import type { ApiClient } from '../../actors/client/client.ts';
import { NAMESPACE_OPTIONS, stringOption, UsageError, type CliContext, type Command, type Values } from '../command.ts';
import { formatObjects, parseOutput, type OutputFormat } from '../output.ts';
import { parseTargets, quotedRef } from '../resources.ts';
import { columnsFor, renderTable, tableRows } from '../table.ts';

/** `skiff get members`: the gossip group, which is no kind of object (members.ts). */
export const MEMBER_KINDS = new Set(['members', 'member', 'mem']);

export interface Scope {
  namespace?: string;
  allNamespaces: boolean;
  labelSelector?: string;
  fieldSelector?: string;
}

export function scopeOf(values: Values): Scope {
  const allNamespaces = values['all-namespaces'] === true;
  const namespace = stringOption(values, 'namespace');
  if (allNamespaces && namespace) throw new UsageError('-n and -A cannot be used together');
  return { namespace: allNamespaces ? undefined : namespace ?? 'default', allNamespaces, labelSelector: stringOption(values, 'selector'), fieldSelector: stringOption(values, 'field-selector') };
}

/** The objects a `KIND [NAME...]` argument names: each by name, or all that match the selectors. */
export async function fetchObjects(
  client: ApiClient, info: KindInfo, names: string[], scope: Scope, ctx: CliContext,
): Promise<{ objs: KubeObject[]; missing: number; resourceVersion: string }> {
  const ns = info.namespaced ? scope.namespace : undefined;
  if (names.length === 0) {
    const list = await client.list(info.resource, { namespace: ns, labelSelector: scope.labelSelector, fieldSelector: scope.fieldSelector });
    return { objs: list.items, missing: 0, resourceVersion: list.metadata.resourceVersion };
  }
  const objs: KubeObject[] = [];
  let missing = 0;
  for (const name of names) {
    try {
      objs.push(await client.get(info.resource, name, ns));
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      missing++;
      ctx.err(`Error from server (NotFound): ${quotedRef(info, name).replace(/^[^ ]+/, info.resource)} not found`);
    }
  }
  // Each object's own version is a sound place to resume a watch confined to those names.
  const resourceVersion = String(Math.min(...objs.map((o) => Number(o.metadata.resourceVersion ?? 0)), Number.MAX_SAFE_INTEGER));
  return { objs, missing, resourceVersion: objs.length ? resourceVersion : '0' };
}

function noneFound(info: KindInfo, scope: Scope): string {
  if (!info.namespaced || scope.allNamespaces) return 'No resources found';
  return `No resources found in ${scope.namespace} namespace.`;
}

async function watchChanges(
  client: ApiClient, info: KindInfo, names: string[], scope: Scope, format: OutputFormat, fromRv: string, ctx: CliContext,
): Promise<void> {
  const cols = columnsFor(info.kind, { wide: format === 'wide', allNamespaces: scope.allNamespaces });
  const handle = client.watch(info.resource, {
    namespace: info.namespaced ? scope.namespace : undefined,
    labelSelector: scope.labelSelector,
    fieldSelector: [scope.fieldSelector, names.length === 1 ? `metadata.name=${names[0]}` : ''].filter(Boolean).join(','),
    resourceVersion: fromRv,
    deadlineMs: ctx.cfg.watchHeartbeatMs * 2.5,
  }, (u) => {
    if (u.type !== 'ADDED' && u.type !== 'MODIFIED' && u.type !== 'DELETED') return;
    if (names.length > 1 && !names.includes(u.object.metadata.name ?? '')) return;
    if (format === 'table' || format === 'wide') {
      const row = tableRows([u.object], cols)[0];
      ctx.out(renderTable(cols.map((c) => c.header), [row]).split('\n')[1] + (u.type === 'DELETED' ? '   (deleted)' : ''));
    } else {
      if (format === 'yaml') ctx.out('---');
      ctx.out(formatObjects([u.object], info, format, { allNamespaces: scope.allNamespaces, single: true }));
    }
  });
  await ctx.interrupted;
  handle.stop();
}

export const getCommand: Command = {
  name: 'get',
  help: `Display one or many objects.

Usage:
  skiff get KIND[,KIND...] [NAME...] [-n NS | -A] [-l SELECTOR] [-o wide|yaml|json|name] [-w]
  skiff get KIND/NAME...
  skiff get members [--from MEMBER] [-o json|yaml] [-w]

KIND is a resource name, singular or plural, or a short name (see skiff api-resources):
pods (po), deployments (deploy), replicasets (rs), services (svc), endpoints (ep), nodes (no),
namespaces (ns), horizontalpodautoscalers (hpa), nodepools (np), leases, events (ev); "all" means pods, services,
deployments, replicasets and autoscalers.

"members" is the gossip group (SWIM) as one member sees it: each member's role, state (alive,
suspect, dead, left), incarnation (raised each time it refutes a suspicion) and last change. Any
member answers unless --from names one (a node or master, e.g. node-2 or master-1); with -w, the
changes in that member's view, or in every member's, print as they happen.

Options:
  -n, --namespace NS        Look in this namespace (default: default).
  -A, --all-namespaces      Look in every namespace.
  -l, --selector SELECTOR   Label selector: app=web, tier!=db, env in (prod,staging), !legacy.
      --field-selector SEL  Field selector, e.g. spec.nodeName=node-1, status.phase=Running.
  -o, --output FORMAT       wide, yaml, json or name.
  -w, --watch               After listing, print each change as it happens (Ctrl-C to stop).
      --from MEMBER         members only: whose view to show.
  -h, --help                Show this help.

Examples:
  skiff get pods -o wide
  skiff get deploy web -o yaml
  skiff get pods -l app=web -w
  skiff get members --from node-2`,
  options: {
    ...NAMESPACE_OPTIONS,
    selector: { type: 'string', short: 'l' },
    'field-selector': { type: 'string' },
    output: { type: 'string', short: 'o' },
    watch: { type: 'boolean', short: 'w' },
    from: { type: 'string' },
  },
  async run(values, positionals, ctx) {
    if (positionals[0] && MEMBER_KINDS.has(positionals[0].toLowerCase())) return (await import('./members.ts')).getMembers(positionals, values, ctx);
    if (values.from !== undefined) throw new UsageError('--from applies to skiff get members only');
    const targets = parseTargets(positionals);
    const scope = scopeOf(values);
    const format = await parseOutput(stringOption(values, 'output'));
    const watch = values.watch === true;
    if (watch && targets.length > 1) throw new UsageError('-w watches one kind at a time');
    const client = await ctx.client();
    let missing = 0;
    let printedAny = false;
    let watchFrom = '0';
    for (const t of targets) {
      const { objs, missing: m, resourceVersion } = await fetchObjects(client, t.info, t.names, scope, ctx);
      missing += m;
      watchFrom = resourceVersion;
      if (objs.length === 0) continue;
      if (printedAny && (format === 'table' || format === 'wide')) ctx.out('');
      printedAny = true;
      const single = t.names.length === 1 && objs.length === 1 && targets.length === 1;
      ctx.out(formatObjects(objs, t.info, format, { allNamespaces: scope.allNamespaces, single }));
    }
    if (!printedAny && missing === 0 && (format === 'table' || format === 'wide')) {
      ctx.err(noneFound(targets[0].info, scope));
      if (watch) {
        const cols = columnsFor(targets[0].info.kind, { wide: format === 'wide', allNamespaces: scope.allNamespaces });
        ctx.out(renderTable(cols.map((c) => c.header), []));
      }
    }
    if (watch) await watchChanges(client, targets[0].info, targets[0].names, scope, format, watchFrom, ctx);
    return missing ? 1 : 0;
  },
};
