// skiff rollout: watch, list, undo, restart, pause and resume a Deployment's rollouts.
import { stringify } from 'yaml';
import type { ApiClient } from '../../actors/client/client.ts';
import type { Deployment, ReplicaSet } from '../../protocol/types.ts';
import { NAMESPACE_OPTIONS, stringOption, UsageError, type CliContext, type Command, type Values } from '../command.ts';
import { integerOption, namespaceOption, parseObjectName } from '../arguments.ts';
import { formatDuration, optionalTimeout } from '../duration.ts';
import { objectRef } from '../resources.ts';
import { retryOnConflict } from '../retry.ts';
import {
  findRevision, historyTable, RESTARTED_AT_ANNOTATION, rolledBack, rolloutHistory, rolloutState, sameTemplate, type Revision,
} from '../rollout.ts';
import { interruptSignal, watchObject } from '../watch-object.ts';

/** The Deployment a subcommand acts on. */
interface Target {
  client: ApiClient;
  name: string;
  namespace: string;
  /** `deployment.apps/web`, as the output names it. */
  ref: string;
}

/** The cluster's state does not allow what was asked; printed as `error: ...`, exit code 1. */
class RolloutRefused extends Error {}

const EXIT_INTERRUPTED = 130;

function getDeployment(t: Target): Promise<Deployment> {
  return t.client.get<Deployment>('deployments', t.name, t.namespace);
}

/** The options, read before anything is sent, so that a mistake in them changes nothing. */
interface Flags {
  watch: boolean;
  timeoutMs?: number;
  revision?: number;
  toRevision?: number;
}

/** `-w=false`, `--watch=false`, `--watch false`: kubectl's boolean flag with a value. */
function watchOption(values: Values): boolean {
  const text = stringOption(values, 'watch')?.replace(/^=/, '');
  if (text === undefined || text === 'true') return true;
  if (text === 'false') return false;
  throw new UsageError(`--watch=${text}: use --watch=false (or -w=false) to print the state once`);
}

function flagsOf(values: Values): Flags {
  return {
    watch: watchOption(values),
    timeoutMs: optionalTimeout(stringOption(values, 'timeout')),
    revision: integerOption(values, 'revision', 1),
    toRevision: integerOption(values, 'to-revision', 0),
  };
}

async function status(t: Target, { watch, timeoutMs }: Flags, ctx: CliContext): Promise<number> {
  const initial = await getDeployment(t);
  if (!watch) {
    const state = rolloutState(initial);
    if (state.type === 'failed') throw new RolloutRefused(state.message);
    ctx.out(state.message);
    return 0;
  }
  let printed = '';
  let pausedNoted = false;
  const outcome = await watchObject<Deployment, 'complete' | 'failed' | 'deleted'>(t.client, ctx.cfg,
    { resource: 'deployments', name: t.name, namespace: t.namespace }, (d) => {
      if (!d) return 'deleted';
      const state = rolloutState(d);
      if (state.type === 'failed') return 'failed';
      // Every change of the object arrives; only a change in what it means is worth a line.
      if (state.message !== printed) ctx.out(state.message);
      printed = state.message;
      if (state.type === 'complete') return 'complete';
      if (d.spec.paused && !pausedNoted) {
        ctx.err(`note: deployment "${t.name}" is paused, so its rollout makes no progress until: skiff rollout resume deployment/${t.name}`);
      }
      pausedNoted = d.spec.paused === true;
      return undefined;
    }, { timeoutMs, signal: interruptSignal(ctx) });
  if (outcome.type === 'aborted') return EXIT_INTERRUPTED;
  if (outcome.type === 'timeout') {
    throw new RolloutRefused(`timed out after ${formatDuration(timeoutMs!)} waiting for deployment "${t.name}" to roll out; it is still in progress (see: skiff describe deployment ${t.name})`);
  }
  if (outcome.value === 'failed') throw new RolloutRefused(`deployment "${t.name}" exceeded its progress deadline`);
  if (outcome.value === 'deleted') throw new RolloutRefused(`deployment "${t.name}" was deleted while waiting for its rollout`);
  return 0;
}

async function historyOf(t: Target): Promise<{ deployment: Deployment; history: Revision[] }> {
  const deployment = await getDeployment(t);
  const replicaSets = await t.client.list<ReplicaSet>('replicasets', { namespace: t.namespace });
  return { deployment, history: rolloutHistory(deployment, replicaSets.items) };
}

async function history(t: Target, { revision }: Flags, ctx: CliContext): Promise<number> {
  const { history } = await historyOf(t);
  if (revision !== undefined) {
    const found = findRevision(history, t.name, revision);
    if (found.type === 'missing') throw new RolloutRefused(found.message);
    ctx.out(`${t.ref} with revision #${revision}`);
    ctx.out(stringify(found.revision.replicaSet.spec.template, { lineWidth: 0 }).trimEnd());
    return 0;
  }
  if (history.length === 0) {
    ctx.out('No rollout history found.');
    return 0;
  }
  ctx.out(t.ref);
  ctx.out(historyTable(history));
  return 0;
}

async function undo(t: Target, { toRevision }: Flags, ctx: CliContext): Promise<number> {
  // The update pins the version read, so a concurrent change makes it re-read and decide again.
  const message = await retryOnConflict(async () => {
    const { deployment, history } = await historyOf(t);
    if (deployment.spec.paused) {
      throw new RolloutRefused(`you cannot roll back a paused deployment; resume it first (skiff rollout resume deployment/${t.name}) and try again`);
    }
    const target = findRevision(history, t.name, toRevision);
    if (target.type === 'missing') throw new RolloutRefused(target.message);
    if (sameTemplate(deployment.spec.template, target.revision.replicaSet.spec.template)) {
      return `${t.ref} skipped rollback (current template already matches revision ${target.revision.revision})`;
    }
    await t.client.update(rolledBack(deployment, target.revision));
    return `${t.ref} rolled back`;
  });
  ctx.out(message);
  return 0;
}

