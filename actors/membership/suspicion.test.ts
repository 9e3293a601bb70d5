import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { confirmationsWanted, Suspicion, suspicionTimeout, suspicionTimeouts, unreachableVerdict } from './suspicion.ts';

const cfg = { periodMs: 500, suspicionMult: 2, suspicionMaxMult: 4, confirmations: 3 };

const timeouts: [number, number, number][] = [
  // n, min, max
  [1, 1000, 4000],
  [7, 1000, 4000],
  [10, 1000, 4000],
  [100, 2000, 8000],
  [1000, 3000, 12000],
];
for (const [n, min, max] of timeouts) {
  test(`suspicionTimeouts: n=${n} gives ${min}..${max} ms (min grows with log10 n)`, () => {
    assert.equal(suspicionTimeouts(n, cfg), { minMs: min, maxMs: max });
  });
}

const wanted: [number, number][] = [[1, 0], [2, 0], [3, 1], [4, 2], [5, 3], [1000, 3]];
for (const [n, k] of wanted) {
  test(`confirmationsWanted: n=${n} → ${k} (no more than the members who could confirm)`, () => {
    assert.is(confirmationsWanted(n, cfg), k);
  });
}

const shrink: [number, number, number][] = [
  // confirmations, wanted, timeout (min 1000, max 4000)
  [0, 3, 4000],
  [1, 3, 2500],
  [2, 3, 1622],
  [3, 3, 1000],
  [5, 3, 1000],
  [0, 0, 1000],
];
for (const [c, k, want] of shrink) {
  test(`suspicionTimeout: ${c} of ${k} confirmations → ${want} ms`, () => {
    assert.is(suspicionTimeout(c, k, 1000, 4000), want);
  });
}

test('Suspicion: the first accuser is not a confirmation; each other member counts once', () => {
  const s = new Suspicion(2, 100, 'a', 3, 1000, 4000);
  assert.is(s.deadline(), 4100);
  assert.is(s.confirm('a'), false, 'our own news coming back');
  assert.is(s.confirm('b'), true);
  assert.is(s.confirm('b'), false, 'counted once');
  assert.is(s.deadline(), 2600);
  assert.ok(s.confirm('c') && s.confirm('d'));
  assert.is(s.confirm('e'), false, 'enough already');
  assert.is(s.deadline(), 1100);
});

test('unreachableVerdict: only a second "nobody there" at least the confirm time later', () => {
  assert.is(unreachableVerdict(1000, 1100, 250), false);
  assert.is(unreachableVerdict(1000, 1250, 250), true);
});

test.run();
