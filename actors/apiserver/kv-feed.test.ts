// The store feed over a real nats-server: every entry once, in revision order, deletes included;
// resuming at a revision; and no gap or repeat when its consumer vanishes or the server restarts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AckPolicy, StorageType, type KV, type NatsConnection } from 'nats';
import { connectNats } from '../platform/nats.ts';
import { setup, startNats, waitFor, type Nats } from '../../test/harness.ts';
import { KvFeed, type FeedEntry } from './kv-feed.ts';
import { KvRequests } from './kv-requests.ts';

interface Ctx {
  nats: Nats;
  nc: NatsConnection;
  kv: KV;
  feeds: KvFeed[];
}
const s = suite<Ctx>('kv feed');
let bucketNo = 0;

s.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.nc = await connectNats({ url: ctx.nats.url, name: 'feed-test', persistent: true });
}));
s.before.each(async (ctx) => {
  ctx.kv = await ctx.nc.jetstream().views.kv(`feed${++bucketNo}`, { history: 1, storage: StorageType.File });
  ctx.feeds = [];
});
s.after.each((ctx) => {
  for (const f of ctx.feeds) f.stop();
});
s.after(async (ctx) => {
  await ctx.nc?.close();
  await ctx.nats?.stop();
});

/** A feed of the test's bucket, caught up at the bucket's last revision now unless told another. */
async function follow(ctx: Ctx, fromRevision = 0, heartbeatMs = 5000, caughtUpAt?: number): Promise<{ got: FeedEntry[]; caughtUp: () => boolean; feed: KvFeed }> {
  caughtUpAt ??= await new KvRequests(ctx.nc, 5000).lastSequence(`feed${bucketNo}`);
  const got: FeedEntry[] = [];
  let up = false;
  const feed = new KvFeed(ctx.nc, `feed${bucketNo}`, { fromRevision, heartbeatMs, caughtUpAt, requestTimeoutMs: 5000, retryMs: 1000, onEntry: (e) => got.push(e), onCaughtUp: () => { up = true; } });
  ctx.feeds.push(feed);
  return { got, caughtUp: () => up, feed };
}

const summary = (got: FeedEntry[]) => got.map((e) => `${e.revision} ${e.operation} ${e.key}${e.value.length ? `=${new TextDecoder().decode(e.value)}` : ''}`);

s('what the bucket holds, then what comes, in order; deletes as DEL', async (ctx) => {
  await ctx.kv.put('default.a', new TextEncoder().encode('1'));
  await ctx.kv.put('default.b', new TextEncoder().encode('2'));
  await ctx.kv.delete('default.a');
  const { got, caughtUp, feed } = await follow(ctx);
  await feed.start();
  await waitFor('caught up', caughtUp);
  assert.equal(summary(got), ['2 PUT default.b=2', '3 DEL default.a']);
  await ctx.kv.put('default.c', new TextEncoder().encode('3'));
  await ctx.kv.purge('default.b');
  await waitFor('live entries', () => got.length === 4);
  assert.equal(summary(got).slice(2), ['4 PUT default.c=3', '5 PURGE default.b']);
});

s('an empty bucket is caught up at once', async (ctx) => {
  const { caughtUp, feed } = await follow(ctx);
  await feed.start();
  await waitFor('caught up', caughtUp, 2000);
});

