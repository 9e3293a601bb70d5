// Security as a user of the cluster meets it: no connection without credentials; a node held by
// NATS to its own subjects and by the apiserver to NodeRestriction; users held to their roles;
// a deleted user cut off without a restart; and garbage from a node or a viewer on every subject
// they may publish to answered with typed errors, the cluster unharmed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from 'nats';
import { pack } from 'msgpackr';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../actors/client/client.ts';
import { credentialsPath } from '../actors/platform/credentials.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { programArgs } from '../actors/platform/entry.ts';
import { deleteIdentity, ensureIdentity, prepareClusterAuth, writeAuthorization } from '../infra/auth.ts';
import { decode, encode } from '../protocol/codec.ts';
import { Forbidden, Unauthorized } from '../protocol/errors.ts';
import { KINDS } from '../protocol/kinds.ts';
import { ACCESS_REVIEW_RESOURCE, apiSubject, nodeSubject, VERSION_RESOURCE } from '../protocol/subjects.ts';
import type { KubeObject, Node, Pod, RoleBinding } from '../protocol/types.ts';
import { freePorts, healthy, setup, skiff, spawnProc, startCluster, stopCluster, waitFor, type Cluster } from './harness.ts';
import { identityEnv, TEST_AUTH } from './test-auth.ts';

interface Ctx extends Partial<Cluster> {
  as: Record<string, NatsConnection>;
  creds: Record<string, string>;
}
const s = suite<Ctx>('security');

const pod = (name: string, node: string, namespace = 'default'): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace },
  spec: { nodeName: node, containers: [{ name: 'c', command: ['sh', '-c', 'echo up; sleep 600'] }] },
});

s.before(setup(async (ctx) => {
  ctx.as = {};
  ctx.creds = {};
  await startCluster(ctx, { masters: ['m1'], nodes: [{ name: 'node-1' }, { name: 'node-2' }] });
  const url = ctx.nats!.url;
  for (const [kind, name] of [['node', 'node-1'], ['user', 'viewer'], ['user', 'alice']] as const) {
    ctx.creds[name] = (await identityEnv(url, kind, name)).SKIFF_CREDENTIALS!;
    ctx.as[name] = await connectNats({ url, name: `as ${name}`, persistent: false, credentials: ctx.creds[name] });
  }
  const client = ctx.client!;
  for (const ns of ['a', 'b']) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const edit: RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-edit', namespace: 'a' },
    roleRef: { kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'User', name: 'alice' }],
  };
  await client.create(edit);
  await client.create(pod('on-one', 'node-1'));
  await client.create(pod('on-two', 'node-2'));
  await waitFor('both pods running', async () => (await client.list<Pod>('pods')).items.filter((p) => p.status?.phase === 'Running').length === 2, 20_000);
}));

s.after(async (ctx) => {
  for (const nc of Object.values(ctx.as ?? {})) await nc.close().catch(() => {});
  await stopCluster(ctx);
});

s('without credentials, nats-server refuses the connection', async (ctx) => {
  if (!TEST_AUTH) return;
  const err = await connect({ servers: ctx.nats!.url, reconnect: false }).then(() => undefined, (e: Error) => e);
  assert.ok(err, 'refused');
  assert.match(String((err as { code?: string }).code ?? err!.message), /AUTHORIZATION_VIOLATION|Authorization/i);
  // Run where no local cluster's admin credentials are to be found.
  const nowhere = mkdtempSync(join(tmpdir(), 'skiff-noauth-'));
  const cli = await skiff(['get', 'pods'], { url: ctx.nats!.url, env: { SKIFF_CREDENTIALS: '', SKIFF_AUTH_DIR: nowhere }, via: 'sources' });
  rmSync(nowhere, { recursive: true });
  assert.is.not(cli.code, 0);
  assert.match(cli.stderr, /requires credentials: pass --credentials FILE/, cli.stderr);
});

/** Whether NATS refuses the action: a permissions violation, for a publish or a subscription. */
async function refusedByNats(nc: NatsConnection, act: { publish?: string; subscribe?: string }): Promise<boolean> {
  if (act.subscribe) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { sub.unsubscribe(); resolve(false); }, 2000);
      const sub = nc.subscribe(act.subscribe!, { callback: (err) => { if (err) { clearTimeout(t); resolve(/PERMISSIONS_VIOLATION/.test(String((err as { code?: string }).code))); } } });
    });
  }
  return nc.request(act.publish!, encode('request', {}), { timeout: 2000 }).then(() => false, (err: { code?: string }) => err.code === 'PERMISSIONS_VIOLATION');
}

