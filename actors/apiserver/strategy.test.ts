import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Conflict, Invalid } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import type { Deployment, KubeObject, Pod } from '../../protocol/types.ts';
import { planDeletion, prepareBinding, prepareCreate, prepareStatusUpdate, prepareUpdate } from './strategy.ts';

const now = new Date('2026-01-02T03:04:05.000Z');
const podInfo = kindInfo('Pod')!;
const deployInfo = kindInfo('Deployment')!;

const deploy = (replicas: number, extra: Partial<Deployment> = {}): Deployment => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', uid: 'u1', generation: 3, creationTimestamp: '2026-01-01T00:00:00.000Z', resourceVersion: '7' },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', command: ['x'] }] } } },
  status: { replicas: 2, readyReplicas: 2 },
  ...extra,
});

const pod = (extra: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}, status?: Pod['status']): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u', ...meta },
  spec: { containers: [{ name: 'c', command: ['x'] }], terminationGracePeriodSeconds: 30, ...extra }, ...(status ? { status } : {}),
});

test('create - server fields are set, client ones dropped, status reset', () => {
  const input = { ...deploy(2), metadata: { name: 'web', namespace: 'default', uid: 'forged', resourceVersion: '99', generation: 7 } };
  const out = prepareCreate(deployInfo, input, { now, uid: 'new-uid' });
  assert.is(out.metadata.uid, 'new-uid');
  assert.is(out.metadata.generation, 1);
  assert.is(out.metadata.creationTimestamp, now.toISOString());
  assert.is(out.metadata.resourceVersion, undefined);
  assert.is(out.status, undefined);
});

test('create - a Node keeps the status its kubelet registers', () => {
  const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: {}, status: { capacity: { cpu: '2' } } };
  assert.equal(prepareCreate(kindInfo('Node')!, node, { now, uid: 'x' }).status, { capacity: { cpu: '2' } });
});

const generationCases: [string, Deployment, number][] = [
  ['spec change bumps generation', deploy(5), 4],
  ['label change does not', { ...deploy(2), metadata: { ...deploy(2).metadata, labels: { a: 'b' } } }, 3],
  ['status in a spec write is ignored', { ...deploy(2), status: { replicas: 99 } }, 3],
];
for (const [name, incoming, want] of generationCases) {
  test(`update - ${name}`, () => {
    const out = prepareUpdate(deployInfo, deploy(2), incoming) as Deployment;
    assert.is(out.metadata.generation, want);
    assert.equal(out.status, { replicas: 2, readyReplicas: 2 }, 'a spec write does not clobber status');
    assert.is(out.metadata.uid, 'u1');
    assert.is(out.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
  });
}

test('update - the selector of a Deployment is immutable', () => {
  const changed = deploy(2);
  changed.spec.selector = { matchLabels: { app: 'other' } };
  assert.throws(() => prepareUpdate(deployInfo, deploy(2), changed), (e: Error) => e instanceof Invalid && /spec.selector: field is immutable/.test(e.message));
});

const podGenerationCases: [string, Pod, Pod, number][] = [
  ['binding bumps a pod\'s generation', pod({}, { generation: 1 }), pod({ nodeName: 'n1' }), 2],
  ['so does a change of tolerations', pod({ nodeName: 'n1' }, { generation: 2 }), pod({ nodeName: 'n1', tolerations: [{ key: 'k', operator: 'Exists' }] }), 3],
  ['labels are not spec', pod({ nodeName: 'n1' }, { generation: 2 }), pod({ nodeName: 'n1' }, { labels: { a: 'b' } }), 2],
];
for (const [name, old, incoming, want] of podGenerationCases) {
  test(`update - ${name}`, () => assert.is(prepareUpdate(podInfo, old, incoming).metadata.generation, want));
}

test('binding - the node, once, PodScheduled=True in place of an Unschedulable verdict, generation bumped', () => {
  const unschedulable = pod({}, { generation: 1 }, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] });
  const out = prepareBinding(unschedulable, 'n1', now);
  assert.is(out.spec.nodeName, 'n1');
  assert.equal(out.spec.containers, unschedulable.spec.containers);
  assert.is(out.metadata.generation, 2);
  assert.equal(out.status, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now.toISOString() }] });
  assert.is(unschedulable.spec.nodeName, undefined, 'the stored object is not changed');
  assert.throws(() => prepareBinding(out, 'n2', now), (e: Error) => e instanceof Conflict && /pod default\/p is already assigned to node "n1"/.test(e.message));
  assert.is(prepareBinding(out, 'n1', now), out, 'bound again to its own node (a retry): unchanged');
  const deleting = pod({}, { deletionTimestamp: now.toISOString() });
  assert.throws(() => prepareBinding(deleting, 'n1', now), (e: Error) => e instanceof Conflict && /is being deleted, cannot be assigned to a node/.test(e.message));
});

test('update - a pod can be bound once, and its spec is otherwise fixed', () => {
  assert.is((prepareUpdate(podInfo, pod(), pod({ nodeName: 'n1' })) as Pod).spec.nodeName, 'n1');
  assert.throws(() => prepareUpdate(podInfo, pod({ nodeName: 'n1' }), pod({ nodeName: 'n2' })), /immutable once set/);
  assert.throws(() => prepareUpdate(podInfo, pod(), pod({ restartPolicy: 'Never' })), /pod updates may not change/);
});

test('status update - only status changes, generation stays', () => {
  const incoming = { ...deploy(9), status: { replicas: 3 } };
  const out = prepareStatusUpdate(deploy(2), incoming) as Deployment;
  assert.is(out.spec.replicas, 2);
  assert.is(out.metadata.generation, 3);
  assert.equal(out.status, { replicas: 3 });
});

const deletionCases: [string, Pod, number | undefined, string, number?][] = [
  ['an unscheduled pod goes at once', pod(), undefined, 'now'],
  ['a bound pod is marked with its grace period', pod({ nodeName: 'n1' }), undefined, 'graceful', 30],
  ['the caller may shorten the grace', pod({ nodeName: 'n1' }), 5, 'graceful', 5],
  ['grace 0 forces it', pod({ nodeName: 'n1' }), 0, 'now'],
  ['a finished pod goes at once', pod({ nodeName: 'n1' }, {}, { phase: 'Succeeded' }), undefined, 'now'],
  ['already terminating with a shorter grace', pod({ nodeName: 'n1' }, { deletionTimestamp: 'x', deletionGracePeriodSeconds: 10 }), 20, 'pending'],
  ['already terminating, shortened further', pod({ nodeName: 'n1' }, { deletionTimestamp: 'x', deletionGracePeriodSeconds: 10 }), 3, 'graceful', 3],
];
for (const [name, p, grace, want, wantGrace] of deletionCases) {
  test(`delete - ${name}`, () => {
    const plan = planDeletion(podInfo, p, grace, now);
    assert.is(plan.type, want);
    if (plan.type === 'graceful') {
      assert.is(plan.object.metadata.deletionGracePeriodSeconds, wantGrace);
      assert.ok(plan.object.metadata.deletionTimestamp);
    }
  });
}

test('delete - other kinds go at once', () => {
  assert.is(planDeletion(deployInfo, deploy(1), undefined, now).type, 'now');
});

test.run();
