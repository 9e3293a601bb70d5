import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node, Pod, Taint } from '../../../protocol/types.ts';
import { evictionDueAt, evictionsAllowed, leaseAgeMs, nodeChange, UNREACHABLE } from './decide.ts';

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

test('node - a stale lease: Ready=Unknown and the unreachable taints', () => {
  const c = nodeChange(node('True'), false, now)!;
  assert.is(c.conditions!.find((x) => x.type === 'Ready')!.status, 'Unknown');
  assert.equal(c.taints!.map((t) => `${t.key}:${t.effect}`), [`${UNREACHABLE}:NoSchedule`, `${UNREACHABLE}:NoExecute`]);
});

test('node - already marked: nothing more to write', () => {
  const marked = node('Unknown', [{ key: UNREACHABLE, effect: 'NoExecute' }], 'NodeStatusUnknown');
  assert.is(nodeChange(marked, false, now), undefined);
});

test('node - renewed again: untainted and Ready', () => {
  const c = nodeChange(node('Unknown', [{ key: UNREACHABLE, effect: 'NoExecute' }, { key: 'other', effect: 'NoSchedule' }], 'NodeStatusUnknown'), true, now)!;
  assert.equal(c.taints, [{ key: 'other', effect: 'NoSchedule' }]);
  assert.is(c.conditions!.find((x) => x.type === 'Ready')!.status, 'True');
  assert.is(nodeChange(node('True'), true, now), undefined, 'a healthy node needs nothing');
});

const taint: Taint = { key: UNREACHABLE, effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' };
const pod = (tolerations?: Pod['spec']['tolerations']): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [], tolerations } });
const evictions: [string, Pod, number | 'never'][] = [
  ['no toleration: at once', pod(), Date.parse('2026-01-01T00:00:00Z')],
  ['tolerationSeconds 30', pod([{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]), Date.parse('2026-01-01T00:00:30Z')],
  ['tolerates for good', pod([{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }]), 'never'],
  ['a toleration of every taint', pod([{ operator: 'Exists' }]), 'never'],
  ['another key does not help', pod([{ key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 99 }]), Date.parse('2026-01-01T00:00:00Z')],
];
for (const [name, p, want] of evictions) test(`eviction - ${name}`, () => assert.is(evictionDueAt(p, taint), want));

const disruption: [number, number, boolean][] = [[3, 0, true], [3, 1, true], [5, 2, true], [5, 3, false], [10, 5, true], [10, 6, false], [1, 1, false], [3, 3, false]];
for (const [total, unhealthy, want] of disruption) {
  test(`disruption - ${unhealthy} of ${total} nodes unreachable: evictions ${want ? 'go ahead' : 'wait'}`, () => assert.is(evictionsAllowed(total, unhealthy), want));
}

test.run();
