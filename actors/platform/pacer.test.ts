// The pacer: queued work runs in order, a slice of at most its budget per event-loop turn, so
// that what else the turn holds (timers, I/O, other immediates) runs between slices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Pacer } from './pacer.ts';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

test('pacer - work over the budget is continued on a later turn, after what that turn had queued', async () => {
  const pacer = new Pacer(10);
  const order: string[] = [];
  pacer.run(() => {
    order.push('a');
    setImmediate(() => order.push('other'));
    busy(15);
  });
  pacer.run(() => order.push('b'));
  await pacer.after();
  assert.equal(order, ['a', 'other', 'b']);
});

test('pacer - work within the budget runs in one turn, in the order it was queued', async () => {
  const pacer = new Pacer(1000);
  const order: string[] = [];
  for (const x of ['a', 'b', 'c']) pacer.run(() => { order.push(x); if (x === 'a') setImmediate(() => order.push('other')); });
  await pacer.after();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ['a', 'b', 'c', 'other']);
});

test('pacer - after() resolves only once everything queued before it has run', async () => {
  const pacer = new Pacer(1);
  let ran = 0;
  for (let i = 0; i < 20; i++) pacer.run(() => { busy(0.5); ran++; });
  await pacer.after();
  assert.is(ran, 20);
  // Queued again once empty, it starts again.
  pacer.run(() => ran++);
  await pacer.after();
  assert.is(ran, 21);
});

test.run();
