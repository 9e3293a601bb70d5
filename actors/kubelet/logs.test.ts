import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { instanceLog, pruneLogs, rotateIfLarge, tailLog } from './logs.ts';
import { tempDir } from '../../test/harness.ts';

test('logs - rotation copies and truncates; the writer carries on at the new end', () => {
  const dir = tempDir();
  const file = instanceLog(dir, 0);
  writeFileSync(file, 'a'.repeat(100));
  assert.not.ok(rotateIfLarge(file, 200));
  assert.ok(rotateIfLarge(file, 50));
  assert.is(readFileSync(`${file}.1`, 'utf8').length, 100);
  assert.is(readFileSync(file, 'utf8'), '');
  appendFileSync(file, 'after\n');
  assert.is(tailLog(file, undefined, 1024).toString(), `${'a'.repeat(100)}after\n`, 'a tail reads across the rotation');
});

const tails: [number | undefined, string][] = [[undefined, 'one\ntwo\nthree\n'], [0, ''], [1, 'three\n'], [2, 'two\nthree\n'], [10, 'one\ntwo\nthree\n']];
for (const [n, want] of tails) {
  test(`logs - tail ${n}`, () => {
    const file = join(tempDir(), '0.log');
    writeFileSync(file, 'one\ntwo\nthree\n');
    assert.is(tailLog(file, n, 1024).toString(), want);
  });
}

test('logs - only the current and previous instances are kept', () => {
  const dir = tempDir();
  for (let i = 0; i < 4; i++) writeFileSync(instanceLog(dir, i), `${i}\n`);
  writeFileSync(`${instanceLog(dir, 0)}.1`, 'old\n');
  pruneLogs(dir, 3);
  assert.equal([0, 1, 2, 3].map((i) => existsSync(instanceLog(dir, i))), [false, false, true, true]);
  assert.not.ok(existsSync(`${instanceLog(dir, 0)}.1`));
});

test('logs - a byte limit keeps the end', () => {
  const file = join(tempDir(), '0.log');
  writeFileSync(file, '0123456789');
  assert.is(tailLog(file, undefined, 4).toString(), '6789');
});

test.run();
