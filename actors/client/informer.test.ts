import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KubeObject, Pod } from '../../protocol/types.ts';
import type { ApiClient } from './client.ts';
import { Informer } from './informer.ts';
import type { WatchUpdate } from './watch.ts';
import { setup, startInProcessApiserver, startNats, waitFor, type InProcessApiserver, type Nats } from '../../test/harness.ts';

const pod = (name: string, rv: number, opts: { ns?: string; node?: string; labels?: Record<string, string> } = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: opts.ns ?? 'default', resourceVersion: String(rv), labels: opts.labels ?? {} },
  spec: { containers: [], ...(opts.node ? { nodeName: opts.node } : {}) },
});

/** A client whose single watch we drive by hand. */
function fakeClient(): { client: ApiClient; emit: (u: WatchUpdate) => void } {
  let cb: (u: WatchUpdate) => void = () => {};
  const client = { watch: (_r: string, _o: unknown, fn: (u: WatchUpdate) => void) => { cb = fn; return { stop() {}, resourceVersion: () => undefined }; } };
  return { client: client as unknown as ApiClient, emit: (u) => cb(u) };
}

test('informer - indexes by namespace, label and node follow every change', () => {
  const { client, emit } = fakeClient();
  const inf = new Informer(client, 'pods', { deadlineMs: 1000 }).start();
  emit({ type: 'RESYNC' });
  emit({ type: 'ADDED', object: pod('a', 1, { node: 'n1', labels: { app: 'web' } }) });
  emit({ type: 'ADDED', object: pod('b', 2, { ns: 'other', labels: { app: 'db' } }) });
  emit({ type: 'SYNCED', resourceVersion: '2' });
  assert.ok(inf.hasSynced);
  assert.equal(inf.listByNode('n1').map((o) => o.metadata.name), ['a']);
  assert.equal(inf.listByNamespace('other').map((o) => o.metadata.name), ['b']);
  assert.equal(inf.listByLabel('app', 'web').map((o) => o.metadata.name), ['a']);
  emit({ type: 'MODIFIED', object: pod('a', 3, { node: 'n1', labels: { app: 'api' } }) });
  assert.equal(inf.listByLabel('app', 'web'), []);
  assert.equal(inf.listByLabel('app', 'api').map((o) => o.metadata.name), ['a']);
  emit({ type: 'DELETED', object: pod('a', 4, { node: 'n1' }) });
  assert.equal(inf.listByNode('n1'), []);
  assert.is(inf.size, 1);
});

test('informer - selector candidates: one label from the index (the preferred one if given), this namespace only', () => {
  const { client, emit } = fakeClient();
  const inf = new Informer(client, 'pods', { deadlineMs: 1000 }).start();
  emit({ type: 'RESYNC' });
  emit({ type: 'ADDED', object: pod('a', 1, { labels: { app: 'web', hash: 'x' } }) });
  emit({ type: 'ADDED', object: pod('b', 2, { labels: { app: 'web', hash: 'y' } }) });
  emit({ type: 'ADDED', object: pod('c', 3, { ns: 'other', labels: { app: 'web', hash: 'x' } }) });
  emit({ type: 'ADDED', object: pod('d', 4) });
  emit({ type: 'SYNCED', resourceVersion: '4' });
  const names = (pods: KubeObject[]) => pods.map((o) => o.metadata.name).sort();
  assert.equal(names(inf.candidates('default', { app: 'web', hash: 'x' })), ['a', 'b'], 'by the first label');
  assert.equal(names(inf.candidates('default', { app: 'web', hash: 'x' }, 'hash')), ['a'], 'by the preferred label');
  assert.equal(names(inf.candidates('other', { app: 'web' })), ['c']);
  assert.equal(names(inf.candidates('default', {})), ['a', 'b', 'd'], 'no terms: the whole namespace');
});

