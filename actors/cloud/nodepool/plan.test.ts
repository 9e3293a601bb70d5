// The node pools' arithmetic: the fewest nodes for the pods that fit nowhere, by the scheduler's
// own filters on the pool's template; room on nodes coming up counted first; max never passed;
// empty nodes removed after consolidateAfter, never below min.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NodePool, Pod, Taint } from '../../../protocol/types.ts';
import { planScaleDown, planScaleUp, templateNode, type PoolNode, type PoolView } from './plan.ts';

const pool = (name: string, o: { min?: number; max?: number; cpu?: string; labels?: Record<string, string>; taints?: Taint[]; after?: string } = {}): NodePool => ({
  apiVersion: 'skiff.io/v1', kind: 'NodePool', metadata: { name },
  spec: { minNodes: o.min ?? 0, maxNodes: o.max ?? 3, consolidateAfter: o.after ?? '10s', template: { labels: o.labels ?? {}, taints: o.taints ?? [], capacity: { cpu: o.cpu ?? '1', memory: '2Gi' } } },
});
const pod = (name: string, cpu: string, extra: Partial<Pod['spec']> = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', command: ['x'], resources: { requests: { cpu, memory: '64Mi' } } }], ...extra },
});
const pods = (n: number, cpu: string, extra: Partial<Pod['spec']> = {}) => Array.from({ length: n }, (_, i) => pod(`p${i}`, cpu, extra));
const view = (p: NodePool, nodes: PoolNode[] = []): PoolView => ({ pool: p, nodes });

const ups: [string, PoolView[], Pod[], Record<string, number>, number][] = [
  ['four pods of 500m on 1-CPU nodes: two nodes', [view(pool('a'))], pods(4, '500m'), { a: 2 }, 0],
  ['largest first: 700m, 700m, 300m, 300m fit two nodes, not three', [view(pool('a'))], [pod('x', '700m'), pod('y', '300m'), pod('z', '700m'), pod('w', '300m')], { a: 2 }, 0],
  ['max 3 holds: eight pods of 500m make three nodes, two pods left', [view(pool('a'))], pods(8, '500m'), { a: 3 }, 2],
  ['a node coming up takes what fits on it first', [view(pool('a'), [{ name: 'a-1', ready: false, pods: [] }])], pods(3, '500m'), { a: 1 }, 0],
  ['a pod larger than any template fits nowhere', [view(pool('a'))], [pod('big', '2')], {}, 1],
  ['a node selector picks its pool', [view(pool('a')), view(pool('b', { labels: { disk: 'ssd' } }))], pods(2, '500m', { nodeSelector: { disk: 'ssd' } }), { b: 1 }, 0],
  ['a taint the pods do not tolerate keeps them off that pool', [view(pool('a', { taints: [{ key: 'gpu', effect: 'NoSchedule' }] })), view(pool('b'))], pods(1, '100m'), { b: 1 }, 0],
  ['a node just ready, with room, takes the pods the scheduler has not placed yet: no new node', [view(pool('a'), [{ name: 'a-1', node: templateNode(pool('a'), 'a-1'), ready: true, pods: [pod('there', '400m')] }])], pods(1, '500m'), {}, 0],
  ['a pool at its max already grows no more', [view(pool('a', { max: 1 }), [{ name: 'a-1', ready: true, pods: [pod('full', '1')] }])], pods(1, '500m'), {}, 1],
];
for (const [name, views, pending, want, unfit] of ups) {
  test(`scale up - ${name}`, () => {
    const plan = planScaleUp(views, pending);
    assert.equal(Object.fromEntries(plan.add), want);
    assert.is(plan.unfit.length, unfit, plan.unfit.map((u) => `${u.pod.metadata.name}: ${u.why}`).join('\n'));
  });
}

test('scale up - why a pod fits nowhere names each pool and its reason', () => {
  const plan = planScaleUp([view(pool('a')), view(pool('b', { max: 0 }))], [pod('big', '2'), pod('small', '100m', { nodeSelector: { zone: 'moon' } })]);
  const why = Object.fromEntries(plan.unfit.map((u) => [u.pod.metadata.name, u.why]));
  assert.match(why.big, /a: Insufficient cpu/);
  assert.match(why.small, /a: node\(s\) didn't match node selector/);
});

test('scale down - an empty ready node goes after consolidateAfter, never below min; a busy or coming one stays', () => {
  const p = pool('a', { min: 1, after: '10s' });
  const nodes: PoolNode[] = [
    { name: 'a-1', ready: true, pods: [] },
    { name: 'a-2', ready: true, pods: [] },
    { name: 'a-3', ready: true, pods: [] },
    { name: 'a-4', ready: true, pods: [pod('busy', '100m')] },
    { name: 'a-5', ready: false, pods: [] },
  ];
  const since = new Map<string, number>();
  assert.equal(planScaleDown(view(p, nodes), since, 1000), [], 'first seen empty now');
  assert.equal([...since.keys()].sort(), ['a-1', 'a-2', 'a-3']);
  assert.equal(planScaleDown(view(p, nodes), since, 10_999), [], 'not yet 10 s');
  // Five nodes, min 1: all three empty ones may go.
  assert.equal(planScaleDown(view(p, nodes), since, 11_000), ['a-1', 'a-2', 'a-3']);
  // Only two nodes left, one busy: the empty one is the min's.
  const two: PoolNode[] = [{ name: 'a-1', ready: true, pods: [] }, { name: 'a-4', ready: true, pods: [pod('busy', '100m')] }];
  assert.equal(planScaleDown(view(pool('a', { min: 2 }), two), since, 20_000), []);
  // A node that got a pod starts its wait again when it empties.
  planScaleDown(view(p, [{ name: 'a-2', ready: true, pods: [pod('q', '1m')] }]), since, 21_000);
  assert.not.ok(since.has('a-2'));
});

test.run();
