import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApiClient } from '../actors/client/client.ts';
import type { WatchOptions, WatchUpdate } from '../actors/client/watch.ts';
import { loadConfig } from '../protocol/config.ts';
import type { Deployment, DeploymentStatus, Pod, ReplicaSet } from '../protocol/types.ts';
import { parseNodeName, parseObjectName } from './arguments.ts';
import { UsageError } from './command.ts';
import { LOCAL_STORAGE_REFUSAL, LOCAL_STORAGE_WARNING, ownerCanLoseOne, planDrain, UNMANAGED_REFUSAL, UNMANAGED_WARNING, waitsForOwner } from './drain-plan.ts';
import { flagDuration, formatDuration, optionalTimeout } from './duration.ts';
import { historyTable, rolledBack, rolloutHistory, rolloutState, sameTemplate, templateWithoutHash, findRevision, type RolloutState } from './rollout.ts';
import { watchObject } from './watch-object.ts';

const DEPLOY_UID = 'uid-web';

function deployment(replicas: number, generation: number, status?: DeploymentStatus, annotations?: Record<string, string>): Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: DEPLOY_UID, generation, annotations },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template('v2') },
    status,
  };
}

function template(version: string, hash?: string) {
  const labels: Record<string, string> = { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) };
  return { metadata: { labels }, spec: { containers: [{ name: 'web', command: ['serve', version] }] } };
}

function replicaSet(name: string, revision: string | undefined, opts: { owner?: string; cause?: string; version?: string } = {}): ReplicaSet {
  const annotations: Record<string, string> = {};
  if (revision !== undefined) annotations['deployment.kubernetes.io/revision'] = revision;
  if (opts.cause) annotations['kubernetes.io/change-cause'] = opts.cause;
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: {
      name, namespace: 'default', annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: opts.owner ?? DEPLOY_UID, controller: true }],
    },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: template(opts.version ?? name, name.split('-')[1]) },
  };
}

// --- rollout status ----------------------------------------------------------------------------

