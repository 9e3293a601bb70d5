// The apiserver against a real nats-server: verbs, compare-and-swap, watches that survive
// disconnects, cascading deletes, namespaces, fencing, two apiservers at once, and garbage input.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { pack } from 'msgpackr';
import { decode, encode, PROTOCOL_VERSION } from '../../protocol/codec.ts';
import { AlreadyExists, Conflict, Forbidden, Invalid, NotFound, StaleLeader } from '../../protocol/errors.ts';
import { KINDS } from '../../protocol/kinds.ts';
import { API_WILDCARD, APISERVER_QUEUE, apiSubject } from '../../protocol/subjects.ts';
import type { Deployment, KubeObject, Lease, Pod, ReplicaSet, Service } from '../../protocol/types.ts';
import { apiServers } from '../client/apiservers.ts';
import { ApiClient } from '../client/client.ts';
import { connectNats } from '../platform/nats.ts';
import type { WatchUpdate } from '../client/watch.ts';
import { setup, startInProcessApiserver, startNats, waitFor, type InProcessApiserver, type Nats } from '../../test/harness.ts';

const pod = (name: string, labels: Record<string, string> = {}, extra: Partial<Pod['spec']> = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'c', command: ['sleep', '60'] }], ...extra },
});

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', command: ['sleep', '60'] }] } };

interface Ctx {
  nats: Nats;
  api: InProcessApiserver;
  client: ApiClient;
}

const api = suite<Ctx>('apiserver');

api.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.api = await startInProcessApiserver(ctx.nats.url);
  ctx.client = ctx.api.client;
}));

api.after(async (ctx) => {
  await ctx.api?.stop();
  await ctx.nats?.stop();
});

api('namespaces default and kube-system exist at start', async ({ client }) => {
  const names = (await client.list('namespaces')).items.map((n) => n.metadata.name);
  assert.ok(names.includes('default') && names.includes('kube-system'), names.join(','));
});

api('crud - create, get, list by label, update, patch, delete', async ({ client }) => {
  const created = await client.create(pod('crud-a', { app: 'web' }));
  assert.is(created.metadata.namespace, 'default');
  assert.ok(created.metadata.uid);
  assert.is(created.metadata.generation, 1);
  assert.is((created.spec as Pod['spec']).restartPolicy, 'Always', 'defaulted');
  await client.create(pod('crud-b', { app: 'db' }));
  const got = await client.get<Pod>('pods', 'crud-a', 'default');
  assert.is(got.metadata.resourceVersion, created.metadata.resourceVersion);
  const web = await client.list('pods', { namespace: 'default', labelSelector: 'app=web' });
  assert.equal(web.items.map((p) => p.metadata.name), ['crud-a']);
  const relabelled = await client.update({ ...got, metadata: { ...got.metadata, labels: { app: 'web', v: '2' } } });
  assert.ok(Number(relabelled.metadata.resourceVersion) > Number(got.metadata.resourceVersion));
  assert.is(relabelled.metadata.generation, 1, 'labels are not spec');
  const patched = await client.patch('pods', 'crud-a', 'default', { metadata: { labels: { v: null, w: '3' } } });
  assert.equal(patched.metadata.labels, { app: 'web', w: '3' });
  await client.delete('pods', 'crud-a', 'default');
  await client.delete('pods', 'crud-b', 'default');
  try {
    await client.get('pods', 'crud-a', 'default');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, NotFound);
    assert.is((err as Error).message, 'pods "crud-a" not found');
  }
});

api('create - an existing name is AlreadyExists; generateName makes unique names', async ({ client }) => {
  await client.create(pod('dup'));
  try {
    await client.create(pod('dup'));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AlreadyExists);
  }
  const names = new Set<string>();
  for (let i = 0; i < 5; i++) {
    names.add((await client.create({ ...pod(''), metadata: { generateName: 'gen-' } } as Pod)).metadata.name!);
  }
  assert.is(names.size, 5);
  for (const n of names) assert.match(n, /^gen-[a-z0-9]{5}$/);
});

api('create - an invalid object lists every field error and writes nothing', async ({ client }) => {
  try {
    await client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c', image: 'x' }], bogus: 1 } } as never);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, Invalid);
    const paths = (err as Invalid).fields.map((f) => f.path);
    assert.ok(paths.includes('metadata.name') && paths.includes('spec.containers[0].command') && paths.includes('spec.bogus'), paths.join(','));
  }
  assert.is((await client.list('pods', { fieldSelector: 'metadata.name=Bad_Name' })).items.length, 0);
});

api('update - a stale resourceVersion is a Conflict', async ({ client }) => {
  const p = await client.create(pod('stale'));
  await client.patch('pods', 'stale', 'default', { metadata: { labels: { a: '1' } } });
  try {
    await client.update({ ...p, metadata: { ...p.metadata, labels: { b: '2' } } });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, Conflict);
  }
});

