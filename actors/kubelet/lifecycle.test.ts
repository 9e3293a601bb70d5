import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BACKOFF, podBackoff, shouldRestart } from './lifecycle.ts';

const restart: ['Always' | 'OnFailure' | 'Never', number, boolean][] = [
  ['Always', 0, true], ['Always', 1, true], ['OnFailure', 0, false], ['OnFailure', 2, true], ['Never', 0, false], ['Never', 137, false],
];
for (const [policy, code, want] of restart) {
  test(`restart - ${policy} after exit ${code}: ${want ? 'restart' : 'stay down'}`, () => assert.is(shouldRestart(policy, code), want));
}

test('backoff - per pod through annotations, bad ones ignored', () => {
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '200ms', 'skiff.io/backoff-max': '5s' }), { ...DEFAULT_BACKOFF, initialMs: 200, maxMs: 5000 });
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': 'soon' }), DEFAULT_BACKOFF);
  assert.equal(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '5' }), DEFAULT_BACKOFF, 'a bare number has no unit');
  assert.is(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-max': '1m30s' }).maxMs, 90000, 'the grammar is the CLI\'s');
  assert.is(podBackoff(DEFAULT_BACKOFF, { 'skiff.io/backoff-initial': '90s' }).maxMs, 90000, 'max is never below initial');
});

test.run();
