import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Awareness, failedProbeDelta } from './awareness.ts';

test('Awareness: scales timeouts by score + 1, clamped to 0..max-1', () => {
  const a = new Awareness(8);
  assert.is(a.scale(500), 500);
  a.apply(3);
  assert.is(a.scale(500), 2000);
  a.apply(100);
  assert.is(a.score, 7);
  assert.is(a.scale(500), 4000);
  a.apply(-100);
  assert.is(a.score, 0);
});

const deltas: [number, number, number][] = [
  // expected nacks, nacks, delta
  [0, 0, 1],
  [3, 3, 0],
  [3, 1, 2],
  [3, 0, 3],
];
for (const [expected, got, want] of deltas) {
  test(`failedProbeDelta: ${got} of ${expected} nacks → +${want}`, () => assert.is(failedProbeDelta(expected, got), want));
}

test.run();
