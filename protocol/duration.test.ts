import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DurationError, parseDuration } from './duration.ts';

const valid: [string, number][] = [
  ['500ms', 500], ['2s', 2000], ['30s', 30_000], ['2m', 120_000], ['1.5m', 90_000], ['1h', 3_600_000], ['1.5h', 5_400_000],
  ['1m30s', 90_000], ['1h30m', 5_400_000], ['1s500ms', 1500], ['0s', 0], ['0', 0], [' 2s ', 2000],
];
for (const [text, ms] of valid) test(`duration - ${JSON.stringify(text)} is ${ms} ms`, () => assert.is(parseDuration(text, '--timeout'), ms));

const invalid: [string, string][] = [
  ['soon', '--timeout=soon: use a duration such as 30s, 2m or 1m30s'],
  ['', '--timeout=: use a duration such as 30s, 2m or 1m30s'],
  ['x', '--timeout=x: use a duration such as 30s, 2m or 1m30s'],
  ['1d', '--timeout=1d: use a duration such as 30s, 2m or 1m30s'],
  ['-1s', '--timeout=-1s: use a duration such as 30s, 2m or 1m30s'],
  ['1m 30s', '--timeout=1m 30s: use a duration such as 30s, 2m or 1m30s'],
  ['45', '--timeout=45: a duration needs a unit, such as 45s or 45ms'],
  ['1.5', '--timeout=1.5: a duration needs a unit, such as 1.5s or 1.5ms'],
];
for (const [text, message] of invalid) {
  test(`duration - ${JSON.stringify(text)} is refused, naming the field and the text`, () => {
    assert.throws(() => parseDuration(text, '--timeout'), (e: Error) => e instanceof DurationError && e.message === message);
  });
}

test.run();