api('cas - of N concurrent writers at one revision exactly one wins', async ({ client }) => {
  await client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'contended' }, spec: template.spec } as Pod);
  for (let round = 0; round < 5; round++) {
    const current = await client.get<Pod>('pods', 'contended', 'default');
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => client.update({ ...current, metadata: { ...current.metadata, labels: { writer: `${round}-${i}` } } })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof Conflict);
    assert.is(won.length, 1, `round ${round}: ${won.length} writers won`);
    assert.is(conflicts.length, 15);
  }
});

api('status - has its own write path; generation follows spec only', async ({ client }) => {
  const d = await client.create<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'st' }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template } });
  assert.is(d.status, undefined, 'status dropped on create');
  const s = await client.updateStatus({ ...d, spec: { ...d.spec, replicas: 50 }, status: { replicas: 1, readyReplicas: 1 } });
  assert.is(s.metadata.generation, 1, 'a status write does not bump generation');
  assert.is(s.spec.replicas, 1, 'a status write does not touch spec');
  const u = await client.update({ ...s, spec: { ...s.spec, replicas: 3 }, status: { replicas: 0 } });
  assert.is(u.metadata.generation, 2, 'a spec write bumps generation');
  assert.equal(u.status, { replicas: 1, readyReplicas: 1 }, 'a spec write does not clobber status');
  const p = await client.patch<Deployment>('deployments', 'st', 'default', { status: { readyReplicas: 3 } }, { subresource: 'status' });
  assert.equal(p.status, { replicas: 1, readyReplicas: 3 });
  const same = await client.update(p);
  assert.is(same.metadata.resourceVersion, p.metadata.resourceVersion, 'a no-op update writes nothing');
});

api('status - a write with only name, uid and status lands; one for an object since made again under its name is a Conflict', async ({ client }) => {
  const first = await client.create<Pod>(pod('again'));
  const lean = await client.updateStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'again', namespace: 'default', uid: first.metadata.uid }, status: { phase: 'Running' } } as Pod);
  assert.is(lean.status?.phase, 'Running');
  assert.equal(lean.spec, first.spec, 'the spec is kept as stored');
  await client.delete('pods', 'again', 'default', { gracePeriodSeconds: 0 });
  const second = await client.create<Pod>(pod('again'));
  try {
    await client.updateStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'again', namespace: 'default', uid: first.metadata.uid }, status: { phase: 'Failed' } } as Pod);
    assert.unreachable('a status for the old pod was written to the new one');
  } catch (err) {
    assert.instance(err, Conflict);
  }
  assert.is((await client.get<Pod>('pods', 'again', 'default')).status?.phase, second.status?.phase);
});

api('namespaces - must exist; deleting one deletes what is in it', async ({ client }) => {
  try {
    await client.create({ ...pod('x'), metadata: { name: 'x', namespace: 'nowhere' } });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, NotFound);
    assert.match((err as Error).message, /namespace "nowhere" not found/);
  }
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  await client.create({ ...pod('in-team'), metadata: { name: 'in-team', namespace: 'team' } });
  await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'team' }, spec: { ports: [{ port: 80 }] } });
  await client.delete('namespaces', 'team');
  await waitFor('namespace team to be gone', async () => {
    try {
      await client.get('namespaces', 'team');
      return false;
    } catch (err) {
      return err instanceof NotFound;
    }
  });
  assert.is((await client.list('pods', { namespace: 'team' })).items.length, 0);
  assert.is((await client.list('services', { namespace: 'team' })).items.length, 0);
  try {
    await client.delete('namespaces', 'default');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, Forbidden);
  }
});