async function restart(t: Target, _flags: Flags, ctx: CliContext): Promise<number> {
  const d = await getDeployment(t);
  if (d.spec.paused) {
    throw new RolloutRefused(`deployment "${t.name}" is paused, so a restart would not roll out; resume it first: skiff rollout resume deployment/${t.name}`);
  }
  // A changed template annotation makes a new ReplicaSet, which replaces every pod in turn.
  const patch = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: new Date().toISOString() } } } } };
  await t.client.patch('deployments', t.name, t.namespace, patch);
  ctx.out(`${t.ref} restarted`);
  return 0;
}

function setPaused(paused: boolean) {
  return async (t: Target, _flags: Flags, ctx: CliContext): Promise<number> => {
    const d = await getDeployment(t);
    if ((d.spec.paused ?? false) === paused) throw new RolloutRefused(`deployments.apps "${t.name}" is ${paused ? 'already paused' : 'not paused'}`);
    await t.client.patch('deployments', t.name, t.namespace, { spec: { paused } });
    ctx.out(`${t.ref} ${paused ? 'paused' : 'resumed'}`);
    return 0;
  };
}

type Subcommand = (t: Target, flags: Flags, ctx: CliContext) => Promise<number>;

const SUBCOMMANDS: Record<string, { run: Subcommand; options: string[] }> = {
  status: { run: status, options: ['watch', 'timeout'] },
  history: { run: history, options: ['revision'] },
  undo: { run: undo, options: ['to-revision'] },
  restart: { run: restart, options: [] },
  pause: { run: setPaused(true), options: [] },
  resume: { run: setPaused(false), options: [] },
};

const OWN_OPTIONS = ['watch', 'timeout', 'revision', 'to-revision'];

export const rolloutCommand: Command = {
  name: 'rollout',
  help: `Manage the rollout of a Deployment: each change of its pod template makes a new revision (a
new ReplicaSet), which replaces the old pods step by step.

Usage:
  skiff rollout status  deployment/NAME [-w=false] [--timeout DURATION] [-n NS]
  skiff rollout history deployment/NAME [--revision N] [-n NS]
  skiff rollout undo    deployment/NAME [--to-revision N] [-n NS]
  skiff rollout restart deployment/NAME [-n NS]
  skiff rollout pause   deployment/NAME [-n NS]
  skiff rollout resume  deployment/NAME [-n NS]

deploy/NAME and "deployment NAME" are accepted too.

Subcommands:
  status    Print the rollout's progress as it changes, until it completes (exit 0) or exceeds
            its progress deadline (spec.progressDeadlineSeconds; exit 1).
  history   List the revisions, with the kubernetes.io/change-cause annotation of each.
  undo      Go back to the previous revision (or --to-revision): its pod template becomes the
            Deployment's again, which rolls out as a new revision.
  restart   Replace every pod, by a rollout, without changing anything else: sets the template
            annotation kubectl.kubernetes.io/restartedAt to now.
  pause     Stop the rollout where it is; template changes made meanwhile wait for resume.
  resume    Let a paused rollout continue.

Options:
  -n, --namespace NS       Namespace (default: default).
  -w, --watch=false        status: print the state once and exit 0 whether or not the rollout
                           is complete (as kubectl; exit 1 only if it exceeded its deadline).
      --timeout DURATION   status: give up after this long (e.g. 2m) and exit 1 (default: wait
                           for ever; 0 also means for ever).
      --revision N         history: print revision N's pod template, as YAML.
      --to-revision N      undo: go back to revision N (default: the previous one).
  -h, --help               Show this help.

Examples:
  skiff rollout status deployment/web --timeout 2m
  skiff rollout history deploy/web
  skiff rollout undo deployment/web --to-revision 2
  skiff rollout restart deployment/web`,
  options: {
    namespace: NAMESPACE_OPTIONS.namespace,
    watch: { type: 'string', short: 'w' },
    timeout: { type: 'string' },
    revision: { type: 'string' },
    'to-revision': { type: 'string' },
  },
  async run(values, positionals, ctx) {
    const [verb, ...rest] = positionals;
    if (!verb) throw new UsageError(`say what to do: ${Object.keys(SUBCOMMANDS).join(', ')}; e.g. skiff rollout status deployment/web`);
    const sub = SUBCOMMANDS[verb];
    if (!sub) throw new UsageError(`unknown rollout subcommand ${JSON.stringify(verb)} (use ${Object.keys(SUBCOMMANDS).join(', ')})`);
    for (const o of OWN_OPTIONS) {
      if (values[o] !== undefined && !sub.options.includes(o)) throw new UsageError(`--${o} does not apply to rollout ${verb}`);
    }
    const flags = flagsOf(values);
    const { info, name } = parseObjectName(rest, ['deployments'], 'deployment/web');
    const target: Target = { client: await ctx.client(), name, namespace: namespaceOption(values), ref: objectRef(info, name) };
    try {
      return await sub.run(target, flags, ctx);
    } catch (err) {
      if (!(err instanceof RolloutRefused)) throw err;
      ctx.err(`error: ${err.message}`);
      return 1;
    }
  },
};