s("node-1 may not read the store, another node's subjects or inboxes, nor send in another node's name", async (ctx) => {
  if (!TEST_AUTH) return;
  const nc = ctx.as['node-1'];
  const refusals: [string, { publish?: string; subscribe?: string }][] = [
    ['a direct get from the store', { publish: '$JS.API.DIRECT.GET.KV_skiff-pods' }],
    ['a message get from the store', { publish: '$JS.API.STREAM.MSG.GET.KV_skiff-pods' }],
    ['the bucket streams', { publish: '$JS.API.STREAM.NAMES' }],
    ['a write straight into the KV', { publish: '$KV.skiff-pods.default.evil' }],
    ['the KV subjects', { subscribe: '$KV.skiff-pods.>' }],
    ["node-2's subjects", { subscribe: 'skiff.node.node-2.>' }],
    ["node-2's exec", { publish: 'skiff.node.node-2.exec' }],
    ["node-2's inbox", { subscribe: '_INBOX.node-2.>' }],
    ['every inbox', { subscribe: '_INBOX.>' }],
    ['an API request in node-2\'s name', { publish: apiSubject('pods', 'status', 'node-2') }],
    ['an API request in no one\'s name (a master\'s)', { publish: apiSubject('pods', 'delete') }],
    ['an API request in a user\'s name', { publish: apiSubject('pods', 'delete', 'u-admin') }],
  ];
  for (const [what, act] of refusals) assert.ok(await refusedByNats(nc, act), `refused: ${what}`);
});

s('node-1 is held by the apiserver to NodeRestriction', async (ctx) => {
  const node1 = new ApiClient(ctx.as['node-1'] ?? ctx.client!.nc, { timeoutMs: 5000, origin: 'node-1' });
  const client = ctx.client!;
  const two = await client.get<Pod>('pods', 'on-two', 'default');
  const forbidden = async (what: string, attempt: () => Promise<unknown>, rule: RegExp) => {
    const err = await attempt().then(() => undefined, (e: Error) => e);
    assert.instance(err, Forbidden, `${what}: ${err?.message ?? 'allowed'}`);
    assert.match(err!.message, /node "node-1"/, `${what} names the identity`);
    assert.match(err!.message, rule, `${what} names the rule`);
  };
  await forbidden("the status of node-2's pod", () => node1.updateStatus({ ...two, status: { phase: 'Failed' } }), /NodeRestriction: a node may write the status only of pods bound to it/);
  await forbidden('a taint on its own Node', () => node1.patch('nodes', 'node-1', undefined, { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }), /not its spec/);
  await forbidden('deleting a Node', () => node1.delete('nodes', 'node-2'), /a node may write only its own Node/);
  await forbidden('deleting its own Node', () => node1.delete('nodes', 'node-1'), /not its spec|only its own Node's status/);
  await forbidden('deleting a pod bound to it', () => node1.delete('pods', 'on-one', 'default'), /only finishes the deletion/);
  await forbidden('creating a pod', () => node1.create(pod('sneaky', 'node-1')), /may not create, change or delete pods/);
  await forbidden('binding RBAC', () => node1.create<KubeObject>({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'me' }, roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [] } as KubeObject), /may not create clusterrolebindings/);
  assert.is((await client.get<Pod>('pods', 'on-two', 'default')).status?.phase, 'Running', "node-2's pod untouched");
  assert.is((await client.get<Node>('nodes', 'node-1')).spec?.taints, undefined, 'no taint');
  // What a kubelet needs still works: its own labels, and reads.
  await node1.patch('nodes', 'node-1', undefined, { metadata: { labels: { 'skiff.io/test': 'yes' } } });
  assert.ok((await node1.list('pods')).items.length >= 2);
});

