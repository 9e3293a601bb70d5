// skiff delete: by manifest, by name, or by selector; waits until the objects are gone.
import { DELETE_WAIT_POLL_MS, DELETE_WAIT_TIMEOUT_MS } from '../../protocol/config.ts';
import { NotFound } from '../../protocol/errors.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import type { KubeObject } from '../../protocol/types.ts';
import type { ApiClient, DeleteOptions } from '../../actors/client/client.ts';
import { formatError, listOption, NAMESPACE_OPTIONS, stringOption, UsageError, type CliContext, type Command, type Values } from '../command.ts';
import { parseTimeout } from '../duration.ts';
import { parseTargets, quotedRef } from '../resources.ts';
import { loadAndPrepare } from './apply.ts';
import { scopeOf } from './get.ts';

interface Victim {
  info: KindInfo;
  name: string;
  namespace?: string;
}

function deleteOptions(values: Values): DeleteOptions {
  const cascade = stringOption(values, 'cascade') ?? 'background';
  const policies: Record<string, DeleteOptions['propagationPolicy']> = { background: 'Background', foreground: 'Foreground', orphan: 'Orphan', true: 'Background', false: 'Orphan' };
  if (!policies[cascade]) throw new UsageError(`--cascade=${cascade}: use background, foreground or orphan`);
  let grace: number | undefined;
  const g = stringOption(values, 'grace-period');
  if (g !== undefined) {
    grace = Number(g);
    if (!Number.isInteger(grace) || grace < -1) throw new UsageError(`--grace-period=${g}: must be a whole number of seconds`);
    if (grace < 0) grace = undefined;
  }
  if (values.now === true) grace = 1;
  if (values.force === true) grace = 0;
  return { propagationPolicy: policies[cascade], gracePeriodSeconds: grace };
}

async function victimsFrom(values: Values, positionals: string[], client: () => Promise<ApiClient>, ctx: CliContext): Promise<Victim[] | number> {
  if (listOption(values, 'filename').length) {
    if (positionals.length) throw new UsageError('give either -f or KIND NAME, not both');
    const prepared = await loadAndPrepare(values, ctx, false, false);
    if (typeof prepared === 'number') return prepared;
    return prepared.reverse().map((p) => ({ info: p.info, name: p.manifest.metadata.name!, namespace: p.manifest.metadata.namespace }));
  }
  const scope = scopeOf(values);
  const victims: Victim[] = [];
  for (const t of parseTargets(positionals)) {
    const ns = t.info.namespaced ? scope.namespace : undefined;
    if (t.names.length) {
      victims.push(...t.names.map((name) => ({ info: t.info, name, namespace: ns })));
      continue;
    }
    if (!scope.labelSelector && !scope.fieldSelector && values.all !== true) {
      throw new UsageError(`say which ${t.info.resource} to delete: give names, a selector (-l), or --all`);
    }
    const list = await (await client()).list(t.info.resource, { namespace: ns, labelSelector: scope.labelSelector, fieldSelector: scope.fieldSelector });
    victims.push(...list.items.map((o: KubeObject) => ({ info: t.info, name: o.metadata.name!, namespace: o.metadata.namespace })));
  }
  return victims;
}

async function waitGone(client: ApiClient, v: Victim, uid: string | undefined, deadline: number): Promise<boolean> {
  for (;;) {
    try {
      const o = await client.get(v.info.resource, v.name, v.namespace);
      if (uid && o.metadata.uid !== uid) return true;
    } catch (err) {
      if (err instanceof NotFound) return true;
      throw err;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, DELETE_WAIT_POLL_MS));
  }
}

export const deleteCommand: Command = {
  name: 'delete',
  help: `Delete objects, and what they own.

Usage:
  skiff delete -f FILE|DIR|-
  skiff delete KIND NAME... | KIND/NAME...
  skiff delete KIND -l SELECTOR | KIND --all

Deleting an owner (a Deployment, say) deletes what it owns (its ReplicaSets and their Pods),
unless --cascade=orphan. Pods running on a node stop gracefully: SIGTERM, then SIGKILL after the
grace period. By default the command waits until each object is gone.

Options:
  -f, --filename FILE        Delete the objects in these manifests. Repeatable; - for stdin.
  -R, --recursive            Also read subdirectories of a directory given with -f.
  -n, --namespace NS         Namespace (default: default).
  -A, --all-namespaces       With -l or --all: every namespace.
  -l, --selector SELECTOR    Delete every object matching the label selector.
      --all                  Delete every object of the kind in the namespace.
      --cascade=MODE         background (default), foreground, or orphan (keep what it owns).
      --grace-period=N       Seconds a pod gets to stop (default: the pod's own setting).
      --now                  Same as --grace-period=1.
      --force                Same as --grace-period=0: remove at once, do not wait for the node.
      --wait=false           Return without waiting for the objects to be gone.
      --timeout=DURATION     How long to wait (default ${DELETE_WAIT_TIMEOUT_MS / 1000}s).
      --ignore-not-found     A missing object is not an error.
  -h, --help                 Show this help.

Examples:
  skiff delete deployment web
  skiff delete pods -l app=web
  skiff delete -f examples/hello.yaml`,
  options: {
    ...NAMESPACE_OPTIONS,
    filename: { type: 'string', short: 'f', multiple: true },
    recursive: { type: 'boolean', short: 'R' },
    selector: { type: 'string', short: 'l' },
    'field-selector': { type: 'string' },
    all: { type: 'boolean' },
    cascade: { type: 'string' },
    'grace-period': { type: 'string' },
    now: { type: 'boolean' },
    force: { type: 'boolean' },
    wait: { type: 'string' },
    timeout: { type: 'string' },
    'ignore-not-found': { type: 'boolean' },
    validate: { type: 'string' },
  },
  async run(values, positionals, ctx) {
    const opts = deleteOptions(values);
    const wait = (stringOption(values, 'wait') ?? 'true') !== 'false';
    const timeoutMs = parseTimeout(stringOption(values, 'timeout'));
    const victims = await victimsFrom(values, positionals, () => ctx.client(), ctx);
    if (typeof victims === 'number') return victims;
    if (victims.length === 0) {
      ctx.err('No resources found');
      return 0;
    }
    const client = await ctx.client();
    let failed = 0;
    const pending: { v: Victim; uid?: string }[] = [];
    for (const v of victims) {
      try {
        const o = await client.delete(v.info.resource, v.name, v.namespace, opts);
        ctx.out(`${quotedRef(v.info, v.name)} deleted`);
        pending.push({ v, uid: o.metadata.uid });
      } catch (err) {
        if (err instanceof NotFound && values['ignore-not-found'] === true) continue;
        ctx.err(formatError(err));
        failed++;
      }
    }
    if (wait) {
      const deadline = Date.now() + timeoutMs;
      for (const { v, uid } of pending) {
        if (!(await waitGone(client, v, uid, deadline))) {
          ctx.err(`error: timed out waiting for ${quotedRef(v.info, v.name)} to be gone (it is still terminating; see: skiff describe ${v.info.singular} ${v.name})`);
          failed++;
        }
      }
    }
    return failed ? 1 : 0;
  },
};
