import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Taint, Toleration } from './types.ts';
import { formatTaints, parseTaints, toleratedForMs, tolerates, toleratesTaint } from './tolerations.ts';

const dedicated: Taint = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };

const cases: [string, Toleration, Taint, boolean][] = [
  ['Exists with no key matches every taint', { operator: 'Exists' }, dedicated, true],
  ['Exists with no key and no effect matches NoExecute too', { operator: 'Exists' }, unreachable, true],
  ['Exists with the key matches any value', { key: 'dedicated', operator: 'Exists' }, dedicated, true],
  ['Exists with another key does not match', { key: 'gpu', operator: 'Exists' }, dedicated, false],
  ['Equal with key and value matches', { key: 'dedicated', operator: 'Equal', value: 'db' }, dedicated, true],
  ['Equal is the default operator', { key: 'dedicated', value: 'db' }, dedicated, true],
  ['Equal with another value does not match', { key: 'dedicated', operator: 'Equal', value: 'web' }, dedicated, false],
  ['Equal with no value matches a taint with none', { key: 'node.kubernetes.io/unreachable' }, unreachable, true],
  ['Equal with no value does not match a taint with one', { key: 'dedicated' }, dedicated, false],
  ['Equal with no key matches nothing', { operator: 'Equal', value: 'db' }, dedicated, false],
  ['an empty effect matches every effect', { key: 'dedicated', operator: 'Exists', effect: '' }, dedicated, true],
  ['the same effect matches', { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, dedicated, true],
  ['another effect does not', { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, dedicated, false],
  ['PreferNoSchedule does not tolerate NoSchedule', { operator: 'Exists', effect: 'PreferNoSchedule' }, dedicated, false],
];
for (const [name, t, taint, want] of cases) test(`tolerates - ${name}`, () => assert.is(tolerates(t, taint), want));

test('tolerates - any one of the pod\'s tolerations will do', () => {
  assert.ok(toleratesTaint([{ key: 'gpu', operator: 'Exists' }, { key: 'dedicated', value: 'db' }], dedicated));
  assert.not.ok(toleratesTaint([{ key: 'gpu', operator: 'Exists' }], dedicated));
  assert.not.ok(toleratesTaint(undefined, dedicated));
});

const key = unreachable.key;
const times: [string, Toleration[] | undefined, number | 'forever' | undefined][] = [
  ['no tolerations: evict now', undefined, undefined],
  ['none that match: evict now', [{ key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 99 }], undefined],
  ['a NoSchedule toleration does not keep a pod', [{ key, operator: 'Exists', effect: 'NoSchedule' }], undefined],
  ['tolerationSeconds', [{ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }], 30_000],
  ['no tolerationSeconds: for good', [{ key, operator: 'Exists', effect: 'NoExecute' }], 'forever'],
  ['a toleration of every taint: for good', [{ operator: 'Exists' }], 'forever'],
  ['a negative tolerationSeconds is 0', [{ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: -5 }], 0],
  ['the least of several tolerationSeconds', [{ key, operator: 'Exists', tolerationSeconds: 300 }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }], 60_000],
  ['a time limit wins over a toleration for good', [{ operator: 'Exists' }, { key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }], 300_000],
];
for (const [name, tolerations, want] of times) test(`toleration time - ${name}`, () => assert.is(toleratedForMs(tolerations, unreachable), want));

test('taints as text (SKIFF_NODE_TAINTS): both ways, and a bad term named', () => {
  const taints: Taint[] = [{ key: 'node.cloudprovider.kubernetes.io/uninitialized', value: 'true', effect: 'NoSchedule' }, { key: 'gpu', effect: 'NoExecute' }];
  const text = formatTaints(taints);
  assert.is(text, 'node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule,gpu:NoExecute');
  assert.equal(parseTaints(text), taints);
  assert.equal(parseTaints(''), []);
  assert.throws(() => parseTaints('gpu:Sometimes'), /"gpu:Sometimes" is not key\[=value\]:Effect/);
  assert.throws(() => parseTaints('gpu'), /"gpu" is not/);
});

test.run();
