import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BroadcastQueue, retransmitLimit } from './broadcast.ts';
import type { News } from './state.ts';

const alive = (name: string, incarnation = 0): News => ({ type: 'alive', name, incarnation, role: 'node' });

const limits: [number, number, number][] = [[4, 1, 4], [4, 7, 4], [4, 9, 4], [4, 10, 8], [4, 100, 12], [4, 1000, 16], [6, 7, 6]];
for (const [mult, n, want] of limits) {
  test(`retransmitLimit: λ=${mult}, n=${n} → ${want}`, () => assert.is(retransmitLimit(mult, n), want));
}

test('BroadcastQueue: each item goes out `limit` times, then leaves', () => {
  const q = new BroadcastQueue();
  q.enqueue(alive('a'));
  for (let i = 0; i < 3; i++) assert.equal(q.take(10, 3).map((n) => n.name), ['a']);
  assert.is(q.size, 0);
  assert.equal(q.take(10, 3), []);
});

test('BroadcastQueue: newer news about a member replaces the queued one', () => {
  const q = new BroadcastQueue();
  q.enqueue(alive('a', 1));
  q.take(10, 5);
  q.enqueue({ type: 'suspect', name: 'a', incarnation: 1, from: 'x' });
  assert.is(q.size, 1);
  const [n] = q.take(10, 5);
  assert.is(n.type, 'suspect');
});

test('BroadcastQueue: least-sent first, at most `max` per message', () => {
  const q = new BroadcastQueue();
  q.enqueue(alive('a'));
  q.take(1, 5);
  q.enqueue(alive('b'));
  q.enqueue(alive('c'));
  assert.equal(q.take(2, 5).map((n) => n.name), ['b', 'c']);
  assert.equal(q.take(1, 5).map((n) => n.name), ['a']);
});

test('BroadcastQueue: news about the recipient goes first', () => {
  const q = new BroadcastQueue();
  for (const n of ['a', 'b', 'c']) q.enqueue(alive(n));
  assert.equal(q.take(1, 5, 'c').map((n) => n.name), ['c']);
});

test.run();