test('informer - handlers see add, update and delete; an unchanged version is not an update', () => {
  const { client, emit } = fakeClient();
  const seen: string[] = [];
  new Informer(client, 'pods', { deadlineMs: 1000 })
    .on({ add: (o) => seen.push(`add ${o.metadata.name}`), update: (o, n) => seen.push(`update ${o.metadata.resourceVersion}->${n.metadata.resourceVersion}`), delete: (o) => seen.push(`delete ${o.metadata.name}`) })
    .start();
  emit({ type: 'ADDED', object: pod('a', 1) });
  emit({ type: 'MODIFIED', object: pod('a', 2) });
  emit({ type: 'MODIFIED', object: pod('a', 2) });
  emit({ type: 'DELETED', object: pod('a', 3) });
  assert.equal(seen, ['add a', 'update 1->2', 'delete a']);
});

test('informer - a handler that throws is logged; the other handlers are still told, and the cache holds the change', () => {
  const { client, emit } = fakeClient();
  const seen: string[] = [];
  const informer = new Informer(client, 'pods', { deadlineMs: 1000 })
    .on({ add: () => { throw new Error('handler bug'); } })
    .on({ add: (o) => seen.push(`add ${o.metadata.name}`) })
    .start();
  emit({ type: 'ADDED', object: pod('a', 1) });
  assert.equal(seen, ['add a']);
  assert.ok(informer.get('default/a'));
});

test('informer - a relist drops what no longer exists, so no delete is missed', () => {
  const { client, emit } = fakeClient();
  const deleted: string[] = [];
  const inf = new Informer(client, 'pods', { deadlineMs: 1000 }).on({ delete: (o) => deleted.push(o.metadata.name!) }).start();
  emit({ type: 'RESYNC' });
  for (const [i, n] of ['a', 'b', 'c'].entries()) emit({ type: 'ADDED', object: pod(n, i + 1) });
  emit({ type: 'SYNCED', resourceVersion: '3' });
  // The watch fell too far behind and relisted: b was deleted meanwhile.
  emit({ type: 'RESYNC' });
  emit({ type: 'ADDED', object: pod('a', 1) });
  emit({ type: 'ADDED', object: pod('c', 9) });
  emit({ type: 'SYNCED', resourceVersion: '9' });
  assert.equal(deleted, ['b']);
  assert.equal(inf.keys().sort(), ['default/a', 'default/c']);
  assert.is(inf.getByName('c', 'default')?.metadata.resourceVersion, '9');
});

test.run();

const live = suite<{ nats: Nats; api: InProcessApiserver }>('informer on a real apiserver');

live.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.api = await startInProcessApiserver(ctx.nats.url, { watchCacheEvents: 5 });
}));

live.after(async (ctx) => {
  await ctx.api?.stop();
  await ctx.nats?.stop();
});

live('syncs, follows changes, and relists when its version has left the watch cache', async ({ api }) => {
  const { client } = api;
  const mk = (name: string) => client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'web' } }, spec: { containers: [{ name: 'c', command: ['x'] }] } });
  await mk('one');
  const inf = new Informer<Pod>(client, 'pods', { labelSelector: 'app=web', deadlineMs: 2000 }).start();
  await inf.synced();
  assert.equal(inf.keys(), ['default/one']);
  await mk('two');
  await waitFor('the informer to see two', () => inf.get('default/two'));
  inf.stop();
  // While it is away: more writes than the watch cache window holds, including a delete.
  await client.delete('pods', 'one', 'default');
  for (let i = 0; i < 8; i++) await client.patch('pods', 'two', 'default', { metadata: { labels: { app: 'web', n: String(i) } } });
  // Resuming from where the informer stopped: the apiserver answers Gone, and the watch relists.
  const updates: string[] = [];
  const state = new Map<string, string | undefined>();
  const h = client.watch('pods', { labelSelector: 'app=web', resourceVersion: inf.resourceVersion(), deadlineMs: 2000 }, (u) => {
    updates.push(u.type);
    if (u.type === 'ADDED' || u.type === 'MODIFIED') state.set(u.object.metadata.name!, u.object.metadata.labels?.n);
  });
  await waitFor('the relist to finish', () => updates.includes('SYNCED'));
  h.stop();
  assert.is(updates[0], 'RESYNC', updates.join(','));
  assert.equal([...state], [['two', '7']], 'the relist holds only what exists now');
});

live.run();