const progressing = (what: string): RolloutState => ({ type: 'progressing', message: `Waiting for deployment "web" rollout to finish: ${what}...` });
const statusCases: [string, Deployment, RolloutState][] = [
  ['a spec change the controller has not seen', deployment(4, 2, { observedGeneration: 1, replicas: 4, updatedReplicas: 4, availableReplicas: 4 }),
    { type: 'progressing', message: 'Waiting for deployment spec update to be observed...' }],
  ['no status yet', deployment(4, 1), { type: 'progressing', message: 'Waiting for deployment spec update to be observed...' }],
  ['new replicas still being created', deployment(4, 1, { observedGeneration: 1, replicas: 5, updatedReplicas: 2, availableReplicas: 3 }),
    progressing('2 out of 4 new replicas have been updated')],
  ['old replicas still running', deployment(4, 1, { observedGeneration: 1, replicas: 5, updatedReplicas: 4, availableReplicas: 4 }),
    progressing('1 old replicas are pending termination')],
  ['updated replicas not yet available', deployment(4, 1, { observedGeneration: 1, replicas: 4, updatedReplicas: 4, availableReplicas: 3 }),
    progressing('3 of 4 updated replicas are available')],
  ['scaled down mid-rollout', deployment(3, 1, { observedGeneration: 1, replicas: 4, updatedReplicas: 4, availableReplicas: 4 }),
    progressing('1 extra updated replicas are pending termination')],
  ['complete', deployment(4, 3, { observedGeneration: 3, replicas: 4, updatedReplicas: 4, availableReplicas: 4 }),
    { type: 'complete', message: 'deployment "web" successfully rolled out' }],
  ['complete at zero replicas', deployment(0, 1, { observedGeneration: 1 }), { type: 'complete', message: 'deployment "web" successfully rolled out' }],
  ['progress deadline exceeded', deployment(4, 1, {
    observedGeneration: 1, replicas: 4, updatedReplicas: 2, availableReplicas: 2,
    conditions: [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
  }), { type: 'failed', message: 'deployment "web" exceeded its progress deadline' }],
  ['a finished rollout is not failed by an unrelated Progressing reason', deployment(2, 1, {
    observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2,
    conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
  }), { type: 'complete', message: 'deployment "web" successfully rolled out' }],
];
for (const [name, d, want] of statusCases) test(`rollout status - ${name}`, () => assert.equal(rolloutState(d), want));

// --- rollout history ---------------------------------------------------------------------------

test('rollout history - owned ReplicaSets with a revision, oldest first', () => {
  const history = rolloutHistory(deployment(2, 1), [
    replicaSet('web-c', '10', { cause: 'skiff apply -f v3.yaml' }),
    replicaSet('web-a', '2'),
    replicaSet('other-x', '1', { owner: 'uid-other' }),
    replicaSet('web-b', '3', { cause: 'bump' }),
    replicaSet('web-d', undefined),
    replicaSet('web-e', 'seven'),
  ]);
  assert.equal(history.map((h) => [h.revision, h.replicaSet.metadata.name, h.changeCause]), [
    [2, 'web-a', undefined], [3, 'web-b', 'bump'], [10, 'web-c', 'skiff apply -f v3.yaml'],
  ]);
  assert.is(historyTable(history), [
    'REVISION  CHANGE-CAUSE',
    '2         <none>',
    '3         bump',
    '10        skiff apply -f v3.yaml',
  ].join('\n'));
});

test('rollout history - a ReplicaSet owned but not controlled is not a revision', () => {
  const rs = replicaSet('web-a', '1');
  rs.metadata.ownerReferences![0].controller = false;
  assert.equal(rolloutHistory(deployment(1, 1), [rs]), []);
});

// --- rollout undo ------------------------------------------------------------------------------

const history = rolloutHistory(deployment(2, 1), [replicaSet('web-a', '1'), replicaSet('web-b', '2'), replicaSet('web-c', '3')]);
const undoCases: [string, number | undefined, number | string][] = [
  ['no revision given goes to the previous one', undefined, 2],
  ['--to-revision 0 is the previous one too', 0, 2],
  ['a given revision', 1, 1],
  ['the current revision itself', 3, 3],
  ['a revision that does not exist', 7, 'unable to find specified revision 7 in the history of deployment "web" (it has 1, 2, 3; see: skiff rollout history deployment/web)'],
];
for (const [name, toRevision, want] of undoCases) {
  test(`rollout undo - ${name}`, () => {
    const got = findRevision(history, 'web', toRevision);
    assert.equal(got.type === 'found' ? got.revision.revision : got.message, want);
  });
}

test('rollout undo - with one revision or none there is no history to go back to', () => {
  for (const h of [history.slice(0, 1), []]) {
    assert.equal(findRevision(h, 'web'), { type: 'missing', message: 'no rollout history found for deployment "web"' });
  }
});

test('rollout undo - the template goes back without its pod-template-hash, with its change-cause', () => {
  const d = deployment(2, 4, undefined, { 'kubernetes.io/change-cause': 'v2', 'team': 'a' });
  const target = rolloutHistory(d, [replicaSet('web-a', '1', { cause: 'v1', version: 'v1' })])[0];
  const back = rolledBack(d, target);
  assert.equal(back.spec.template, template('v1'));
  assert.equal(back.metadata.annotations, { 'kubernetes.io/change-cause': 'v1', 'team': 'a' });
  assert.equal(target.replicaSet.spec.template.metadata?.labels?.['pod-template-hash'], 'a', 'the ReplicaSet is left as it was');
  assert.equal(d.spec.template, template('v2'), 'the Deployment read is left as it was');
  const noCause = rolledBack(d, rolloutHistory(d, [replicaSet('web-b', '2')])[0]);
  assert.equal(noCause.metadata.annotations, { team: 'a' });
});

test('rollout undo - templates that differ only in pod-template-hash are the same', () => {
  assert.ok(sameTemplate(template('v1'), template('v1', 'abc')));
  assert.not.ok(sameTemplate(template('v1'), template('v2', 'abc')));
  assert.equal(templateWithoutHash(template('v1', 'abc')), template('v1'));
});

// --- drain -------------------------------------------------------------------------------------

function pod(name: string, opts: { owner?: string; ready?: boolean; phase?: 'Running' | 'Succeeded'; emptyDir?: boolean; namespace?: string } = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: opts.namespace ?? 'default', uid: `uid-${name}`,
      ownerReferences: opts.owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: opts.owner, uid: `uid-${opts.owner}`, controller: true }] : undefined,
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', command: ['x'] }], volumes: opts.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : undefined },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

