// The cloud controller manager end to end, with the local provider: a cluster of masters and no
// static node, whose nodes all come from NodePools. A pool grows by exactly the nodes its pending
// pods need and shrinks back once they are gone; an instance killed behind the provider's back
// takes its Node with it and its pods run elsewhere; a LoadBalancer service answers at an address
// of its own, over every node, until it is deleted; a cloud controller manager killed during a
// scale-up leaves the next leader nothing lost and nothing made twice.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ApiClient } from '../actors/client/client.ts';
import { LOAD_BALANCER_FINALIZER, NODE_POOL_LABEL } from '../actors/cloud/provider.ts';
import type { Deployment, Event, Lease, Node, NodePool, Pod, Service } from '../protocol/types.ts';
import { freePort, metricSum, setup, startMaster, startNats, tempDir, waitFor, type Master, type Nats } from './harness.ts';
import { ApiClient as Client } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { METRICS_ADDRESS_ANNOTATION } from '../protocol/defaults.ts';

interface Ctx {
  nats: Nats;
  masters: Master[];
  client: ApiClient;
  cloudDir: string;
}

const s = suite<Ctx>('cloud');

s.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.cloudDir = tempDir('skiff-cloud-');
  ctx.masters = [];
  // Two masters on one cloud directory, as `skiff up -m master=2` runs them: either may lead.
  for (const name of ['cloud-master-1', 'cloud-master-2']) {
    ctx.masters.push(await startMaster(ctx.nats.url, { SKIFF_NODE_NAME: name, SKIFF_CLOUD_DIR: ctx.cloudDir, SKIFF_NODE_SHUTDOWN_GRACE_MS: '2000' }));
  }
  ctx.client = new Client(await connectNats({ url: ctx.nats.url, name: 'test', persistent: true }), { timeoutMs: 5000 });
}));

s.after(async (ctx) => {
  await ctx.client?.nc.close();
  for (const m of ctx.masters ?? []) await m.stop();
  await ctx.nats?.stop();
  // The provider's nodes stop once this process is gone; stop them now rather than leave them a second.
  for (const r of records(ctx)) if (r.pid) try { process.kill(-r.pid, 'SIGTERM'); } catch { /* gone */ }
});

/** The provider's instance records (its own bookkeeping, in the cloud directory). */
function records(ctx: Ctx): { name: string; pool: string; pid?: number }[] {
  const dir = join(ctx.cloudDir, 'instances');
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  } catch {
    return [];
  }
}

function pool(name: string, o: { min?: number; max: number; cpu?: string; after?: string }): NodePool {
  return {
    apiVersion: 'skiff.io/v1', kind: 'NodePool', metadata: { name },
    spec: { minNodes: o.min ?? 0, maxNodes: o.max, consolidateAfter: o.after ?? '3s', template: { labels: { pool: name }, capacity: { cpu: o.cpu ?? '1', memory: '1Gi' } } },
  };
}

function deployment(name: string, replicas: number, cpu: string, poolName: string, command = ['sleep', '600'], ports?: { name: string; containerPort: number }[]): Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: {
        nodeSelector: { pool: poolName }, terminationGracePeriodSeconds: 1,
        containers: [{ name: 'c', command, resources: { requests: { cpu, memory: '64Mi' } }, ...(ports ? { ports } : {}) }],
      } },
    },
  };
}

