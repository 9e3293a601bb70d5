import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pod, ReplicaSet } from '../../../protocol/types.ts';
import { Expectations } from '../../runtime/expectations.ts';
import { adoptable, deletionOrder, planReplicaSet, podFromTemplate, slowStartBatches } from './reconcile.ts';

const rs = (replicas: number, extra: Partial<ReplicaSet['spec']> = {}): ReplicaSet => ({
  apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-abc', namespace: 'default', uid: 'rs-uid', generation: 4 },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', command: ['x'] }] } }, ...extra },
});

let n = 0;
const pod = (o: { node?: string; phase?: string; ready?: boolean; readySince?: string; restarts?: number; created?: string; deleting?: boolean } = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: `p${++n}`, namespace: 'default', labels: { app: 'web' }, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z', ...(o.deleting ? { deletionTimestamp: 'x' } : {}) },
  spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
  status: {
    phase: (o.phase ?? 'Running') as 'Running',
    conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: o.readySince ?? '2026-01-01T00:00:00Z' }],
    containerStatuses: [{ name: 'c', ready: !!o.ready, restartCount: o.restarts ?? 0, state: {} }],
  },
});

const batches: [number, number[]][] = [[0, []], [1, [1]], [3, [1, 2]], [10, [1, 2, 4, 3]], [16, [1, 2, 4, 8, 1]]];
for (const [total, want] of batches) test(`slow start - ${total} creates in batches ${want}`, () => assert.equal(slowStartBatches(total), want));

test('plan - too few pods: create the difference; status counts ready and available', () => {
  const plan = planReplicaSet(rs(3, { minReadySeconds: 10 }), [pod({ ready: true, readySince: '2026-01-01T00:00:00Z', node: 'a' }), pod({ ready: true, readySince: '2026-01-01T00:00:55Z', node: 'a' })], Date.parse('2026-01-01T00:01:00Z'));
  assert.is(plan.create, 1);
  assert.equal(plan.status, { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 4 });
});

test('plan - terminating and finished pods do not count', () => {
  const plan = planReplicaSet(rs(2), [pod({ deleting: true }), pod({ phase: 'Failed' }), pod({ node: 'a' })], 0);
  assert.is(plan.create, 1);
});

test('plan - too many pods: delete the cheapest to lose first', () => {
  const unassigned = pod();
  const pending = pod({ node: 'a', phase: 'Pending' });
  const notReady = pod({ node: 'a' });
  const youngReady = pod({ node: 'a', ready: true, readySince: '2026-01-01T00:05:00Z' });
  const oldReady = pod({ node: 'a', ready: true, readySince: '2026-01-01T00:00:00Z' });
  const plan = planReplicaSet(rs(1), [oldReady, youngReady, notReady, pending, unassigned], 0);
  assert.equal(plan.delete.map((p) => p.metadata.name), [unassigned, pending, notReady, youngReady].map((p) => p.metadata.name));
});

test('deletion order - more restarts first, then newer first', () => {
  const a = pod({ node: 'x', restarts: 5 });
  const b = pod({ node: 'x', restarts: 0, created: '2026-01-02T00:00:00Z' });
  const c = pod({ node: 'x', restarts: 0, created: '2026-01-01T00:00:00Z' });
  assert.equal([c, b, a].sort(deletionOrder).map((p) => p.metadata.name), [a, b, c].map((p) => p.metadata.name));
});

test('adoption - a matching pod without a controller is adopted; one with a controller is not', () => {
  const orphan = pod();
  const owned = { ...pod(), metadata: { ...pod().metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'other', uid: 'x', controller: true }] } };
  const stranger = { ...pod(), metadata: { ...pod().metadata, labels: { app: 'db' } } };
  assert.ok(adoptable(rs(1), orphan));
  assert.not.ok(adoptable(rs(1), owned));
  assert.not.ok(adoptable(rs(1), stranger));
});

test('pods from the template are owned by the ReplicaSet', () => {
  const p = podFromTemplate(rs(1));
  assert.is(p.metadata.generateName, 'web-abc-');
  assert.equal(p.metadata.ownerReferences![0], { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-uid', controller: true, blockOwnerDeletion: true });
});

test('expectations - wait for the informer to see our writes', () => {
  const e = new Expectations();
  e.expect('k', 2, 0, 0);
  assert.not.ok(e.satisfied('k', 1));
  e.creationObserved('k');
  assert.not.ok(e.satisfied('k', 1));
  e.creationObserved('k');
  assert.ok(e.satisfied('k', 1));
  e.expect('k', 1, 0, 0);
  assert.ok(e.satisfied('k', 6 * 60_000), 'they lapse');
});

test.run();
