import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { groupRssBytes, isRunning, liveGroups, membersByGroup, parseProcStat, processStat, signalGroup } from './procfs.ts';
import { waitFor } from '../../test/harness.ts';

// Fields 4 to 21, then the start time, vsize and rss, from a real line.
const tail = '1 4240 4240 0 -1 4194304 104 0 0 0 7 3 4 1 20 0 1 0 987654 3133440 384';
const statCases: { comm: string; state: string }[] = [
  { comm: 'node', state: 'S' },
  { comm: 'my prog', state: 'R' },
  { comm: 'a) Z 9 (b', state: 'Z' },
];

for (const c of statCases) {
  test(`proc stat - the command name ${JSON.stringify(c.comm)} does not shift the fields`, () => {
    assert.equal(parseProcStat(`4242 (${c.comm}) ${c.state} ${tail}`), { state: c.state, ppid: 1, pgrp: 4240, cpuTicks: 10, childCpuTicks: 5, startTime: '987654', rssPages: 384 });
  });
}

test('proc stat - rejects a short line', () => {
  assert.throws(() => parseProcStat('4242 (node) S 1'), /not a \/proc\/<pid>\/stat line/);
});

test('procfs - a group is alive while a member runs, and its memory is counted', async () => {
  const child = spawn('sh', ['-c', 'sleep 30 & sleep 30; wait'], { detached: true, stdio: 'ignore' });
  const pgid = child.pid!;
  // Until the shell has run and forked, the group is a process between fork and exec, which a
  // CI run once caught: wait for both sleeps.
  await waitFor('the group to have its three members', () => membersByGroup().get(pgid)?.length === 3 && groupRssBytes(pgid) > 0, 5000, 10);
  const start = processStat(pgid)!.startTime;
  assert.ok(isRunning(pgid, start, pgid));
  assert.not.ok(isRunning(pgid, String(Number(start) + 1)), 'another start time is another process');
  assert.equal([...liveGroups([pgid, 999_999])], [pgid]);
  assert.ok(groupRssBytes(pgid) > 0);
  const exited = new Promise((r) => child.once('exit', r));
  signalGroup(pgid, 'SIGKILL');
  await exited;
  // Its members die a moment after the shell's exit is seen, and may linger as zombies until init
  // reaps them; zombies do not count.
  await waitFor('the group to be gone', () => liveGroups([pgid]).size === 0, 5000, 10);
});

test.run();