const poolNodes = async (client: ApiClient, name: string) => (await client.list<Node>('nodes', { labelSelector: `${NODE_POOL_LABEL}=${name}` })).items;
const running = async (client: ApiClient, app: string) => (await client.list<Pod>('pods', { labelSelector: `app=${app}` })).items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
const ready = (n: Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

s('a pool of min 0, max 3: a Deployment that needs two nodes\' worth of CPU makes exactly two, every pod runs; deleted, the pool is back to 0 after consolidateAfter', async (ctx) => {
  const { client } = ctx;
  await client.create(pool('grow', { max: 3 }));
  // Four pods of 400m: two fit on a 1-CPU node.
  await client.create(deployment('grow', 4, '400m', 'grow'));
  try {
    await grows(ctx);
  } finally {
    await client.delete('deployments', 'grow', 'default').catch(() => {});
  }
  await waitFor('the pool back to 0', async () => (await poolNodes(client, 'grow')).length === 0 && records(ctx).every((r) => r.pool !== 'grow'), 40_000, 200);
  const p = await client.get<NodePool>('nodepools', 'grow');
  await waitFor('its status at 0', async () => (await client.get<NodePool>('nodepools', 'grow')).status?.nodes === 0, 5000, 200);
  assert.ok(p.status?.lastScaleTime);
  await client.delete('nodepools', 'grow');
});

async function grows(ctx: Ctx): Promise<void> {
  const { client } = ctx;
  await waitFor('4 pods running', async () => (await running(client, 'grow')).length === 4, 60_000, 200);
  const nodes = await poolNodes(client, 'grow');
  assert.is(nodes.length, 2, nodes.map((n) => n.metadata.name).join(', '));
  assert.is(records(ctx).filter((r) => r.pool === 'grow').length, 2, 'two instances');
  for (const n of nodes) {
    assert.match(n.spec.providerID ?? '', /^skiff-local:\/\/grow-/);
    assert.ok(n.metadata.labels?.['topology.kubernetes.io/zone'], 'a zone');
    assert.ok(n.metadata.labels?.['node.kubernetes.io/instance-type'], 'an instance type');
    assert.not.ok(n.spec.taints?.some((t) => t.key === 'node.cloudprovider.kubernetes.io/uninitialized'), 'initialized');
  }
  assert.is.not(nodes[0].metadata.labels?.['topology.kubernetes.io/zone'], nodes[1].metadata.labels?.['topology.kubernetes.io/zone'], 'zones round robin');
  const events = (await client.list<Event>('events', { namespace: 'default' })).items.filter((e) => e.involvedObject.name === 'grow' && e.reason === 'ScaledUp');
  assert.ok(events.length >= 1, 'a ScaledUp event');
}

s('an instance killed behind the provider\'s back (kill -9): its Node is deleted, not left NotReady, and its pods run elsewhere', async (ctx) => {
  const { client } = ctx;
  await client.create(pool('kill', { max: 3 }));
  // One pod of 600m a node: two nodes.
  await client.create(deployment('kill', 2, '600m', 'kill'));
  try {
    await killsOne(ctx);
  } finally {
    await client.delete('deployments', 'kill', 'default').catch(() => {});
    await client.delete('nodepools', 'kill').catch(() => {});
  }
  await waitFor('the pool\'s instances gone with it', async () => records(ctx).every((r) => r.pool !== 'kill'), 30_000, 200);
});

async function killsOne(ctx: Ctx): Promise<void> {
  const { client } = ctx;
  await waitFor('2 pods running', async () => (await running(client, 'kill')).length === 2, 60_000, 200);
  const victim = (await running(client, 'kill'))[0];
  const node = victim.spec.nodeName!;
  const rec = records(ctx).find((r) => r.name === node)!;
  assert.ok(rec?.pid, `a record with a pid for ${node}`);
  process.kill(rec.pid!, 'SIGKILL');
  const killedAt = Date.now();
  await waitFor(`node ${node} deleted`, async () => !(await poolNodes(client, 'kill')).some((n) => n.metadata.name === node), 20_000, 100);
  console.log(`  node deleted ${Date.now() - killedAt} ms after its process was killed`);
  await waitFor('2 pods running again, none on the dead node', async () => {
    const pods = await running(client, 'kill');
    return pods.length === 2 && pods.every((p) => p.spec.nodeName !== node);
  }, 60_000, 200).catch(async (err) => {
    const pods = (await client.list<Pod>('pods', { labelSelector: 'app=kill' })).items.map((p) => `${p.metadata.name} ${p.status?.phase} on ${p.spec.nodeName ?? '-'} ${JSON.stringify(p.status?.conditions?.find((c) => c.type === 'PodScheduled'))}${p.metadata.deletionTimestamp ? ' deleting' : ''}`);
    const nodes = (await poolNodes(client, 'kill')).map((n) => `${n.metadata.name} ready=${ready(n)} taints=${JSON.stringify(n.spec.taints ?? [])}`);
    const events = (await client.list<Event>('events', { namespace: 'default' })).items.filter((e) => e.involvedObject.name === 'kill' || e.involvedObject.name?.startsWith('kill-')).map((e) => `${e.reason}: ${e.message}`);
    throw new Error(`${(err as Error).message}\npods: ${pods.join('\n  ')}\nnodes: ${nodes.join('; ')}\nrecords: ${records(ctx).filter((r) => r.pool === 'kill').map((r) => `${r.name} pid ${r.pid}`).join(', ')}\nevents: ${events.slice(-12).join('\n  ')}`);
  });
  console.log(`  both pods running again ${Date.now() - killedAt} ms after the kill`);
}

s('an instance shut down (its node process stopped with SIGSTOP): its NotReady node is tainted shutdown, and the taint goes when it runs again', async (ctx) => {
  const { client } = ctx;
  await client.create(pool('pause', { min: 1, max: 1 }));
  const node = await waitFor('the pool\'s node ready', async () => (await poolNodes(client, 'pause')).find((n) => ready(n) && n.spec.providerID), 30_000, 200);
  const rec = records(ctx).find((r) => r.name === node.metadata.name)!;
  const shutdownTaint = (n: Node | undefined) => n?.spec.taints?.some((t) => t.key === 'node.cloudprovider.kubernetes.io/shutdown') ?? false;
  const current = () => client.get<Node>('nodes', node.metadata.name!).catch(() => undefined);
  process.kill(rec.pid!, 'SIGSTOP');
  try {
    await waitFor('the shutdown taint', async () => shutdownTaint(await current()), 30_000, 200);
  } finally {
    process.kill(rec.pid!, 'SIGCONT');
  }
  await waitFor('the taint lifted once it runs again', async () => {
    const n = await current();
    return n && ready(n) && !shutdownTaint(n);
  }, 30_000, 200);
  assert.ok(records(ctx).some((r) => r.name === node.metadata.name), 'the instance was kept: shut down is not gone');
  await client.delete('nodepools', 'pause');
  await waitFor('the pause pool\'s instance gone', async () => records(ctx).every((r) => r.pool !== 'pause'), 30_000, 200);
});

s('a LoadBalancer service: its ingress address answers on the service\'s port, connections spread over the nodes, and deleting it closes the address', async (ctx) => {
  const { client } = ctx;
  await client.create(pool('lb', { min: 2, max: 2 }));
  const server = `require('http').createServer((q, s) => { s.setHeader('connection', 'close'); s.end(process.env.HOSTNAME); }).listen(process.env.PORT)`;
  await client.create(deployment('lb', 2, '100m', 'lb', ['node', '-e', server], [{ name: 'http', containerPort: 8080 }]));
  const port = await freePort();
  await client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', selector: { app: 'lb' }, ports: [{ port, targetPort: 'http' }] } });
  const svc = await waitFor('an ingress address', async () => {
    const x = await client.get<Service>('services', 'lb', 'default');
    return x.status?.loadBalancer?.ingress?.[0]?.ip ? x : undefined;
  }, 60_000, 200);
  assert.ok(svc.metadata.finalizers?.includes(LOAD_BALANCER_FINALIZER));
  const ip = svc.status!.loadBalancer!.ingress![0].ip!;
  assert.match(ip, /^127\.0\.2\.\d+$/);
  await waitFor('2 pods running on 2 nodes', async () => (await running(client, 'lb')).length === 2 && (await poolNodes(client, 'lb')).filter(ready).length === 2, 60_000, 200);
  const get = () => fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text());
  await waitFor('the balancer answers', () => get().then(() => true, () => false), 20_000, 200);
  const answers = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const who = await get();
    answers.set(who, (answers.get(who) ?? 0) + 1);
  }
  assert.is(answers.size, 2, `both pods answered: ${JSON.stringify([...answers])}`);
  // Each node's kube-proxy took connections on its node port: the balancer spread over both.
  const nodes = await poolNodes(client, 'lb');
  for (const n of nodes) {
    const address = n.metadata.annotations?.[METRICS_ADDRESS_ANNOTATION];
    const text = await fetch(`http://${address}/metrics`).then((r) => r.text());
    assert.ok(metricSum(text, 'skiff_proxy_connections_total', { service: 'default/lb' }) > 0, `node ${n.metadata.name} got connections from the balancer`);
  }
  await client.delete('services', 'lb', 'default');
  await waitFor('the service gone', () => client.get('services', 'lb', 'default').then(() => false, () => true), 20_000, 200);
  const refused = await new Promise<boolean>((resolve) => {
    const sock = connect({ host: ip, port });
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(true));
  });
  assert.ok(refused, 'the address no longer answers');
  await client.delete('deployments', 'lb', 'default');
  await client.delete('nodepools', 'lb');
  await waitFor('the lb pool\'s instances gone', async () => records(ctx).every((r) => r.pool !== 'lb'), 30_000, 200);
});

