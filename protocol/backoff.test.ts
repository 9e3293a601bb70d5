import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nextBackoff, type BackoffPolicy } from './backoff.ts';

const policy: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 10 * 60_000 };

// Crash after crash, each after running 100 ms: 1 s, 2, 4, ... capped at 60 s.
test('backoff - doubles from initial to the cap', () => {
  const delays: number[] = [];
  let prev: number | undefined;
  for (let i = 0; i < 9; i++) delays.push((prev = nextBackoff(prev, 100, policy)));
  assert.equal(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
});

const cases: { name: string; previous: number | undefined; ranMs: number; p?: BackoffPolicy; want: number }[] = [
  { name: 'the first restart waits initial', previous: undefined, ranMs: 0, want: 1000 },
  { name: 'a short run doubles the wait', previous: 1000, ranMs: 50, want: 2000 },
  { name: 'doubling stops at the cap', previous: 32_000, ranMs: 9 * 60_000, want: 60_000 },
  { name: 'at the cap it stays there', previous: 60_000, ranMs: 50, want: 60_000 },
  { name: 'a run of resetAfter starts over', previous: 32_000, ranMs: 10 * 60_000, want: 1000 },
  { name: 'a longer run starts over too', previous: 60_000, ranMs: 11 * 60_000, want: 1000 },
  { name: 'never below initial', previous: 100, ranMs: 50, want: 1000 },
  { name: 'a cap below initial wins', previous: 1000, ranMs: 50, p: { initialMs: 1000, maxMs: 500, resetAfterMs: 10_000 }, want: 500 },
  { name: 'a zero initial stays zero', previous: 0, ranMs: 50, p: { initialMs: 0, maxMs: 500, resetAfterMs: 10_000 }, want: 0 },
];
for (const c of cases) {
  test(`backoff - ${c.name}: after ${c.previous ?? 'no'} ms and a run of ${c.ranMs} ms, ${c.want} ms`, () => {
    assert.is(nextBackoff(c.previous, c.ranMs, c.p ?? policy), c.want);
  });
}

test.run();
