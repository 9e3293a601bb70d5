// skiff drain: cordon a node, then move its pods away without taking a Deployment down.
import type { ApiClient } from '../../actors/client/client.ts';
import { loadConfig } from '../../protocol/config.ts';
import { Conflict, NotFound } from '../../protocol/errors.ts';
import type { Pod, ReplicaSet } from '../../protocol/types.ts';
import { stringOption, type CliContext, type Command } from '../command.ts';
import { integerOption, parseNodeName } from '../arguments.ts';
import { planDrain, podKey, ownerCanLoseOne, waitsForOwner, type DrainOptions, type EvictionGroup, type PodOwner } from '../drain-plan.ts';
import { formatDuration, optionalTimeout } from '../duration.ts';
import { setUnschedulable } from '../schedulable.ts';
import { waitPodGone, watchObject } from '../watch-object.ts';

const EXIT_INTERRUPTED = 130;

/** One drain in progress: what it may use, and the pods it has not yet seen gone. */
interface Drain {
  client: ApiClient;
  ctx: CliContext;
  gracePeriodSeconds?: number;
  /** Aborted by --timeout, by Ctrl-C, or by a failure in another group. */
  stop: AbortController;
  pending: Set<string>;
}

async function podsOn(client: ApiClient, node: string): Promise<Pod[]> {
  return (await client.list<Pod>('pods', { fieldSelector: `spec.nodeName=${node}` })).items;
}

/** Waits until the owner can lose one more ready pod, or cfg.drainOwnerWaitMs, then says so. */
async function waitForOwner(d: Drain, owner: PodOwner, next: Pod): Promise<void> {
  let last: ReplicaSet | undefined;
  const outcome = await watchObject<ReplicaSet, true>(d.client, d.ctx.cfg, { resource: 'replicasets', name: owner.name, namespace: owner.namespace },
    (rs) => {
      last = rs;
      return !rs || ownerCanLoseOne(rs) ? true : undefined;
    }, { timeoutMs: d.ctx.cfg.drainOwnerWaitMs, signal: d.stop.signal });
  if (outcome.type === 'timeout') {
    const ready = `${last?.status?.readyReplicas ?? 0} of ${last?.spec.replicas ?? 1}`;
    d.ctx.err(`Warning: replicaset "${owner.name}" still has only ${ready} replicas ready after ${formatDuration(d.ctx.cfg.drainOwnerWaitMs)}; evicting pod ${podKey(next)} anyway`);
  }
}

async function evict(d: Drain, pod: Pod): Promise<void> {
  const { name, namespace, uid } = pod.metadata;
  d.ctx.out(`evicting pod ${podKey(pod)}`);
  try {
    await d.client.delete('pods', name!, namespace, { gracePeriodSeconds: d.gracePeriodSeconds, preconditions: { uid } });
  } catch (err) {
    // NotFound, or a Conflict on the uid precondition: this pod is gone already.
    if (!(err instanceof NotFound) && !(err instanceof Conflict)) throw err;
  }
  const outcome = await waitPodGone(d.client, d.ctx.cfg, pod, { signal: d.stop.signal });
  if (outcome.type !== 'settled') return;
  d.pending.delete(podKey(pod));
  d.ctx.out(`pod/${name} evicted`);
}

/** One controller's pods, one at a time; each ready one after the owner has recovered from the last. */
async function evictGroup(d: Drain, group: EvictionGroup): Promise<void> {
  for (let i = 0; i < group.pods.length && !d.stop.signal.aborted; i++) {
    if (waitsForOwner(group, i)) await waitForOwner(d, group.owner!, group.pods[i]);
    if (!d.stop.signal.aborted) await evict(d, group.pods[i]);
  }
}

