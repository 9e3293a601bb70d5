import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { every, SerialTask } from './periodic.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

test('serial task - never two runs at once; calls during a run make exactly one more run', async () => {
  let running = 0;
  let most = 0;
  let runs = 0;
  const first = gate();
  const task = new SerialTask(async () => {
    running++;
    most = Math.max(most, running);
    runs++;
    if (runs === 1) await first.opened;
    running--;
  }, (err) => { throw err; });
  const a = task.run();
  void task.run();
  void task.run();
  void task.run();
  first.open();
  await a;
  assert.is(most, 1);
  assert.is(runs, 2, 'three calls during the first run: one run more');
});

test('serial task - a failure goes to onError and the next run still happens', async () => {
  const errors: string[] = [];
  let calls = 0;
  const task = new SerialTask(async () => {
    calls++;
    if (calls === 1) throw new Error('apiserver away');
  }, (err) => errors.push((err as Error).message));
  await task.run();
  await task.run();
  assert.equal(errors, ['apiserver away']);
  assert.is(calls, 2);
});

test('serial task - once stopped, nothing more runs, not even a run asked for during the last one', async () => {
  let calls = 0;
  const first = gate();
  const task = new SerialTask(async () => {
    calls++;
    await first.opened;
  }, () => {});
  const a = task.run();
  void task.run();
  task.stop();
  first.open();
  await a;
  await task.run();
  assert.is(calls, 1);
});

test('every - runs now, then each period, and stops', async () => {
  let calls = 0;
  const stop = every(20, () => { calls++; }, () => {});
  assert.is(calls, 1, 'the first run is at once');
  await new Promise((r) => setTimeout(r, 75));
  stop();
  const seen = calls;
  assert.ok(seen >= 3, `ran each period (${seen} runs)`);
  await new Promise((r) => setTimeout(r, 60));
  assert.is(calls, seen, 'no run after stop');
});

test('every - a tick that finds the task still running is skipped, not queued', async () => {
  let calls = 0;
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  const stop = every(40, async () => {
    calls++;
    if (calls === 1) await slow;
  }, () => {});
  // Three ticks pass while the first run is held.
  await new Promise((r) => setTimeout(r, 150));
  assert.is(calls, 1, 'no run while the first is running');
  release();
  await new Promise((r) => setImmediate(r));
  assert.is(calls, 1, 'and none queued for after it');
  await new Promise((r) => setTimeout(r, 60));
  stop();
  assert.ok(calls >= 2, 'the next tick runs it again');
});

test.run();
