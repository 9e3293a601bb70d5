import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seededRandom } from './memory-network.ts';
import { pickRandom, ProbeOrder } from './probe-order.ts';

test('ProbeOrder: every member once per round, in the same shuffled order each round', () => {
  const o = new ProbeOrder(seededRandom(1));
  for (const n of ['a', 'b', 'c', 'd', 'e']) o.add(n);
  const round = () => Array.from({ length: 5 }, () => o.next(() => true));
  const first = round();
  assert.equal([...first].sort(), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(round(), first);
});

test('ProbeOrder: skips members that may not be probed; none left gives undefined', () => {
  const o = new ProbeOrder(seededRandom(2));
  for (const n of ['a', 'b', 'c']) o.add(n);
  const seen = new Set(Array.from({ length: 6 }, () => o.next((n) => n !== 'b')));
  assert.equal([...seen].sort(), ['a', 'c']);
  assert.is(o.next(() => false), undefined);
});

test('ProbeOrder: removal keeps the place in the round', () => {
  const o = new ProbeOrder(seededRandom(3));
  for (const n of ['a', 'b', 'c', 'd']) o.add(n);
  const first = o.next(() => true)!;
  const rest = ['a', 'b', 'c', 'd'].filter((n) => n !== first);
  o.remove(first);
  assert.equal([o.next(() => true), o.next(() => true), o.next(() => true)].sort(), rest);
});

test('pickRandom: distinct, filtered, at most k', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const got = pickRandom(items, 5, (i) => i % 2 === 0, seededRandom(4));
  assert.is(got.length, 5);
  assert.is(new Set(got).size, 5);
  assert.ok(got.every((i) => i % 2 === 0));
  assert.equal(pickRandom(items, 3, (i) => i === 7, seededRandom(5)), [7], 'a scan finds the only one');
  assert.equal(pickRandom([], 3, () => true, seededRandom(6)), []);
});

test.run();