s('caught up under a steady stream of overwrites, without waiting for an idle heartbeat', async (ctx) => {
  // With history 1, an overwrite removes the key's previous entry: one the consumer counted as
  // pending may be gone before it is delivered, so no entry need ever report 0 pending, and a
  // busy bucket never goes idle long enough for a heartbeat.
  const encode = (i: number) => new TextEncoder().encode(String(i));
  for (let i = 0; i < 20; i++) await ctx.kv.put(`default.k${i % 4}`, encode(i));
  let writing = true;
  const writer = async (w: number) => {
    for (let i = 0; writing; i++) await ctx.kv.put(`default.k${(i + w) % 4}`, encode(i)).catch(() => {});
  };
  const writers = Promise.all([0, 1, 2, 3].map(writer));
  try {
    for (let round = 0; round < 40; round++) {
      const jsm = await ctx.nc.jetstreamManager();
      const last = (await jsm.streams.info(`KV_feed${bucketNo}`)).state.last_seq;
      const { got, caughtUp, feed } = await follow(ctx, 0, 60_000, last);
      await feed.start();
      await waitFor(`caught up (round ${round})`, caughtUp, 3000);
      assert.ok(got.some((e) => e.revision >= last), 'it has seen the last revision there was when it started');
      feed.stop();
    }
  } finally {
    writing = false;
    await writers;
  }
});

s('resumes at a revision', async (ctx) => {
  for (let i = 1; i <= 5; i++) await ctx.kv.put(`default.k${i}`, new TextEncoder().encode(String(i)));
  const { got, feed } = await follow(ctx, 4);
  await feed.start();
  await waitFor('two entries', () => got.length === 2);
  assert.equal(got.map((e) => e.revision), [4, 5]);
});

s('a consumer deleted under it is replaced from the next revision: no gap, no repeat', async (ctx) => {
  const { got, feed } = await follow(ctx, 0, 200);
  await feed.start();
  for (let i = 1; i <= 20; i++) await ctx.kv.put(`default.k${i}`, new TextEncoder().encode(String(i)));
  await waitFor('first twenty', () => got.length === 20);
  const jsm = await ctx.nc.jetstreamManager();
  const stream = `KV_feed${bucketNo}`;
  for await (const c of jsm.consumers.list(stream)) await jsm.consumers.delete(stream, c.name);
  for (let i = 21; i <= 40; i++) await ctx.kv.put(`default.k${i}`, new TextEncoder().encode(String(i)));
  await waitFor('all forty', () => got.length >= 40, 5000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.map((e) => e.revision), Array.from({ length: 40 }, (_, i) => i + 1));
});

s('a consumer lost without a word is replaced once the store is seen ahead, not heartbeats later', async (ctx) => {
  const { got, feed } = await follow(ctx, 0, 60_000); // heartbeats far too slow to be what notices
  await feed.start();
  await ctx.kv.put('default.a', new TextEncoder().encode('1'));
  await waitFor('the first entry', () => got.length === 1);
  const jsm = await ctx.nc.jetstreamManager();
  const stream = `KV_feed${bucketNo}`;
  for await (const c of jsm.consumers.list(stream)) await jsm.consumers.delete(stream, c.name);
  const revision = await ctx.kv.put('default.b', new TextEncoder().encode('2'));
  feed.expect(revision); // as the apiserver's store does with every write's answer
  await waitFor('the entry written after the loss', () => got.length === 2, 5000);
  assert.equal(got.map((e) => e.revision), [1, 2]);
});

