import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BACKOFF, nextBackoff, parseDuration, podBackoff, shouldRestart } from './lifecycle.ts';

const restart: ['Always' | 'OnFailure' | 'Never', number, boolean][] = [
  ['Always', 0, true], ['Always', 1, true], ['OnFailure', 0, false], ['OnFailure', 2, true], ['Never', 0, false], ['Never', 137, false],
];
for (const [policy, code, want] of restart) {
  test(`restart - ${policy} after exit ${code}: ${want ? 'restart' : 'stay down'}`, () => assert.is(shouldRestart(policy, code), want));
}

// Crash after crash, each after running 100 ms: 1 s, 2, 4, ... capped at 60 s.
test('backoff - doubles from 1 s to a 60 s cap', () => {
  const delays: number[] = [];
  let prev: number | undefined;
  for (let i = 0; i < 9; i++) delays.push((prev = nextBackoff(prev, 100, DEFAULT_BACKOFF)));
  assert.equal(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
});

const reset: [number | undefined, number, number][] = [
  [undefined, 0, 1000],
  [32000, 9 * 60_000, 60000],
  [32000, 10 * 60_000, 1000], // ten minutes of clean running resets it, as in Kubernetes
  [60000, 11 * 60_000, 1000],
];
for (const [prev, ran, want] of reset) {
  test(`backoff - after ${prev ?? 'no'} ms and ${ran} ms of running: ${want} ms`, () => assert.is(nextBackoff(prev, ran, DEFAULT_BACKOFF), want));
}

const durations: [string | undefined, number | undefined][] = [['500ms', 500], ['2s', 2000], ['1.5m', 90000], ['1h', 3600000], ['5', undefined], ['x', undefined], [undefined, undefined]];
for (const [text, want] of durations) test(`duration - ${JSON.stringify(text)} is ${want}`, () => assert.is(parseDuration(text), want));

test('backoff - per pod through annotations, bad ones ignored', () => {
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '200ms', 'skiff.io/backoff-max': '5s' }), { ...DEFAULT_BACKOFF, initialMs: 200, maxMs: 5000 });
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': 'soon' }), DEFAULT_BACKOFF);
  assert.is(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '90s' }).maxMs, 90000, 'max is never below initial');
});

test.run();