s('viewer cannot apply, delete, read logs or exec; each refusal a Forbidden naming the identity and the rule', async (ctx) => {
  const url = ctx.nats!.url;
  const creds = TEST_AUTH ? ctx.creds.viewer : undefined;
  const as = (args: string[], input?: string) => skiff(creds ? ['--credentials', creds, ...args] : args, { url, input, via: 'sources' });
  const manifest = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: viewer-made\n';
  const refused: [string, string[], string?][] = [
    ['apply', ['apply', '-f', '-'], manifest],
    ['delete', ['delete', 'pod', 'on-one']],
    ['logs', ['logs', 'on-one']],
    ['exec', ['exec', 'on-one', '--', 'echo', 'hi']],
  ];
  if (!TEST_AUTH) return;
  for (const [what, args, input] of refused) {
    const r = await as(args, input);
    assert.is.not(r.code, 0, `${what} exits non-zero: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /Forbidden/, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /user "viewer"/, `${what} names the identity`);
    assert.match(r.stderr, /no Role or ClusterRole bound to user "viewer"/, `${what} names the rule`);
  }
  const get = await as(['get', 'pods']);
  assert.is(get.code, 0, get.stderr);
  assert.match(get.stdout, /on-one/);
  const canI = await as(['auth', 'can-i', 'create', 'pods/exec']);
  assert.is(canI.code, 1);
  assert.match(canI.stdout, /^no /);
});

s('edit in namespace a writes there, not in namespace b', async (ctx) => {
  if (!TEST_AUTH) return;
  const alice = new ApiClient(ctx.as.alice, { timeoutMs: 5000 });
  const cm = (namespace: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace }, spec: { ports: [{ port: 80 }] } } as KubeObject);
  await alice.create(cm('a'));
  const err = await alice.create(cm('b')).then(() => undefined, (e: Error) => e);
  assert.instance(err, Forbidden, String(err));
  assert.match(err!.message, /user "alice" may not create services "svc" in namespace "b": no Role or ClusterRole bound to user "alice" in namespace "b"/, err!.message);
  // Logs and exec in a are hers, through the kubelet's check with the apiserver.
  await ctx.client!.create(pod('alices', 'node-1', 'a'));
  await waitFor('her pod running', async () => (await ctx.client!.get<Pod>('pods', 'alices', 'a')).status?.phase === 'Running', 20_000);
  const r = await skiff(['exec', 'alices', '-n', 'a', '--credentials', ctx.creds.alice, '--', 'echo', 'hi'], { url: ctx.nats!.url, via: 'sources' });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'hi');
});

s('garbage from a node or a viewer on every API and kubelet subject they may publish to: typed errors, nothing crashes, the store unchanged', async (ctx) => {
  const client = ctx.client!;
  const fixed = KINDS.filter((k) => !['Node', 'Lease', 'Event', 'Pod'].includes(k.kind));
  const snapshot = async () => {
    const parts: string[] = [];
    for (const k of fixed) for (const o of (await client.list(k.resource)).items) parts.push(`${k.kind}/${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);
    for (const p of (await client.list('pods')).items) parts.push(`Pod/${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`);
    return parts.sort();
  };
  const before = await snapshot();
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const junk = (depth = 0): unknown => {
    const r = random();
    if (depth > 2 || r < 0.3) return [null, true, -1, 1e308, 'x'.repeat(Math.floor(random() * 50)), '', 0][Math.floor(random() * 7)];
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1));
    return Object.fromEntries(['object', 'name', 'namespace', 'patch', 'options', 'metadata', 'kind', 'spec', 'review', 'status'].filter(() => random() < 0.4).map((k) => [k, junk(depth + 1)]));
  };
  const payloads = (): Uint8Array[] => [
    new Uint8Array(Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256))),
    pack(junk()),
    encode('request', junk() as Record<string, unknown>),
    encode('request', { name: 'on-one', namespace: 'default', object: { apiVersion: 'v1', kind: junk(), metadata: junk(), spec: junk() } }),
    pack({ v: 999, type: 'request' }),
  ];
  const verbs = ['get', 'list', 'create', 'update', 'status', 'patch', 'delete', 'bind', 'watch'];
  const resources = [...KINDS.map((k) => k.resource), VERSION_RESOURCE, ACCESS_REVIEW_RESOURCE, 'nonsense'];
  const knownErrors = /^(BadRequest|Unauthorized|Forbidden|NotFound|Conflict|AlreadyExists|StaleLeader|Gone|Timeout|Unavailable|Invalid)$/;
  const problems: string[] = [];
  let sent = 0;
  for (const [who, origin] of [['node-1', 'node-1'], ['viewer', 'u-viewer']]) {
    const nc = ctx.as[who] ?? client.nc;
    const jobs: Promise<void>[] = [];
    for (const resource of resources) {
      for (const verb of verbs) {
        if (verb === 'watch') continue; // a watch answers on a stream of its own (fuzzed as a request below)
        for (const data of payloads()) {
          sent++;
          const subject = apiSubject(resource, verb, origin);
          jobs.push(nc.request(subject, data, { timeout: 5000 }).then((m) => {
            const reply = decode(m.data);
            if (reply.type === 'error') {
              const name = (reply.error as { name?: string }).name ?? '';
              if (!knownErrors.test(name)) problems.push(`${who} ${subject}: error ${name}`);
            } else if (reply.type !== 'response') problems.push(`${who} ${subject}: reply of type ${reply.type}`);
          }, (err: Error) => { problems.push(`${who} ${subject}: ${err.message}`); }));
          if (jobs.length >= 32) await Promise.all(jobs.splice(0));
        }
      }
      await nc.request(apiSubject(resource, 'watch', origin), pack(junk()), { timeout: 5000 }).catch(() => {});
    }
    // A user may also send the kubelets their logs and exec requests; a node may not (NATS refuses).
    if (origin.startsWith('u-')) {
      for (const node of ['node-1', 'node-2']) {
        for (const op of ['logs', 'exec']) {
          for (const data of payloads()) {
            sent++;
            const subject = nodeSubject(node, op, origin);
            jobs.push(nc.request(subject, data, { timeout: 5000 }).then((m) => {
              const reply = decode(m.data);
              if (reply.type !== 'error' || !knownErrors.test((reply.error as { name?: string }).name ?? '')) problems.push(`${who} ${subject}: ${JSON.stringify(reply).slice(0, 120)}`);
            }, (err: Error) => { problems.push(`${who} ${subject}: ${err.message}`); }));
          }
        }
      }
    }
    await Promise.all(jobs);
  }
  assert.equal(problems.slice(0, 10), [], `every request of ${sent} answered with a typed error or an answer`);
  for (const m of ctx.masters!) assert.ok(await healthy(m.port), 'the master still runs');
  for (const n of ctx.nodes!) assert.ok(await healthy(n.port), `${n.name} still runs`);
  assert.equal(await snapshot(), before, 'the store is unchanged');
});

