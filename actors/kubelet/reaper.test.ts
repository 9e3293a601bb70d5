// The reaper's parts on real processes: the data directory's claim, what it kills once its kubelet
// is gone, and standing down.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, waitFor } from '../../test/harness.ts';
import { processStat } from '../platform/procfs.ts';
import { podPaths } from './pod-fs.ts';
import { claimant, claimDataDir, DataDirInUse, reapAbandoned, startReaper } from './reaper.ts';
import { savePodState } from './state.ts';

const started: ChildProcess[] = [];
const sleeper = (detached = true) => {
  const c = spawn('sleep', ['1000'], { detached, stdio: 'ignore' });
  started.push(c);
  return c;
};
const dir = () => mkdtempSync(join(tmpdir(), 'skiff-reaper-'));

/** A pod record naming `child`'s group, as the kubelet writes it. */
function record(dataDir: string, uid: string, child: ChildProcess): void {
  savePodState(podPaths(dataDir, uid), {
    uid, namespace: 'default', name: uid, ports: [], startTime: new Date().toISOString(), initDone: true,
    containers: { c: { restartCount: 0, handle: { pgid: child.pid!, startTicks: processStat(child.pid!)!.startTime, startedAt: new Date().toISOString(), exitFile: join(dataDir, 'exit') } } },
  });
}

test('claim: taken by this process, and refused to another while this one lives', () => {
  const d = dir();
  claimDataDir(d);
  assert.is(claimant(d)?.pid, process.pid);
  claimDataDir(d); // claiming again is fine
  const other = sleeper();
  assert.throws(() => claimDataDir(d, other.pid), (e: Error) => e instanceof DataDirInUse && e.message.includes(`in use by another node process (pid ${process.pid})`));
  assert.is(claimant(d)?.pid, process.pid);
});

test('claim: a dead claimant (or a pid reused by another process) does not hold the directory', async () => {
  const d = dir();
  const gone = sleeper();
  claimDataDir(d, gone.pid);
  gone.kill('SIGKILL');
  await new Promise((r) => gone.once('exit', r));
  assert.is(claimant(d), undefined);
  claimDataDir(d);
  assert.is(claimant(d)?.pid, process.pid);
});

test('reapAbandoned kills every recorded group when nobody has claimed the directory since', async () => {
  const d = dir();
  const kubelet = sleeper();
  claimDataDir(d, kubelet.pid);
  const [a, b] = [sleeper(), sleeper()];
  record(d, 'pod-a', a);
  record(d, 'pod-b', b);
  kubelet.kill('SIGKILL');
  await new Promise((r) => kubelet.once('exit', r));
  const killed = reapAbandoned(d, kubelet.pid!);
  assert.equal(killed.sort(), [a.pid, b.pid].sort());
  await waitFor('both groups dead', () => !isAlive(a.pid!) && !isAlive(b.pid!), 5000);
});

test('reapAbandoned leaves the containers alone once a new kubelet has claimed the directory', () => {
  const d = dir();
  const c = sleeper();
  record(d, 'pod', c);
  claimDataDir(d); // the new kubelet: this live process
  assert.equal(reapAbandoned(d, 999_999), []);
  assert.ok(isAlive(c.pid!));
});

test('reapAbandoned leaves the containers alone when a later kubelet claimed the directory and has ended since', async () => {
  // Killed, started again with --keep-pods and stopped: the first one's reaper must not undo the keep.
  const d = dir();
  const c = sleeper();
  record(d, 'pod', c);
  const later = sleeper();
  claimDataDir(d, later.pid);
  later.kill('SIGKILL');
  await new Promise((r) => later.once('exit', r));
  assert.equal(reapAbandoned(d, 999_999), []);
  assert.ok(isAlive(c.pid!));
});

test('a reaper told to stand down exits without reaping', async () => {
  const d = dir();
  const c = sleeper();
  record(d, 'pod', c);
  const reaper = startReaper(d, 60_000);
  assert.ok(isAlive(reaper.pid));
  reaper.standDown();
  await waitFor('the reaper gone', () => !isAlive(reaper.pid), 5000);
  assert.ok(isAlive(c.pid!), 'the container still runs');
  assert.is(readFileSync(join(d, 'reaper.log'), 'utf8'), '', 'it never started to reap');
});

test.after(() => {
  for (const c of started) c.kill('SIGKILL');
});

test.run();