api('cascade - deleting a Deployment removes its ReplicaSets and Pods; orphan keeps them', async ({ client }) => {
  for (const policy of ['Background', 'Orphan'] as const) {
    const d = await client.create<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `casc-${policy.toLowerCase()}` }, spec: { selector: { matchLabels: { app: 'web' } }, template } });
    const owner = (o: KubeObject) => [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid!, controller: true }];
    const rs = await client.create<ReplicaSet>({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${d.metadata.name}-rs`, ownerReferences: owner(d) }, spec: { selector: { matchLabels: { app: 'web' } }, template } });
    for (let i = 0; i < 3; i++) await client.create({ ...pod(`${rs.metadata.name}-${i}`, { app: 'web' }), metadata: { name: `${rs.metadata.name}-${i}`, ownerReferences: owner(rs) } });
    await client.delete('deployments', d.metadata.name!, 'default', { propagationPolicy: policy });
    const pods = (await client.list('pods')).items.filter((p) => p.metadata.name!.startsWith(rs.metadata.name!));
    const rss = (await client.list('replicasets')).items.filter((r) => r.metadata.name === rs.metadata.name);
    if (policy === 'Background') {
      assert.is(rss.length, 0);
      assert.is(pods.length, 0);
    } else {
      assert.is(rss.length, 1);
      assert.is(rss[0].metadata.ownerReferences, undefined, 'orphans lose the owner reference');
      assert.is(pods.length, 3, 'the orphaned ReplicaSet keeps its pods');
    }
  }
});

api('delete - a pod bound to a node is deleted gracefully', async ({ client }) => {
  await client.create(pod('bound', {}, { nodeName: 'node-1', terminationGracePeriodSeconds: 7 }));
  const marked = await client.delete<Pod>('pods', 'bound', 'default');
  assert.ok(marked.metadata.deletionTimestamp);
  assert.is(marked.metadata.deletionGracePeriodSeconds, 7);
  assert.ok(await client.get('pods', 'bound', 'default'), 'still there until the kubelet finishes');
  await client.delete('pods', 'bound', 'default', { gracePeriodSeconds: 0 });
  try {
    await client.get('pods', 'bound', 'default');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, NotFound);
  }
});

api('bind - a pod gets its node once, with PodScheduled=True; bound again, deleting, made again or no such pod are refused', async ({ client }) => {
  const p = await client.create<Pod>(pod('bindme'));
  const bound = await client.bind('default', 'bindme', 'node-1', { uid: p.metadata.uid });
  assert.is(bound.spec.nodeName, 'node-1');
  assert.equal(bound.spec.containers, p.spec.containers, 'the rest of the spec is as stored');
  assert.is(bound.metadata.generation, 2);
  assert.is(bound.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');
  assert.is((await client.get<Pod>('pods', 'bindme', 'default')).spec.nodeName, 'node-1');
  const refused = async (why: RegExp, bind: () => Promise<unknown>, type: new (...a: never[]) => Error = Conflict) => {
    try {
      await bind();
      assert.unreachable(`bound: ${why}`);
    } catch (err) {
      assert.instance(err, type);
      assert.match((err as Error).message, why);
    }
  };
  await refused(/already assigned to node "node-1"/, () => client.bind('default', 'bindme', 'node-2'));
  const again = await client.bind('default', 'bindme', 'node-1', { uid: p.metadata.uid });
  assert.is(again.metadata.resourceVersion, bound.metadata.resourceVersion, 'a retried binding is answered without a write');
  await refused(/metadata.namespace: "default" does not match the request's namespace "other"/, () => client.call('pods', 'bind', {
    namespace: 'other', object: { metadata: { name: 'bindme', namespace: 'default' }, target: { name: 'node-1' } },
  }), Invalid);
  const old = await client.create<Pod>(pod('again-bind'));
  await client.delete('pods', 'again-bind', 'default', { gracePeriodSeconds: 0 });
  await client.create<Pod>(pod('again-bind'));
  await refused(/uid changed/, () => client.bind('default', 'again-bind', 'node-1', { uid: old.metadata.uid }));
  await refused(/not found/, () => client.bind('default', 'nobody', 'node-1'), NotFound);
  await refused(/target.name: .*lower case alphanumeric/, () => client.bind('default', 'again-bind', 'Node_1'), Invalid);
  const other = decode((await client.nc.request(apiSubject('services', 'bind'), encode('request', { object: {} }), { timeout: 2000 })).data);
  assert.equal([other.type, (other.error as { message?: string })?.message], ['error', 'only pods can be bound, not services']);
  await client.delete('pods', 'bindme', 'default', { gracePeriodSeconds: 0 });
  await client.delete('pods', 'again-bind', 'default', { gracePeriodSeconds: 0 });
});

api('returnObject: false - a write answers with only the version it wrote; a bad value is refused before anything is written', async ({ client }) => {
  const created = await client.create<Pod>(pod('ack-only'), { returnObject: false });
  const stored = await client.get<Pod>('pods', 'ack-only', 'default');
  assert.equal(created, { resourceVersion: stored.metadata.resourceVersion });
  const bound = await client.bind('default', 'ack-only', 'node-1', { uid: stored.metadata.uid, returnObject: false });
  const afterBind = await client.get<Pod>('pods', 'ack-only', 'default');
  assert.is(afterBind.spec.nodeName, 'node-1');
  assert.equal(bound, { resourceVersion: afterBind.metadata.resourceVersion });
  const status = { ...afterBind.status, phase: 'Running' as const };
  const written = await client.updateStatus({ ...afterBind, status }, { returnObject: false });
  const afterStatus = await client.get<Pod>('pods', 'ack-only', 'default');
  assert.is(afterStatus.status?.phase, 'Running');
  assert.equal(written, { resourceVersion: afterStatus.metadata.resourceVersion });
  // Nothing changed, nothing written: the version the object already has.
  assert.equal(await client.updateStatus({ ...afterStatus, status }, { returnObject: false }), { resourceVersion: afterStatus.metadata.resourceVersion });
  const patched = await client.patch('pods', 'ack-only', 'default', { metadata: { labels: { acked: 'yes' } } }, { returnObject: false });
  const afterPatch = await client.get<Pod>('pods', 'ack-only', 'default');
  assert.is(afterPatch.metadata.labels?.acked, 'yes');
  assert.equal(patched, { resourceVersion: afterPatch.metadata.resourceVersion });
  // A dry run stores nothing and so has no version to give.
  assert.equal(await client.create(pod('ack-dry'), { dryRun: true, returnObject: false }), {});
  // Without the option, the object as before.
  assert.is((await client.bind('default', 'ack-only', 'node-1', { uid: stored.metadata.uid })).spec.nodeName, 'node-1');
  try {
    await client.call('pods', 'create', { object: pod('ack-bad'), options: { returnObject: 'no' } });
    assert.unreachable('a returnObject that is not a boolean was accepted');
  } catch (err) {
    assert.match((err as Error).message, 'options.returnObject: must be true or false');
  }
  await client.get('pods', 'ack-bad', 'default').then(() => assert.unreachable('the refused create was written'), (err) => assert.instance(err, NotFound));
  await client.delete('pods', 'ack-only', 'default', { gracePeriodSeconds: 0 });
});

api('bind - fenced: a stale leader\'s binding is refused with StaleLeader and lands nothing', async ({ client }) => {
  const now = new Date().toISOString();
  await client.create<Lease>({ apiVersion: 'v1', kind: 'Lease', metadata: { name: 'sched-bind', namespace: 'kube-system' }, spec: { holderIdentity: 'master-2', leaseDurationSeconds: 30, renewTime: now, leaseTransitions: 2 } });
  await client.create<Pod>(pod('fenced-bind'));
  try {
    await client.fenced({ lease: 'kube-system/sched-bind', holder: 'master-1', term: 2 }).bind('default', 'fenced-bind', 'node-1');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StaleLeader);
  }
  assert.is((await client.get<Pod>('pods', 'fenced-bind', 'default')).spec.nodeName, undefined);
  const bound = await client.fenced({ lease: 'kube-system/sched-bind', holder: 'master-2', term: 2 }).bind('default', 'fenced-bind', 'node-1');
  assert.is(bound.spec.nodeName, 'node-1');
  await client.delete('pods', 'fenced-bind', 'default', { gracePeriodSeconds: 0 });
});

api('services - each gets a ClusterIP of its own, so two may share a port; a requested one is honoured or refused; released on delete', async ({ client }) => {
  const service = (name: string, clusterIP?: string): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 7070 }], ...(clusterIP ? { clusterIP } : {}) } });
  const first = await client.create(service('first-on-7070'));
  const second = await client.create(service('second-on-7070'));
  assert.match(first.spec.clusterIP!, /^127\.1\.\d+\.\d+$/);
  assert.match(second.spec.clusterIP!, /^127\.1\.\d+\.\d+$/);
  assert.is.not(first.spec.clusterIP, second.spec.clusterIP);
  const asked = await client.create(service('asked', '127.1.200.7'));
  assert.is(asked.spec.clusterIP, '127.1.200.7');
  const refusal = await client.create(service('also-asked', '127.1.200.7')).then(() => undefined, (err: Error) => err);
  assert.instance(refusal, Invalid);
  assert.match(refusal!.message, /spec.clusterIP: 127\.1\.200\.7 is already allocated to service default\/asked/);
  // An update cannot move it, and keeps it when it leaves the field out.
  const moved = await client.update({ ...asked, spec: { ...asked.spec, clusterIP: '127.1.200.8' } }).then(() => undefined, (err: Error) => err);
  assert.match(moved!.message, /spec.clusterIP: "127\.1\.200\.8": the field is immutable \(the service has 127\.1\.200\.7\)/);
  const kept = await client.update({ ...asked, spec: { ...asked.spec, clusterIP: undefined } });
  assert.is(kept.spec.clusterIP, '127.1.200.7');
  const headless = await client.create(service('headless', 'None'));
  assert.is(headless.spec.clusterIP, 'None');
  // Deleted, its address is free at once for another.
  await client.delete('services', 'asked', 'default');
  await waitFor('the address free again', () => client.create(service('also-asked', '127.1.200.7')).then(() => true, () => false), 5000);
  for (const n of ['first-on-7070', 'second-on-7070', 'also-asked', 'headless']) await client.delete('services', n, 'default');
});

api('fence - a write under a lease that moved on is refused with StaleLeader', async ({ client }) => {
  const now = new Date().toISOString();
  await client.create<Lease>({ apiVersion: 'v1', kind: 'Lease', metadata: { name: 'ctrl', namespace: 'kube-system' }, spec: { holderIdentity: 'master-2', leaseDurationSeconds: 30, renewTime: now, leaseTransitions: 4 } });
  const fenced = (holder: string, term: number) => client.create(pod(`fenced-${holder}-${term}`), { fence: { lease: 'kube-system/ctrl', holder, term } });
  await fenced('master-2', 4);
  for (const [holder, term] of [['master-1', 4], ['master-2', 3]] as const) {
    try {
      await fenced(holder, term);
      assert.unreachable();
    } catch (err) {
      assert.instance(err, StaleLeader);
    }
  }
  assert.is((await client.list('pods', { labelSelector: '' })).items.filter((p) => p.metadata.name!.startsWith('fenced-master-1')).length, 0);
});

api('watch - per-node delivery: a node sees only pods bound to it', async ({ client }) => {
  const seen: { n1: string[]; n2: string[] } = { n1: [], n2: [] };
  const handles = (['n1', 'n2'] as const).map((n) => client.watch('pods', { fieldSelector: `spec.nodeName=${n}`, deadlineMs: 5000 }, (u) => {
    if ('object' in u) seen[n].push(`${u.type} ${u.object.metadata.name}`);
  }));
  await client.create(pod('pn-a', {}, { nodeName: 'n1' }));
  await client.create(pod('pn-b', {}, { nodeName: 'n2' }));
  await client.create(pod('pn-c'));
  await client.patch('pods', 'pn-c', 'default', { spec: { nodeName: 'n2' } });
  await waitFor('node n2 to see both its pods', () => seen.n2.length >= 2);
  await client.delete('pods', 'pn-a', 'default', { gracePeriodSeconds: 0 });
  await waitFor('node n1 to see its pod deleted', () => seen.n1.length >= 2);
  handles.forEach((h) => h.stop());
  assert.equal(seen.n1, ['ADDED pn-a', 'DELETED pn-a']);
  assert.equal(seen.n2, ['ADDED pn-b', 'ADDED pn-c']);
});

api('watch - the events of one moment arrive together, numbered without a gap, and the client sees each in order', async ({ client }) => {
  const names = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
  await Promise.all(names.slice(0, 20).map((n) => client.create(pod(n, { burst: 'yes' }))));
  // The raw stream: what the apiserver sends to a watcher's subject.
  const deliver = `_INBOX.burst.${Date.now()}`;
  // Every message has a number: a heartbeat uses one, an event one, a batch one per event.
  const messages: { seq: number; count: number; events: number }[] = [];
  const sub = client.nc.subscribe(deliver, { callback: (_e, m) => {
    const env = decode(m.data);
    const events = env.events as unknown[] | undefined;
    const n = events ? events.length : env.event ? 1 : 0;
    messages.push({ seq: env.seq as number, count: Math.max(1, n), events: n });
    if (m.reply) m.respond(encode('heartbeat-ack'));
  } });
  await client.call('pods', 'watch', { labelSelector: 'burst=yes', sendInitialEvents: true, deliver });
  // And a client's watch of the same, after the listing.
  const seen: string[] = [];
  const h = client.watch('pods', { labelSelector: 'burst=yes', deadlineMs: 5000 }, (u) => { if (u.type === 'ADDED') seen.push(u.object.metadata.name!); });
  await waitFor('the listing', () => seen.length === 20);
  await Promise.all(names.slice(20).map((n) => client.create(pod(n, { burst: 'yes' }))));
  // 20 listed, 20 created, one bookmark ending the listing.
  await waitFor('every event on the raw stream', () => messages.reduce((n, m) => n + m.events, 0) === 41);
  await waitFor('every pod in the client watch', () => seen.length === 40);
  sub.unsubscribe();
  h.stop();
  let next = 1;
  for (const m of messages) {
    assert.is(m.seq, next, 'numbered without a gap');
    next += m.count;
  }
  const withEvents = messages.filter((m) => m.events > 0).length;
  assert.ok(withEvents < 41, `${withEvents} messages for 41 events: the listing at least goes out together`);
  assert.equal(new Set(seen).size, 40);
  const rv = async (n: string) => Number((await client.get<Pod>('pods', n, 'default')).metadata.resourceVersion);
  const revisions = await Promise.all(seen.slice(20).map(rv));
  assert.equal(revisions, [...revisions].sort((a, b) => a - b), 'in the order they were written');
  for (const n of names) await client.delete('pods', n, 'default', { gracePeriodSeconds: 0 });
});

api('watch - a handler that throws part-way through a batch loses none of the rest: the watch resumes from before it', async ({ client }) => {
  const seen = new Set<string>();
  const restarts: string[] = [];
  let thrown = false;
  const h = client.watch('pods', { labelSelector: 'throws=yes', deadlineMs: 5000, onRestart: (r) => restarts.push(r) }, (u) => {
    if (u.type !== 'ADDED') return;
    if (u.object.metadata.name === 'throws-3' && !thrown) {
      thrown = true;
      throw new Error('handler bug');
    }
    seen.add(u.object.metadata.name!);
  });
  const names = Array.from({ length: 10 }, (_, i) => `throws-${i}`);
  await Promise.all(names.map((n) => client.create(pod(n, { throws: 'yes' }))));
  await waitFor('every pod seen', () => seen.size === 10);
  h.stop();
  assert.ok(thrown);
  assert.ok(restarts.some((r) => /a watch handler failed: handler bug/.test(r)), restarts.join('; '));
  for (const n of names) await client.delete('pods', n, 'default', { gracePeriodSeconds: 0 });
});

api('watch - a handler that throws during the first listing makes the watch list again: every object, then SYNCED', async ({ client }) => {
  const names = Array.from({ length: 6 }, (_, i) => `listed-${i}`);
  for (const n of names) await client.create(pod(n, { listed: 'yes' }));
  // Updated after creation, so that the listing's order is not the order of versions.
  await client.update({ ...(await client.get<Pod>('pods', 'listed-0', 'default')), metadata: { ...(await client.get<Pod>('pods', 'listed-0', 'default')).metadata, labels: { listed: 'yes', again: '1' } } });
  const updates: string[] = [];
  let adds = 0;
  const h = client.watch('pods', { labelSelector: 'listed=yes', deadlineMs: 5000 }, (u) => {
    if (u.type === 'ADDED' && ++adds === 3) throw new Error('handler bug');
    updates.push(u.type === 'ADDED' ? `ADDED ${u.object.metadata.name}` : u.type);
  });
  await waitFor('SYNCED after a second listing', () => updates.filter((u) => u === 'RESYNC').length === 2 && updates.includes('SYNCED'));
  h.stop();
  const second = updates.slice(updates.lastIndexOf('RESYNC') + 1);
  assert.equal(second.filter((u) => u.startsWith('ADDED')).sort(), names.map((n) => `ADDED ${n}`).sort(), 'the second listing has every object');
  assert.is(second.at(-1), 'SYNCED');
  for (const n of names) await client.delete('pods', n, 'default', { gracePeriodSeconds: 0 });
});

api('watch - a gap in the event numbers makes the client resume, and nothing is missed', async ({ client, nats }) => {
  const inboxes: string[] = [];
  const state = new Map<string, string>();
  const restarts: string[] = [];
  const apply = (u: WatchUpdate) => {
    if (u.type === 'ADDED' || u.type === 'MODIFIED') state.set(u.object.metadata.name!, u.object.metadata.resourceVersion!);
    if (u.type === 'DELETED') state.delete(u.object.metadata.name!);
  };
  const h = client.watch('pods', { labelSelector: 'gap=test', deadlineMs: 5000, inbox: () => { inboxes.push(`_INBOX.gaptest.${inboxes.length}`); return inboxes.at(-1)!; }, onRestart: (r) => restarts.push(r) }, apply);
  await waitFor('the watch to start', () => inboxes.length === 1);
  await client.create(pod('gap-1', { gap: 'test' }));
  await waitFor('gap-1', () => state.has('gap-1'));
  const rogue = await connectNats({ url: nats.url, name: 'rogue', persistent: false });
  rogue.publish(inboxes[0], encode('watch', { seq: 999, event: { type: 'ADDED', object: pod('phantom') } }));
  await rogue.flush();
  await rogue.close();
  await client.create(pod('gap-2', { gap: 'test' }));
  await client.delete('pods', 'gap-1', 'default');
  await waitFor('the resumed watch to catch up', () => state.has('gap-2') && !state.has('gap-1'));
  h.stop();
  assert.ok(restarts.some((r) => /gap/.test(r)), restarts.join('; '));
  assert.not.ok(state.has('phantom'), 'the out-of-sequence message was not applied');
});

api('finalizers - a deleted object that has some is marked and stays; removing the last one deletes it', async ({ client }) => {
  const svc = await client.create<Service>({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'final', finalizers: ['service.kubernetes.io/load-balancer-cleanup'] },
    spec: { type: 'LoadBalancer', selector: { app: 'final' }, ports: [{ port: 80 }] },
  });
  assert.ok(svc.spec.ports[0].nodePort, 'a LoadBalancer service has node ports');
  const portless = await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'portless' }, spec: { type: 'LoadBalancer', ports: [] } } as KubeObject).then(() => undefined, (e: Error) => e);
  assert.match(portless?.message ?? '', /spec.ports: must have at least one port/);
  await client.delete('services', 'final', 'default');
  const marked = await client.get<Service>('services', 'final', 'default');
  assert.ok(marked.metadata.deletionTimestamp, 'marked for deletion');
  await client.delete('services', 'final', 'default');
  assert.ok(await client.get('services', 'final', 'default'), 'a second delete changes nothing');
  await client.patch('services', 'final', 'default', { metadata: { finalizers: [] } });
  const gone = await client.get('services', 'final', 'default').then(() => false, (err: Error) => /not found/.test(err.message));
  assert.ok(gone, 'deleted once its finalizers are gone');
});

api('node pools - defaults; max below min, a bad duration and a template larger than any machine are refused, naming the field', async ({ client }) => {
  const pool = (spec: Record<string, unknown>) => ({ apiVersion: 'skiff.io/v1', kind: 'NodePool', metadata: { name: 'pool-a' }, spec: { maxNodes: 2, template: { capacity: { cpu: '1', memory: '1Gi' } }, ...spec } });
  const refused = async (spec: Record<string, unknown>, message: RegExp) => {
    const err = await client.create(pool(spec) as KubeObject).then(() => undefined, (e: Error) => e);
    assert.ok(err, `refused: ${JSON.stringify(spec)}`);
    assert.match(err!.message, message);
  };
  await refused({ minNodes: 3 }, /spec.minNodes: must be less than or equal to maxNodes \(2\)/);
  await refused({ consolidateAfter: '10' }, /spec.consolidateAfter: "10" is not a duration/);
  await refused({ template: { capacity: { cpu: '4096', memory: '1Gi' } } }, /spec.template.capacity.cpu: 4096 is more than the largest machine has \(\d+ CPUs: this host/);
  await refused({ template: { capacity: { cpu: '1' } } }, /spec.template.capacity.memory/);
  const made = await client.create(pool({}) as KubeObject) as KubeObject & { spec: Record<string, unknown> };
  assert.equal([made.spec.minNodes, made.spec.consolidateAfter], [0, '30s']);
  await client.delete('nodepools', 'pool-a');
});

api('garbage - every api subject answers malformed input with a typed error and keeps serving', async ({ client }) => {
  const nc = client.nc;
  const verbs = ['create', 'get', 'list', 'update', 'status', 'bind', 'patch', 'delete', 'watch'];
  const payloads = [randomBytes(64), new Uint8Array(), pack('just a string'), pack({ v: PROTOCOL_VERSION, type: 'request', object: 5, name: 7, patch: 'x', options: 'y', deliver: 3 })];
  for (const k of KINDS) {
    for (const verb of verbs) {
      for (const p of payloads) {
        const reply = decode((await nc.request(apiSubject(k.resource, verb), p, { timeout: 2000 })).data);
        // A well-formed envelope with nonsense fields may still be a valid list; anything else is refused.
        if (reply.type === 'response') assert.is(verb, 'list', `${k.resource}.${verb} accepted ${p.length} bytes`);
        else assert.ok((reply.error as { code: number }).code < 500, `${k.resource}.${verb}: ${JSON.stringify(reply.error)}`);
      }
    }
  }
  for (const subject of [apiSubject('gizmos', 'get'), apiSubject('pods', 'frobnicate')]) {
    const reply = decode((await nc.request(subject, encode('request', { name: 'x' }), { timeout: 2000 })).data);
    assert.is(reply.type, 'error');
    assert.ok(['Invalid', 'BadRequest'].includes((reply.error as { name: string }).name));
  }
  assert.ok((await client.list('namespaces')).items.length >= 2, 'still serving');
});

api('a member of the apiserver queue group that never answers (a paused process) costs a client nothing', async ({ nats }) => {
  // NATS keeps a stopped process in a queue group while it has data to send it; here, one that
  // simply never answers. Clients send to apiservers they have heard beat lately instead.
  const nc = await connectNats({ url: nats.url, name: 'hung', persistent: true });
  const hung = nc.subscribe(API_WILDCARD, { queue: APISERVER_QUEUE, callback: () => {} });
  const clientNc = await connectNats({ url: nats.url, name: 'impatient', persistent: true });
  try {
    const client = new ApiClient(clientNc, { timeoutMs: 900, attemptTimeoutMs: 300 });
    await waitFor('a beat heard', () => apiServers(clientNc).pick() !== undefined, 3000);
    let failed = 0;
    for (let i = 0; i < 40; i++) await client.get('namespaces', 'default').catch(() => { failed++; });
    // Through the queue group alone, each request would fail one time in eight (three attempts,
    // each with even odds of landing on the hung member).
    assert.is(failed, 0);
  } finally {
    hung.unsubscribe();
    await nc.close();
    await clientNc.close();
  }
});

api.run();

// --- two apiservers, and a watch that survives a nats-server restart ---------------------------

const multi = suite<{ nats: Nats; a: InProcessApiserver; b: InProcessApiserver }>('two apiservers');

multi.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.a = await startInProcessApiserver(ctx.nats.url, { kvStorage: 'file' });
  ctx.b = await startInProcessApiserver(ctx.nats.url, { kvStorage: 'file' });
}));

multi.after(async (ctx) => {
  await ctx.a?.stop();
  await ctx.b?.stop();
  await ctx.nats?.stop();
});

multi('both serve, and compare-and-swap holds across them', async ({ a, b }) => {
  const served = { a: 0, b: 0 };
  // Messages each apiserver's connection received: the requests the queue group gave it.
  const count = (s: InProcessApiserver) => s.nc.stats().inMsgs;
  const before = { a: count(a), b: count(b) };
  await a.client.create(pod('shared'));
  for (let i = 0; i < 100; i++) await a.client.get('pods', 'shared', 'default');
  served.a = count(a) - before.a;
  served.b = count(b) - before.b;
  assert.ok(served.a > 10 && served.b > 10, `requests were spread: ${JSON.stringify(served)}`);
  const current = await a.client.get<Pod>('pods', 'shared', 'default');
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).client.update({ ...current, metadata: { ...current.metadata, labels: { w: String(i) } } })));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
});

multi('node ports: services created at once through both apiservers never share one', async ({ a, b }) => {
  // Each its own service port: a service port is a port on every node too.
  let port = 20_000;
  const nodePortSvc = (name: string, nodePort?: number): Service => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name },
    spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: port++, ...(nodePort ? { nodePort } : {}) }] },
  });
  const asked = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).client.create(nodePortSvc(`same-${i}`, 30555))));
  const refused = asked.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.is(asked.length - refused.length, 1, 'one service has 30555');
  for (const r of refused) assert.match(r.reason.message, /spec.ports\[0\].nodePort: 30555 is already allocated to service default\/same-\d/);
  const chosen = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).client.create(nodePortSvc(`auto-${i}`))));
  const ports = chosen.map((svc) => svc.spec.ports[0].nodePort!);
  assert.is(new Set([...ports, 30555]).size, 21, `all different: ${ports.join(' ')}`);
  // Deleted, its port is free again at once, for another service.
  await a.client.delete('services', 'auto-0', 'default');
  await b.client.create(nodePortSvc('reuse', ports[0]));
});

multi('ClusterIPs: services created at once through both apiservers never share one, also after an apiserver restarts', async (ctx) => {
  const svc = (name: string, clusterIP?: string): Service => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...(clusterIP ? { clusterIP } : {}) },
  });
  const asked = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? ctx.a : ctx.b).client.create(svc(`ip-same-${i}`, '127.1.77.7'))));
  const refused = asked.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.is(asked.length - refused.length, 1, 'one service has 127.1.77.7');
  for (const r of refused) assert.match(r.reason.message, /spec.clusterIP: 127\.1\.77\.7 is already allocated to service default\/ip-same-\d/);
  const chosen = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? ctx.a : ctx.b).client.create(svc(`ip-auto-${i}`))));
  const ips = chosen.map((s) => s.spec.clusterIP!);
  assert.is(new Set([...ips, '127.1.77.7']).size, 21, `all different: ${ips.join(' ')}`);
  // A restarted apiserver knows what is held: the store has it, not the process.
  await ctx.a.stop();
  ctx.a = await startInProcessApiserver(ctx.nats.url, { kvStorage: 'file' });
  const again = await ctx.a.client.create(svc('ip-after', ips[3])).then(() => undefined, (err: Error) => err);
  assert.match(again!.message, new RegExp(`spec.clusterIP: ${ips[3].replace(/\./g, '\\.')} is already allocated to service default/ip-auto-3`));
  const more = await Promise.all(Array.from({ length: 5 }, (_, i) => ctx.a.client.create(svc(`ip-later-${i}`))));
  assert.is(new Set([...ips, '127.1.77.7', ...more.map((s) => s.spec.clusterIP!)]).size, 26);
});

multi('watch - resumes without a gap after nats-server restarts', async ({ nats, a }) => {
  const state = new Map<string, string>();
  const restarts: string[] = [];
  const h = a.client.watch('pods', { labelSelector: 'restart=test', deadlineMs: 1250, onRestart: (r) => restarts.push(r) }, (u) => {
    if (u.type === 'ADDED' || u.type === 'MODIFIED') state.set(u.object.metadata.name!, u.object.metadata.resourceVersion!);
    if (u.type === 'DELETED') state.delete(u.object.metadata.name!);
  });
  for (let i = 0; i < 5; i++) await a.client.create(pod(`r-${i}`, { restart: 'test' }));
  await waitFor('the first pods', () => state.size === 5);
  await nats.restart();
  const writer = await connectNats({ url: nats.url, name: 'writer', persistent: true });
  const w = new ApiClient(writer, { timeoutMs: 5000 });
  await waitFor('an apiserver to serve again', async () => (await w.list('pods')).items.length >= 5, 20_000, 200);
  await w.delete('pods', 'r-0', 'default');
  await w.patch('pods', 'r-1', 'default', { metadata: { labels: { extra: 'yes' } } });
  await w.create(pod('r-new', { restart: 'test' }));
  const want = new Map((await w.list('pods', { labelSelector: 'restart=test' })).items.map((p) => [p.metadata.name!, p.metadata.resourceVersion!]));
  await waitFor('the watcher to converge on the store', () => [...want].every(([k, v]) => state.get(k) === v) && state.size === want.size, 20_000, 100);
  h.stop();
  await writer.close();
  assert.not.ok(state.has('r-0'), 'the delete during the outage-recovery was not missed');
  assert.ok(restarts.length > 0);
});

multi.run();