const noFlags = { force: false, deleteEmptyDirData: false };
const refusalCases: [string, Pod[], typeof noFlags, string[], string[]][] = [
  ['pods with a controller may go', [pod('web-1', { owner: 'web-a' })], noFlags, [], []],
  ['a pod without a controller is refused', [pod('x'), pod('web-1', { owner: 'web-a' }), pod('y', { namespace: 'ops' })], noFlags,
    [`${UNMANAGED_REFUSAL}: default/x, ops/y`], []],
  ['--force lets it go, with a warning', [pod('x')], { force: true, deleteEmptyDirData: false }, [], [`${UNMANAGED_WARNING}: default/x`]],
  ['a finished pod without a controller may go', [pod('job', { phase: 'Succeeded', ready: false })], noFlags, [], []],
  ['a pod with an emptyDir is refused', [pod('web-1', { owner: 'web-a', emptyDir: true })], noFlags, [`${LOCAL_STORAGE_REFUSAL}: default/web-1`], []],
  ['--delete-emptydir-data lets it go, with a warning', [pod('web-1', { owner: 'web-a', emptyDir: true })], { force: false, deleteEmptyDirData: true },
    [], [`${LOCAL_STORAGE_WARNING}: default/web-1`]],
  ['both reasons at once', [pod('x', { emptyDir: true })], noFlags, [`${UNMANAGED_REFUSAL}: default/x`, `${LOCAL_STORAGE_REFUSAL}: default/x`], []],
];
for (const [name, pods, flags, refusals, warnings] of refusalCases) {
  test(`drain plan - ${name}`, () => {
    const plan = planDrain(pods, flags);
    assert.equal(plan.refusals, refusals);
    assert.equal(plan.warnings, warnings);
  });
}

test('drain plan - pods are grouped by controller, the not-ready ones first; each unowned pod alone', () => {
  const plan = planDrain([
    pod('web-1', { owner: 'web-a' }), pod('api-1', { owner: 'api-a' }), pod('web-2', { owner: 'web-a', ready: false }),
    pod('web-3', { owner: 'web-a' }), pod('x'), pod('y'),
  ], { force: true, deleteEmptyDirData: false });
  assert.equal(plan.groups.map((g) => [g.owner?.name ?? '-', g.pods.map((p) => p.metadata.name)]), [
    ['api-a', ['api-1']], ['web-a', ['web-2', 'web-1', 'web-3']], ['-', ['x']], ['-', ['y']],
  ]);
  const web = plan.groups[1];
  assert.equal([0, 1, 2].map((i) => waitsForOwner(web, i)), [false, false, true], 'only a ready pod after a ready one waits');
  assert.not.ok(waitsForOwner(plan.groups[2], 0));
});

const ownerCases: [number, number | undefined, boolean][] = [[3, 3, true], [3, 2, false], [3, undefined, false], [1, 1, true], [0, 0, true]];
for (const [replicas, ready, want] of ownerCases) {
  test(`drain plan - a ReplicaSet of ${replicas} with ${ready ?? 'no'} ready ${want ? 'can' : 'cannot'} lose one more`, () => {
    const rs = replicaSet('web-a', '1');
    rs.spec.replicas = replicas;
    rs.status = { replicas, readyReplicas: ready };
    assert.is(ownerCanLoseOne(rs), want);
  });
}

// --- arguments ---------------------------------------------------------------------------------

// The grammar's own table is protocol/duration.test.ts; here, what a flag adds to it.
test('duration - a bad one is a usage error naming the flag and the form', () => {
  assert.is(flagDuration('1m30s', '--timeout'), 90_000);
  assert.throws(() => flagDuration('soon', '--timeout'), (e: Error) => e instanceof UsageError && e.message === '--timeout=soon: use a duration such as 30s, 2m or 1m30s');
  assert.throws(() => optionalTimeout('45'), (e: Error) => e instanceof UsageError && e.message === '--timeout=45: a duration needs a unit, such as 45s or 45ms');
  assert.is(optionalTimeout('0s'), undefined, '0 waits for ever');
  assert.is(optionalTimeout(undefined), undefined);
  assert.equal([90_000, 60_000, 3_600_000, 500].map(formatDuration), ['1m30s', '1m', '1h', '500ms']);
});

