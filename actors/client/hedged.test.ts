import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hedged } from './client.ts';

const after = <T>(ms: number, v: T) => new Promise<T>((resolve) => setTimeout(() => resolve(v), ms));
const failAfter = (ms: number, message: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms));

test('hedged: a quick first answer is taken and no second request is made', async () => {
  let asked = 0;
  assert.is(await hedged(() => after(5, 'a'), () => { asked++; return after(1, 'b'); }, 50), 'a');
  await after(60, null);
  assert.is(asked, 0);
});

test('hedged: a slow first is overtaken by the second, asked after the delay', async () => {
  const t = Date.now();
  assert.is(await hedged(() => after(500, 'slow'), () => after(10, 'second'), 30), 'second');
  assert.ok(Date.now() - t < 400);
});

test('hedged: the second failing leaves the first to answer; both failing gives the first error', async () => {
  assert.is(await hedged(() => after(80, 'first'), () => failAfter(5, 'no'), 10), 'first');
  const err = await hedged(() => failAfter(40, 'first failed'), () => failAfter(5, 'second failed'), 10).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, 'first failed');
  // No one to ask second: the first's answer, whenever it comes.
  assert.is(await hedged(() => after(40, 'only'), () => undefined, 10), 'only');
});

test.run();