s('with no consumer to be had, the entries come from the stream leader meanwhile; then a consumer again, no gap, no repeat', async (ctx) => {
  // A bucket of one consumer at most: once another takes it, the feed cannot make one, as while
  // JetStream elects a meta leader (the streams still answer their leaders' reads).
  const bucket = `bridge${bucketNo}`;
  const stream = `KV_${bucket}`;
  const jsm = await ctx.nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [`$KV.${bucket}.>`], max_msgs_per_subject: 1, max_consumers: 1, storage: StorageType.File });
  const js = ctx.nc.jetstream();
  const put = async (key: string, value: string) => (await js.publish(`$KV.${bucket}.${key}`, new TextEncoder().encode(value))).seq;
  const kv = new KvRequests(ctx.nc, 5000);
  const got: FeedEntry[] = [];
  const feed = new KvFeed(ctx.nc, bucket, {
    heartbeatMs: 60_000, caughtUpAt: 0, requestTimeoutMs: 5000, retryMs: 300,
    onEntry: (e) => got.push(e), readEntry: (revision) => kv.entryAt(bucket, revision),
  });
  ctx.feeds.push(feed);
  await feed.start();
  feed.expect(await put('default.a', '1'));
  await waitFor('the first entry', () => got.length === 1);
  for await (const c of jsm.consumers.list(stream)) await jsm.consumers.delete(stream, c.name);
  await jsm.consumers.add(stream, { durable_name: 'blocker', ack_policy: AckPolicy.None });
  await put('default.b', '2');
  await put('default.c', '3');
  await put('default.b', '4'); // replaces revision 3: nothing is at 3 any more
  feed.expect(await put('default.d', '5'));
  await waitFor('the entries written with no consumer to be had', () => got.length === 4, 5000);
  assert.equal(summary(got), ['1 PUT default.a=1', '3 PUT default.c=3', '4 PUT default.b=4', '5 PUT default.d=5']);
  assert.ok(!(await jsm.consumers.list(stream).next()).some((c) => c.name !== 'blocker'), 'no consumer of its own meanwhile');
  await jsm.consumers.delete(stream, 'blocker');
  for (let i = 6; i <= 30; i++) await put(`default.k${i}`, String(i));
  await waitFor('the entries after a consumer could be made again', () => got.length === 29, 5000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.map((e) => e.revision), [1, 3, 4, 5, ...Array.from({ length: 25 }, (_, i) => i + 6)]);
  await jsm.streams.delete(stream);
});

s('a feed that is behind but receiving keeps its consumer', async (ctx) => {
  const { got, feed } = await follow(ctx, 0, 60_000);
  await feed.start();
  const jsm = await ctx.nc.jetstreamManager();
  const stream = `KV_feed${bucketNo}`;
  const names = async () => { const out: string[] = []; for await (const c of jsm.consumers.list(stream)) out.push(c.name); return out; };
  await ctx.kv.put('default.a', new TextEncoder().encode('0'));
  await waitFor('the first entry', () => got.length === 1);
  const before = await names();
  const until = Date.now() + 2500; // over two stall checks
  for (let i = 1; Date.now() < until; i++) feed.expect(await ctx.kv.put(`default.k${i % 10}`, new TextEncoder().encode(String(i))));
  assert.equal(await names(), before);
});

s('a feed whose own process stalled keeps its consumer: the server was not silent, we were', async (ctx) => {
  const { got, feed } = await follow(ctx, 0, 200);
  await feed.start();
  await ctx.kv.put('default.a', new TextEncoder().encode('1'));
  await waitFor('the first entry', () => got.length === 1);
  const jsm = await ctx.nc.jetstreamManager();
  const stream = `KV_feed${bucketNo}`;
  const names = async () => { const out: string[] = []; for await (const c of jsm.consumers.list(stream)) out.push(c.name); return out; };
  const before = await names();
  const until = Date.now() + 700; // the event loop held for over three heartbeats
  while (Date.now() < until) { /* busy */ }
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(await names(), before);
  await ctx.kv.put('default.b', new TextEncoder().encode('2'));
  await waitFor('the next entry', () => got.length === 2);
});

s('a server restart loses nothing', async (ctx) => {
  const { got, feed } = await follow(ctx, 0, 200);
  await feed.start();
  for (let i = 1; i <= 10; i++) await ctx.kv.put(`default.k${i}`, new TextEncoder().encode(String(i)));
  await waitFor('first ten', () => got.length === 10);
  await ctx.nats.restart();
  await waitFor('reconnected', async () => {
    try {
      await ctx.kv.put('default.after', new TextEncoder().encode('x'));
      return true;
    } catch {
      return false;
    }
  }, 10_000, 200);
  await waitFor('the write after the restart', () => got.some((e) => e.key === 'default.after'), 5000);
  const revisions = got.map((e) => e.revision);
  assert.equal(revisions, [...new Set(revisions)].sort((a, b) => a - b), 'in order, each once');
  assert.is(revisions.length, 11);
});

s.run();