const names: [string[], string][] = [[['deployment/web'], 'web'], [['deploy/web'], 'web'], [['deployment', 'web'], 'web'], [['deployments', 'web'], 'web']];
for (const [words, want] of names) test(`arguments - ${words.join(' ')} names deployment web`, () => assert.is(parseObjectName(words, ['deployments'], 'deployment/web').name, want));
test('arguments - a kind the verb does not serve, or no name, is a usage error', () => {
  for (const words of [['rs/web-a'], ['pod', 'x'], ['deployment'], [], ['deploy/a', 'deploy/b']]) {
    assert.throws(() => parseObjectName(words, ['deployments'], 'deployment/web'), (e: Error) => e instanceof UsageError, words.join(' '));
  }
  assert.is(parseNodeName(['node-1'], 'drain'), 'node-1');
  assert.is(parseNodeName(['node/node-1'], 'drain'), 'node-1');
  assert.throws(() => parseNodeName(['pod/node-1'], 'drain'), (e: Error) => e instanceof UsageError);
});

// --- waiting on one object ---------------------------------------------------------------------

/** An ApiClient whose one watch the test drives by hand. */
function fakeWatch() {
  const w = { emit: (_u: WatchUpdate) => {}, opts: undefined as WatchOptions | undefined, stopped: false };
  const client = {
    watch(_resource: string, opts: WatchOptions, onUpdate: (u: WatchUpdate) => void) {
      w.opts = opts;
      w.emit = onUpdate;
      return { stop: () => { w.stopped = true; }, resourceVersion: () => undefined };
    },
  } as unknown as ApiClient;
  return { client, w };
}

const cfg = loadConfig({});
const key = { resource: 'deployments', name: 'web', namespace: 'default' };
const readyAt = (d: Deployment | undefined) => (d ? (d.status?.availableReplicas === 3 ? 'ready' : undefined) : 'gone');
const withAvailable = (n: number) => deployment(3, 1, { availableReplicas: n });

test('watch object - an object missing from the listing is gone at once', async () => {
  const { client, w } = fakeWatch();
  const done = watchObject(client, cfg, key, readyAt);
  assert.is(w.opts?.fieldSelector, 'metadata.name=web');
  w.emit({ type: 'RESYNC' });
  w.emit({ type: 'SYNCED', resourceVersion: '5' });
  assert.equal(await done, { type: 'settled', value: 'gone' });
  assert.ok(w.stopped);
});

test('watch object - each change is judged until one settles it; other names are ignored', async () => {
  const { client, w } = fakeWatch();
  const seen: number[] = [];
  const done = watchObject<Deployment, string>(client, cfg, key, (d) => {
    seen.push(d?.status?.availableReplicas ?? -1);
    return readyAt(d);
  });
  w.emit({ type: 'RESYNC' });
  w.emit({ type: 'ADDED', object: withAvailable(1) });
  assert.equal(seen, [], 'nothing is judged before the listing ends');
  w.emit({ type: 'SYNCED', resourceVersion: '5' });
  const other = withAvailable(3);
  other.metadata.name = 'web2';
  w.emit({ type: 'MODIFIED', object: other });
  w.emit({ type: 'MODIFIED', object: withAvailable(2) });
  assert.not.ok(w.stopped);
  w.emit({ type: 'MODIFIED', object: withAvailable(3) });
  assert.equal(await done, { type: 'settled', value: 'ready' });
  assert.equal(seen, [1, 2, 3]);
  assert.ok(w.stopped);
});

test('watch object - a delete is seen as gone', async () => {
  const { client, w } = fakeWatch();
  const done = watchObject(client, cfg, key, readyAt);
  w.emit({ type: 'RESYNC' });
  w.emit({ type: 'ADDED', object: withAvailable(1) });
  w.emit({ type: 'SYNCED', resourceVersion: '5' });
  w.emit({ type: 'DELETED', object: withAvailable(1) });
  assert.equal(await done, { type: 'settled', value: 'gone' });
});

test('watch object - a timeout or an abort ends the wait and the watch', async () => {
  const slow = fakeWatch();
  assert.equal(await watchObject(slow.client, cfg, key, readyAt, { timeoutMs: 5 }), { type: 'timeout' });
  assert.ok(slow.w.stopped);
  const stop = new AbortController();
  const aborted = fakeWatch();
  const done = watchObject(aborted.client, cfg, key, readyAt, { signal: stop.signal });
  stop.abort();
  assert.equal(await done, { type: 'aborted' });
  assert.ok(aborted.w.stopped);
});

test.run();