s('a deleted user stops working within a second, with no restart of nats-server', async () => {
  if (!TEST_AUTH) return;
  // A server run as skiff up runs it (infra/nats.ts), which reloads the authorization when it changes.
  const dir = mkdtempSync(join(tmpdir(), 'skiff-authdel-'));
  const authDir = join(dir, 'auth');
  prepareClusterAuth(authDir, { masters: ['master-1'], nodes: [] });
  ensureIdentity(authDir, 'user', 'temp');
  writeAuthorization(authDir);
  const [port, monitor, status] = await freePorts(3);
  const proc = spawnProc(process.execPath, programArgs('infra/nats', false), {
    env: { SKIFF_AUTH_DIR: authDir, SKIFF_NATS_PORT: String(port), SKIFF_NATS_MONITOR_PORT: String(monitor), SKIFF_NATS_STORE: join(dir, 'store'), PORT: String(status), SKIFF_CREDENTIALS: '' },
  });
  try {
    await waitFor('nats-server healthy', () => healthy(status), 15_000);
    const url = `nats://127.0.0.1:${port}`;
    const temp = await connectNats({ url, name: 'temp', persistent: false, credentials: credentialsPath(authDir, 'temp') });
    const seed = ensureIdentity(authDir, 'user', 'temp').seed;
    const pidBefore = proc.pid;
    const deletedAt = Date.now();
    deleteIdentity(authDir, 'temp');
    writeAuthorization(authDir);
    await Promise.race([temp.closed(), new Promise((_, fail) => setTimeout(() => fail(new Error('still connected 3 s after its deletion')), 3000))]);
    const cutMs = Date.now() - deletedAt;
    console.log(`  a deleted user's connection closed after ${cutMs} ms`);
    assert.ok(cutMs < 1500, `closed within about a second (${cutMs} ms)`);
    // Its key no longer opens a connection; the server is the same process.
    const again = await connect({ servers: url, reconnect: false, authenticator: (await import('nats')).nkeyAuthenticator(new TextEncoder().encode(seed)) }).then((nc) => nc.close().then(() => 'connected'), () => 'refused');
    assert.is(again, 'refused');
    assert.is(proc.pid, pidBefore);
    assert.ok(await healthy(status), 'nats-server still runs');
  } finally {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

s('a valid identity is not refused while nats-server reloads its authorization', async (ctx) => {
  if (!TEST_AUTH) return;
  // nats-server 2.9 refuses, or leaves unanswered until its 2 s authentication timeout, a handshake
  // with a valid key that a reload catches half done (NATS_HANDSHAKE_ATTEMPTS): a refusal once
  // failed this file's setup. A burst of reloads, connections from four clients meanwhile; a
  // handshake tried again lands after the burst, as it would after the one reload of a skiff auth.
  const reloads = 8;
  let stop = false;
  const reloading = (async () => {
    for (let i = 0; i < reloads; i++) {
      ctx.nats!.proc.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
  })();
  const refused: string[] = [];
  const other: string[] = [];
  let connected = 0;
  const client = async () => {
    while (!stop) {
      await connectNats({ url: ctx.nats!.url, name: 'during a reload', persistent: false, credentials: ctx.creds.viewer })
        .then((nc) => { connected++; return nc.close(); }, (err: Error) => { (err instanceof Unauthorized ? refused : other).push(err.message); });
    }
  };
  await Promise.all([reloading, client(), client(), client(), client()]);
  console.log(`  ${connected} connections during ${reloads} reloads, ${refused.length} refused, ${other.length} failed otherwise${other.length ? `: ${other[0]}` : ''}`);
  assert.ok(connected >= 4, `connections were made (${connected})`);
  assert.equal(refused, [], 'none refused');
  assert.equal(other, [], 'none failed otherwise');
});

s.run();
