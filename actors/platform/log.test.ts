// Log lines as a log shipper reads them: logfmt, the time first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from './log.ts';

test('log - each line starts with its time in RFC 3339 with milliseconds, then the level, the base fields and the message', () => {
  const lines: string[] = [];
  const log = createLogger({ component: 'node', node: 'node-1' }, (l) => lines.push(l), () => new Date(Date.UTC(2026, 11, 3, 10, 41, 2, 7)));
  log.info('member is suspect', { member: 'node-2' });
  log.child({ actor: 'membership' }).warn('member is dead', { member: 'node-2', err: new Error('no ack, twice') });
  assert.equal(lines, [
    'time=2026-12-03T10:41:02.007Z level=info component=node node=node-1 msg="member is suspect" member=node-2',
    'time=2026-12-03T10:41:02.007Z level=warn component=node node=node-1 actor=membership msg="member is dead" member=node-2 err="no ack, twice"',
  ]);
});

test('log - a real clock: the time parses and is now', () => {
  const lines: string[] = [];
  createLogger({}, (l) => lines.push(l)).error('x');
  const time = /^time=(\S+) /.exec(lines[0])?.[1];
  assert.ok(time && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(time), lines[0]);
  assert.ok(Math.abs(Date.parse(time!) - Date.now()) < 5000);
});

test.run();
