import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node, Pod, Taint } from '../../../protocol/types.ts';
import { evictionDueAt, evictionsAllowed, leaseAgeMs, nodeChange, nodeHealth, readyEvent, UNREACHABLE } from './decide.ts';

const node = (ready: 'True' | 'Unknown', taints: Taint[] = [], reason = 'KubeletReady'): Node => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { taints },
  status: { conditions: [{ type: 'Ready', status: ready, reason }] },
});
const now = Date.parse('2026-01-01T00:00:10Z');

test('lease age', () => {
  assert.is(leaseAgeMs({ apiVersion: 'v1', kind: 'Lease', metadata: {}, spec: { renewTime: '2026-01-01T00:00:06Z' } }, now), 4000);
  assert.is(leaseAgeMs(undefined, now), Infinity);
  assert.is(leaseAgeMs(undefined, now, '2026-01-01T00:00:09Z'), 1000, 'a node without a lease yet counts from its registration');
});

const health: [string, number, Parameters<typeof nodeHealth>[1], string][] = [
  // name, lease age, gossip, verdict  (grace 4 s, eviction grace 30 s)
  ['fresh lease, gossip alive', 1000, 'alive', 'ready'],
  ['fresh lease, no gossip word', 1000, undefined, 'ready'],
  ['fresh lease, merely suspected', 1000, 'suspect', 'ready'],
  ['gossip dead: at once, however fresh the lease', 1000, 'dead', 'lost'],
  ['late lease, gossip still hears it: kept from new pods only', 5000, 'alive', 'unreachable'],
  ['late lease, suspected but not dead', 5000, 'suspect', 'unreachable'],
  ['late lease past the eviction grace, gossip alive', 31_000, 'alive', 'lost'],
  ['late lease, and the node left the group', 5000, 'left', 'lost'],
  ['left, but the lease still fresh (a restart)', 1000, 'left', 'ready'],
  ['late lease, no gossip word: the lease alone decides', 5000, undefined, 'lost'],
  ['no lease ever', Infinity, 'alive', 'lost'],
];
for (const [name, age, gossip, want] of health) {
  test(`health - ${name}: ${want}`, () => assert.is(nodeHealth(age, gossip, { graceMs: 4000, evictionGraceMs: 30_000 }), want));
}

test('health - dead by a suspicion that ran out (a slow or lossy link can do it): kept from new pods while the lease is fresh, lost once it is late', () => {
  assert.is(nodeHealth(1000, 'dead', { graceMs: 4000, evictionGraceMs: 30_000 }, true), 'unreachable');
  assert.is(nodeHealth(4001, 'dead', { graceMs: 4000, evictionGraceMs: 30_000 }, true), 'lost');
  assert.match(nodeChange(node('True'), 'unreachable', now, 'dead')!.conditions![0]!.message!, /still renews its lease/);
});

const effects = (c: ReturnType<typeof nodeChange>) => c?.taints?.filter((t) => t.key === UNREACHABLE).map((t) => t.effect);
const readyOf = (c: ReturnType<typeof nodeChange>) => c?.conditions?.find((x) => x.type === 'Ready');

test('node - lost: Ready=Unknown and both unreachable taints', () => {
  const c = nodeChange(node('True'), 'lost', now)!;
  assert.is(readyOf(c)!.status, 'Unknown');
  assert.equal(effects(c), ['NoSchedule', 'NoExecute']);
});

test('node - lost by gossip says so in the condition', () => {
  assert.match(readyOf(nodeChange(node('True'), 'lost', now, 'dead'))!.message!, /Gossip declared the node dead/);
});

test('node - unreachable: Ready=Unknown, kept from new pods, not evicted', () => {
  const c = nodeChange(node('True'), 'unreachable', now, 'alive')!;
  assert.is(readyOf(c)!.status, 'Unknown');
  assert.match(readyOf(c)!.message!, /gossip still hears the node/);
  assert.equal(effects(c), ['NoSchedule']);
});

test('node - unreachable, then lost: the NoExecute taint is added, the first taint keeps its time', () => {
  const first = nodeChange(node('True'), 'unreachable', now, 'alive')!;
  const marked = node('Unknown', first.taints, 'NodeStatusUnknown');
  marked.status!.conditions = first.conditions;
  const c = nodeChange(marked, 'lost', now + 5000, 'dead')!;
  assert.equal(effects(c), ['NoSchedule', 'NoExecute']);
  assert.is(c.taints![0], first.taints![0]);
});

test('node - already marked: nothing more to write', () => {
  const c = nodeChange(node('True'), 'lost', now)!;
  const marked = node('Unknown', c.taints, 'NodeStatusUnknown');
  marked.status!.conditions = c.conditions;
  assert.is(nodeChange(marked, 'lost', now + 500), undefined);
});

test('node - renewed again: untainted and Ready', () => {
  const c = nodeChange(node('Unknown', [{ key: UNREACHABLE, effect: 'NoExecute' }, { key: 'other', effect: 'NoSchedule' }], 'NodeStatusUnknown'), 'ready', now)!;
  assert.equal(c.taints, [{ key: 'other', effect: 'NoSchedule' }]);
  assert.is(readyOf(c)!.status, 'True');
  assert.is(nodeChange(node('True'), 'ready', now), undefined, 'a healthy node needs nothing');
});

test('events - one NodeNotReady when Ready leaves True, none when only the message changes, NodeReady when it returns', () => {
  const healthy = node('True');
  const lostByGossip = nodeChange(healthy, 'lost', now, 'dead')!;
  assert.is(readyEvent(healthy, lostByGossip), 'NodeNotReady');
  const marked = node('Unknown', lostByGossip.taints, 'NodeStatusUnknown');
  marked.status!.conditions = lostByGossip.conditions;
  // Gossip reaps the dead member: the condition's message changes, the node's state does not.
  const forgotten = nodeChange(marked, 'lost', now + 1000, undefined)!;
  assert.ok(forgotten.conditions, 'the message is rewritten');
  assert.is(readyEvent(marked, forgotten), undefined);
  assert.is(readyEvent(marked, nodeChange(marked, 'ready', now + 2000)), 'NodeReady');
  assert.is(readyEvent(healthy, undefined), undefined);
});

const taint: Taint = { key: UNREACHABLE, effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' };
const pod = (tolerations?: Pod['spec']['tolerations']): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [], tolerations } });
const evictions: [string, Pod, number | 'never'][] = [
  ['no toleration: at once', pod(), Date.parse('2026-01-01T00:00:00Z')],
  ['tolerationSeconds 30', pod([{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]), Date.parse('2026-01-01T00:00:30Z')],
  ['tolerates for good', pod([{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }]), 'never'],
  ['a toleration of every taint', pod([{ operator: 'Exists' }]), 'never'],
  ['another key does not help', pod([{ key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 99 }]), Date.parse('2026-01-01T00:00:00Z')],
  ['a time limit wins over a toleration for good', pod([{ operator: 'Exists' }, { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]), Date.parse('2026-01-01T00:00:30Z')],
];
for (const [name, p, want] of evictions) test(`eviction - ${name}`, () => assert.is(evictionDueAt(p, taint), want));

const disruption: [number, number, boolean][] = [[3, 0, true], [3, 1, true], [5, 2, true], [5, 3, false], [10, 5, true], [10, 6, false], [1, 1, false], [3, 3, false]];
for (const [total, unhealthy, want] of disruption) {
  test(`disruption - ${unhealthy} of ${total} nodes unreachable: evictions ${want ? 'go ahead' : 'wait'}`, () => assert.is(evictionsAllowed(total, unhealthy), want));
}

test.run();
