import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encodeObject, encodeWithRaw } from '../../protocol/codec.ts';
import { Gone } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import { parseFieldSelector, parseSelector } from '../../protocol/selector.ts';
import type { KubeObject } from '../../protocol/types.ts';
import { WatchCache, type OutEvent, type WatchFilter } from './watch-cache.ts';

const info = kindInfo('Pod')!;
const pod = (name: string, node?: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, spec: { containers: [], ...(node ? { nodeName: node } : {}) },
});
const filter = (fields = '', labels = '', namespace?: string): WatchFilter => ({ namespace, labels: parseSelector(labels), fields: parseFieldSelector(fields) });

function fresh(capacity = 100): { cache: WatchCache; put: (o: KubeObject) => number; del: (name: string) => number } {
  const cache = new WatchCache(info, capacity);
  cache.markReady(0);
  let rev = 0;
  return {
    cache,
    put: (o) => { cache.apply({ key: `default.${o.metadata.name}`, revision: ++rev, operation: 'PUT', value: encodeObject(o) }); return rev; },
    del: (name) => { cache.apply({ key: `default.${name}`, revision: ++rev, operation: 'DEL' }); return rev; },
  };
}

const summary = (events: OutEvent[]) => events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}@${e.object.metadata.resourceVersion}`);

test('watch cache - an entry that is not an object is passed over, and the cache goes on', () => {
  const { cache, put } = fresh();
  put(pod('a'));
  cache.apply({ key: 'default.junk', revision: 2, operation: 'PUT', value: new TextEncoder().encode('x') });
  cache.apply({ key: 'default.junk2', revision: 3, operation: 'PUT', value: encodeObject('just a string' as unknown as KubeObject) });
  cache.apply({ key: 'default.b', revision: 4, operation: 'PUT', value: encodeObject(pod('b')) });
  assert.is(cache.undecodable, 2);
  assert.is(cache.rv, 4);
  assert.equal(cache.list(filter()).map((o) => o.metadata.name).sort(), ['a', 'b']);
});

test('watch cache - initial events then a bookmark', () => {
  const { cache, put } = fresh();
  put(pod('a'));
  put(pod('b'));
  const got: OutEvent[] = [];
  cache.watch(filter(), undefined, (e) => got.push(e));
  assert.equal(summary(got), ['ADDED a@1', 'ADDED b@2', 'BOOKMARK @2']);
  assert.ok(got[2].initialEventsEnd);
});

test('watch cache - what goes on the wire decodes to the event the watcher sees, resourceVersion included', () => {
  const { cache, put, del } = fresh();
  const sent: [OutEvent, Uint8Array][] = [];
  cache.watch(filter('', 'app=web'), undefined, (e, encoded) => sent.push([e, encoded]));
  put(pod('a', undefined, { app: 'web' }));
  put(pod('a', 'n1', { app: 'web' }));
  put(pod('a', 'n1', {}));
  put(pod('b', undefined, { app: 'web' }));
  del('b');
  const wire = sent.map(([, bytes]) => decode(encodeWithRaw('watch', { seq: 1 }, 'event', bytes)).event);
  assert.equal(summary(wire as OutEvent[]), ['BOOKMARK @0', 'ADDED a@1', 'MODIFIED a@2', 'DELETED a@3', 'ADDED b@4', 'DELETED b@5']);
  assert.equal(wire, sent.map(([e]) => e));
});

test('watch cache - resume replays exactly what was missed, deletes included', () => {
  const { cache, put, del } = fresh();
  put(pod('a'));
  const rv = put(pod('b'));
  put(pod('a', undefined, { v: '2' }));
  del('b');
  const got: OutEvent[] = [];
  cache.watch(filter(), rv, (e) => got.push(e));
  assert.equal(summary(got), ['MODIFIED a@3', 'DELETED b@4']);
});

test('watch cache - a version older than the window is Gone', () => {
  const { cache, put } = fresh(2);
  for (const n of ['a', 'b', 'c', 'd']) put(pod(n));
  assert.throws(() => cache.watch(filter(), 1, () => {}), (e: Error) => e instanceof Gone);
  const got: OutEvent[] = [];
  cache.watch(filter(), 2, (e) => got.push(e));
  assert.equal(summary(got), ['ADDED c@3', 'ADDED d@4']);
});

test('watch cache - per-node delivery: a node sees only its own pods, and a pod leaving it as DELETED', () => {
  const { cache, put, del } = fresh();
  const n1: OutEvent[] = [];
  const n2: OutEvent[] = [];
  cache.watch(filter('spec.nodeName=n1'), 0, (e) => n1.push(e));
  cache.watch(filter('spec.nodeName=n2'), 0, (e) => n2.push(e));
  put(pod('a'));
  put(pod('a', 'n1'));
  put(pod('b', 'n2'));
  del('a');
  assert.equal(summary(n1), ['ADDED a@2', 'DELETED a@4']);
  assert.equal(summary(n2), ['ADDED b@3']);
});

test('watch cache - label filter: leaving the selector is a DELETED, entering an ADDED', () => {
  const { cache, put } = fresh();
  const got: OutEvent[] = [];
  cache.watch(filter('', 'app=web'), 0, (e) => got.push(e));
  put(pod('a', undefined, { app: 'db' }));
  put(pod('a', undefined, { app: 'web' }));
  put(pod('a', undefined, { app: 'web', x: 'y' }));
  put(pod('a', undefined, { app: 'db' }));
  assert.equal(summary(got), ['ADDED a@2', 'MODIFIED a@3', 'DELETED a@4']);
});

test('watch cache - list by node uses the index and honours other filters', () => {
  const { cache, put } = fresh();
  put(pod('a', 'n1', { app: 'web' }));
  put(pod('b', 'n1', { app: 'db' }));
  put(pod('c', 'n2', { app: 'web' }));
  assert.equal(cache.list(filter('spec.nodeName=n1', 'app=web')).map((o) => o.metadata.name), ['a']);
  assert.is(cache.list(filter()).length, 3);
});

test('watch cache - dependents by owner uid', () => {
  const { cache, put, del } = fresh();
  const child = pod('c');
  child.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid' }];
  put(child);
  assert.equal(cache.dependents('rs-uid').map((o) => o.metadata.name), ['c']);
  del('c');
  assert.equal(cache.dependents('rs-uid'), []);
});

test('watch cache - waitUntil resolves when the revision arrives', async () => {
  const { cache, put } = fresh();
  const waiting = cache.waitUntil(2, 1000);
  put(pod('a'));
  put(pod('b'));
  await waiting;
  await cache.waitUntil(1, 10);
  try {
    await cache.waitUntil(99, 20);
    assert.unreachable('should time out');
  } catch (err) {
    assert.match((err as Error).message, /still short of 99/);
  }
});

test('watch cache - an entry with the bytes this apiserver wrote is taken from the object, not decoded', () => {
  const cache = new WatchCache(info, 100);
  cache.markReady(0);
  const mine = pod('a', 'n1');
  const bytes = encodeObject(mine);
  cache.expect('default.a', bytes, mine);
  // The entry may come back before the store's acknowledgement: matched by key and bytes.
  cache.apply({ key: 'default.a', revision: 1, operation: 'PUT', value: Uint8Array.from(bytes) });
  const got = cache.getByKey('default', 'a')!;
  assert.ok(got.spec === mine.spec, 'the written object, not a decoded copy');
  assert.is(got.metadata.resourceVersion, '1');
  assert.is(mine.metadata.resourceVersion, undefined, 'the written object itself is not changed');
  assert.is(cache.ownPending, 0);
});

test('watch cache - other bytes for the same key are decoded: a write of ours that failed misleads nothing', () => {
  const cache = new WatchCache(info, 100);
  cache.markReady(0);
  cache.expect('default.a', encodeObject(pod('a', 'n1')), pod('a', 'n1'));
  cache.apply({ key: 'default.a', revision: 1, operation: 'PUT', value: encodeObject(pod('a', 'n2')) });
  assert.is((cache.getByKey('default', 'a')?.spec as { nodeName?: string }).nodeName, 'n2');
  // Nor is an entry for another key taken from ours.
  cache.expect('default.b', encodeObject(pod('b')), pod('b'));
  cache.apply({ key: 'default.c', revision: 2, operation: 'PUT', value: encodeObject(pod('b')) });
  assert.is(cache.getByKey('default', 'c')?.metadata.name, 'b');
  assert.is(cache.getByKey('default', 'b'), undefined);
});

test('watch cache - own writes whose entries never come back are forgotten', () => {
  const cache = new WatchCache(info, 100);
  cache.markReady(0);
  for (let i = 0; i < 5000; i++) cache.expect(`default.p${i}`, encodeObject(pod(`p${i}`)), pod(`p${i}`));
  assert.ok(cache.ownPending <= 4096);
});

test('watch cache - a wait for a revision gives up at once when the feed loses its consumer, and waits again once it follows', async () => {
  const { cache, put } = fresh();
  put(pod('a'));
  const waiting = cache.waitUntil(5, 60_000).then(() => 'caught up', (e: Error) => e.message);
  cache.setFollowing(false);
  assert.match(await waiting, /not being fed/);
  assert.match(await cache.waitUntil(5, 60_000).then(() => 'caught up', (e: Error) => e.message), /not being fed/, 'a new wait is refused at once');
  await cache.waitUntil(1, 60_000);
  cache.setFollowing(true);
  const again = cache.waitUntil(2, 60_000);
  put(pod('b'));
  await again;
});

test('watch cache - a wait gives up on a cache standing still, not on one that moves, however slowly', async () => {
  const { cache, put } = fresh();
  put(pod('a'));
  const t0 = Date.now();
  const still = await cache.waitUntil(5, 60_000, 150).then(() => 'caught up', (e: Error) => e.message);
  const gaveUpMs = Date.now() - t0;
  assert.match(still, /at revision 1, short of 5, and has not moved for \d+ ms/);
  assert.ok(gaveUpMs >= 150 && gaveUpMs < 5000, `gave up after ${gaveUpMs} ms`);
  // Until it moves, the next wait gives up at once; once it has, waits wait again.
  const t1 = Date.now();
  assert.match(await cache.waitUntil(5, 60_000, 150).then(() => 'caught up', (e: Error) => e.message), /has not moved/);
  assert.ok(Date.now() - t1 < 100, `at once (${Date.now() - t1} ms)`);
  put(pod('b'));
  const waitsAgain = cache.waitUntil(3, 60_000, 150);
  put(pod('c'));
  await waitsAgain;
  // An entry every 100 ms: slower than the wait's deadline would like, but moving; the wait holds.
  const moving = cache.waitUntil(9, 60_000, 150).then(() => 'caught up', (e: Error) => e.message);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 100));
    put(pod(`m${i}`));
  }
  assert.is(await moving, 'caught up');
  assert.is(cache.rv, 9);
});

test.run();