s('the cloud controller manager killed during a scale-up: the next leader loses no instance and makes none twice', async (ctx) => {
  const { client } = ctx;
  const leaderName = async () => (await client.get<Lease>('leases', 'skiff-cloud-controller-manager', 'kube-system')).spec.holderIdentity;
  await client.create(pool('restart', { max: 4 }));
  await client.create(deployment('restart', 3, '600m', 'restart'));
  // The moment the first instance is recorded, the leader is killed.
  await waitFor('a first instance recorded', () => records(ctx).some((r) => r.pool === 'restart'), 30_000, 20);
  const leader = await leaderName();
  const victim = ctx.masters.find((m) => m.name === leader)!;
  assert.ok(victim, `the leader ${leader} is one of the test's masters`);
  victim.proc.child.kill('SIGKILL');
  await waitFor('3 pods running', async () => (await running(client, 'restart')).length === 3, 90_000, 200);
  // Settled: three pods of 600m need three nodes, no more.
  await new Promise((r) => setTimeout(r, 3000));
  const mine = records(ctx).filter((r) => r.pool === 'restart');
  assert.is(mine.length, 3, `instances: ${mine.map((r) => r.name).join(', ')}`);
  assert.is((await poolNodes(client, 'restart')).length, 3);
  assert.is.not(await leaderName(), leader, 'another master leads');
});

s.run();