export const drainCommand: Command = {
  name: 'drain',
  help: `Prepare a node for maintenance: cordon it (no new pods land there), then evict its pods, in
every namespace, and wait until each is gone. The controllers recreate them on other nodes.

Usage:
  skiff drain NODE [--force] [--delete-emptydir-data] [--grace-period N] [--timeout DURATION]

The pods of one ReplicaSet go one at a time: before the next ready one is evicted, the drain waits
until the ReplicaSet has all its replicas ready again, so a Deployment loses at most one ready
replica at a time to the drain (it waits at most ${formatDuration(loadConfig({}).drainOwnerWaitMs)} per pod, then goes on with a warning;
SKIFF_DRAIN_OWNER_WAIT_MS sets that wait). Different controllers' pods are evicted side by side.

A pod without a controller (no ReplicaSet owns it) would not come back anywhere, so it is refused
unless --force; likewise a pod with an emptyDir volume, whose data would be lost, unless
--delete-emptydir-data. Pods that have finished (Succeeded, Failed) always go. If any pod is
refused, nothing is changed: the node is not cordoned and no pod is evicted.

A pod stops gracefully, through its node's kubelet. If that node is down its pods never finish
stopping; --grace-period=0 removes them at once. Undo the cordon with skiff uncordon NODE.

Options:
      --force                  Also evict pods that declare no controller (they are lost).
      --delete-emptydir-data   Also evict pods with emptyDir volumes (their data is lost).
      --grace-period N         Seconds each pod gets to stop (default: the pod's own
                               terminationGracePeriodSeconds; 0 removes at once).
      --timeout DURATION       Give up after this long, e.g. 5m, and exit 1; the node stays
                               cordoned (default: wait for ever; 0 also means for ever).
      --ignore-daemonsets      Accepted for kubectl compatibility; skiff has no DaemonSets.
  -h, --help                   Show this help.

Examples:
  skiff drain node-2
  skiff drain node-2 --force --timeout 5m
  skiff uncordon node-2`,
  options: {
    force: { type: 'boolean' },
    'delete-emptydir-data': { type: 'boolean' },
    'grace-period': { type: 'string' },
    timeout: { type: 'string' },
    'ignore-daemonsets': { type: 'boolean' },
  },
  async run(values, positionals, ctx) {
    const node = parseNodeName(positionals, 'drain');
    const opts: DrainOptions = { force: values.force === true, deleteEmptyDirData: values['delete-emptydir-data'] === true };
    const grace = integerOption(values, 'grace-period', -1, "seconds, 0 or more; -1 for the pod's own");
    const timeoutMs = optionalTimeout(stringOption(values, 'timeout'));
    const client = await ctx.client();
    await client.get('nodes', node);
    const refused = (refusals: string[], cordoned: boolean) => {
      for (const r of refusals) ctx.err(`error: unable to drain node "${node}": ${r}`);
      ctx.err(cordoned ? `node/${node} stays cordoned; skiff uncordon ${node} undoes that` : 'nothing was changed');
      return 1;
    };
    // Checked before the cordon, so that a refused drain leaves the node as it was.
    const precheck = planDrain(await podsOn(client, node), opts);
    if (precheck.refusals.length) return refused(precheck.refusals, false);
    ctx.out(`node/${node} ${(await setUnschedulable(client, node, true)) ? 'cordoned' : 'already cordoned'}`);
    // Pods may have landed between the check and the cordon; after the cordon no more can.
    const plan = planDrain(await podsOn(client, node), opts);
    if (plan.refusals.length) return refused(plan.refusals, true);
    for (const w of plan.warnings) ctx.err(`Warning: ${w}`);

    const d: Drain = {
      client, ctx, gracePeriodSeconds: grace === undefined || grace < 0 ? undefined : grace,
      stop: new AbortController(), pending: new Set(plan.groups.flatMap((g) => g.pods.map(podKey))),
    };
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => { timedOut = true; d.stop.abort(); }, timeoutMs);
    void ctx.interrupted.then(() => d.stop.abort());
    try {
      await Promise.all(plan.groups.map((g) => evictGroup(d, g).catch((err) => { d.stop.abort(); throw err; })));
    } finally {
      clearTimeout(timer);
    }
    if (d.pending.size === 0) {
      ctx.out(`node/${node} drained`);
      return 0;
    }
    const still = [...d.pending].join(', ');
    if (!timedOut) {
      ctx.err(`drain interrupted; node/${node} stays cordoned; not yet evicted: ${still}`);
      return EXIT_INTERRUPTED;
    }
    ctx.err(`error: unable to drain node "${node}": timed out after ${formatDuration(timeoutMs!)}; not yet evicted: ${still} (node/${node} stays cordoned; run skiff drain ${node} again to finish)`);
    return 1;
  },
};
