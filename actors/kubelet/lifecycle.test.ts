import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BACKOFF, parseDuration, podBackoff, shouldRestart } from './lifecycle.ts';

const restart: ['Always' | 'OnFailure' | 'Never', number, boolean][] = [
  ['Always', 0, true], ['Always', 1, true], ['OnFailure', 0, false], ['OnFailure', 2, true], ['Never', 0, false], ['Never', 137, false],
];
for (const [policy, code, want] of restart) {
  test(`restart - ${policy} after exit ${code}: ${want ? 'restart' : 'stay down'}`, () => assert.is(shouldRestart(policy, code), want));
}

const durations: [string | undefined, number | undefined][] = [['500ms', 500], ['2s', 2000], ['1.5m', 90000], ['1h', 3600000], ['5', undefined], ['x', undefined], [undefined, undefined]];
for (const [text, want] of durations) test(`duration - ${JSON.stringify(text)} is ${want}`, () => assert.is(parseDuration(text), want));

test('backoff - per pod through annotations, bad ones ignored', () => {
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '200ms', 'skiff.io/backoff-max': '5s' }), { ...DEFAULT_BACKOFF, initialMs: 200, maxMs: 5000 });
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': 'soon' }), DEFAULT_BACKOFF);
  assert.is(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '90s' }).maxMs, 90000, 'max is never below initial');
});

test.run();
