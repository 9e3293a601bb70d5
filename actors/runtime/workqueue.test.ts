import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, WorkQueue } from './workqueue.ts';

const backoff: [number, number][] = [[0, 0], [1, 5], [2, 10], [3, 20], [10, 2560], [20, 1000_000], [1000, 1000_000]];
for (const [failures, want] of backoff) {
  test(`backoff - failure ${failures} waits ${want} ms`, () => assert.is(backoffDelay(failures, 5, 1000_000), want));
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('workqueue - a key added many times is processed once', async () => {
  const seen: string[] = [];
  const gate = deferred();
  const q = new WorkQueue<string>({ concurrency: 2, process: async (k) => { seen.push(k); await gate.promise; } });
  q.add('a');
  q.add('b');
  q.add('c');
  q.add('c');
  q.add('c');
  gate.resolve();
  await q.idle();
  assert.equal(seen.sort(), ['a', 'b', 'c']);
});

test('workqueue - never the same key twice at once; an add during processing runs after', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const release = [deferred(), deferred()];
  const q = new WorkQueue<string>({
    concurrency: 4,
    process: async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await release[runs++].promise;
      running--;
    },
  });
  q.add('k');
  await new Promise((r) => setImmediate(r));
  q.add('k');
  q.add('k');
  release[0].resolve();
  release[1].resolve();
  await q.idle();
  await q.idle();
  assert.is(maxRunning, 1);
  assert.is(runs, 2, 'one run for the adds made while it ran');
});

test('workqueue - failures retry with growing delays, success forgets them', async () => {
  const times: number[] = [];
  const done = deferred();
  const q = new WorkQueue<string>({
    baseDelayMs: 20,
    process: async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('not yet');
      done.resolve();
    },
  });
  q.add('k');
  await done.promise;
  await q.idle();
  assert.is(q.retries('k'), 0);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps[0] >= 18 && gaps[1] >= 38 && gaps[2] >= 78, `gaps ${gaps}`);
});

test('workqueue - addAfter delays, shutdown drops pending work', async () => {
  const seen: string[] = [];
  const q = new WorkQueue<string>({ process: async (k) => { seen.push(k); } });
  q.addAfter('later', 30);
  q.add('now');
  await q.idle();
  assert.equal(seen, ['now']);
  await new Promise((r) => setTimeout(r, 60));
  await q.idle();
  assert.equal(seen, ['now', 'later']);
  q.addAfter('never', 10);
  q.shutdown();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(seen, ['now', 'later']);
});

test.run();
