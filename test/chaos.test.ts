// Node failures end to end, on 2 masters and 5 nodes with 20 replicas behind a service: a killed
// node is declared dead by every member and its pods run elsewhere; a node paused for a second
// refutes and keeps its pods; a machine whose cores are both busy loses no node. The figures over
// many kills, and the two-minute load, are bench/chaos.ts's; this pins the behaviour.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApiClient } from '../actors/client/client.ts';
import type { Deployment, Event, Node, Pod, Service } from '../protocol/types.ts';
import { freePort, metricSum, recordGossipChanges, setup, spawnProc, startCluster, startNode, stopCluster, waitFor, type Cluster, type Proc, type SeenChange } from './harness.ts';

const NODES = 5;
const REPLICAS = 20;
const SERVER = `require('http').createServer((q, s) => s.end(process.env.HOSTNAME)).listen(process.env.PORT)`;


interface Ctx extends Cluster {
  changes: SeenChange[];
  stopRecording: () => void;
}

const s = suite<Ctx>('chaos');

const running = (pods: Pod[]) => pods.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
const pods = async (c: ApiClient) => (await c.list<Pod>('pods', { labelSelector: 'app=chaos' })).items;
const deathsOf = (ctx: Ctx, name: string, since: number) => ctx.changes.filter((c) => c.member === name && c.state === 'dead' && c.at >= since);

s.before(setup(async (ctx) => {
  await startCluster(ctx, {
    masters: ['chaos-master-1', 'chaos-master-2'],
    nodes: Array.from({ length: NODES }, (_, i) => ({ name: `chaos-node-${i + 1}`, env: { SKIFF_NODE_ADDRESS: `127.0.1.${31 + i}` } })),
  });
  ({ changes: ctx.changes, stop: ctx.stopRecording } = recordGossipChanges(ctx.client.nc));
  const port = await freePort();
  await ctx.client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'chaos' }, spec: { selector: { app: 'chaos' }, ports: [{ port, targetPort: 'http' }] } });
  await ctx.client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'chaos' },
    spec: {
      replicas: REPLICAS, selector: { matchLabels: { app: 'chaos' } },
      template: { metadata: { labels: { app: 'chaos' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', command: ['node', '-e', SERVER], ports: [{ name: 'http', containerPort: 8080 }] }] } },
    },
  });
  await waitFor(`${REPLICAS} Running`, async () => running(await pods(ctx.client)).length === REPLICAS, 60_000);
}));

// Whatever `before` got to, so that a failure there is reported rather than this hook's.
s.after(async (ctx) => {
  ctx.stopRecording?.();
  if (ctx.client) {
    await ctx.client.delete('deployments', 'chaos', 'default').catch(() => {});
    await waitFor('pods gone', async () => (await pods(ctx.client)).length === 0, 20_000).catch(() => {});
  }
  await stopCluster(ctx);
});

s('SIGKILL a node: every member declares it dead, its pods run elsewhere, kube-proxy skips it first', async (ctx) => {
  const victim = ctx.nodes[2];
  const before = await pods(ctx.client);
  const onVictim = before.filter((p) => p.spec.nodeName === victim.name).map((p) => p.metadata.uid);
  assert.ok(onVictim.length > 0, 'the victim runs some of the replicas');
  const at = Date.now();
  victim.proc.kill('SIGKILL');
  await waitFor('6 members declare it dead', () => new Set(deathsOf(ctx, victim.name, at).map((c) => c.observer)).size === NODES + 1, 10_000);
  await waitFor(`${REPLICAS} Running elsewhere`, async () => {
    const now = running(await pods(ctx.client));
    return now.length === REPLICAS && now.every((p) => p.spec.nodeName !== victim.name);
  }, 15_000);
  const after = await pods(ctx.client);
  assert.ok(onVictim.every((uid) => !after.some((p) => p.metadata.uid === uid)), 'the victim\'s pods were evicted');
  const node = await ctx.client.get<Node>('nodes', victim.name);
  assert.match(node.status!.conditions!.find((c) => c.type === 'Ready')!.message!, /Gossip declared the node dead/);
  let skipped = 0;
  for (const n of ctx.nodes.filter((x) => x !== victim)) skipped += metricSum(await n.metrics(), 'skiff_proxy_dead_endpoints_skipped_total');
  assert.ok(skipped > 0, 'some kube-proxy left the dead node\'s endpoints out before the Endpoints object changed');
  // The node comes back on its data directory: it re-adopts its containers, kills the evicted
  // ones, and refutes its death with a higher incarnation.
  ctx.nodes[2] = await startNode(ctx.nats.url, victim.name, { dataDir: victim.dataDir, env: { SKIFF_NODE_ADDRESS: '127.0.1.33' } });
  await waitFor('it is alive again everywhere', () => ctx.changes.some((c) => c.member === victim.name && c.state === 'alive' && c.at > at), 10_000);
});

s('SIGSTOP a node for 1 s: at most suspected, never dead, no pod evicted', async (ctx) => {
  const victim = ctx.nodes[1];
  const mine = (await pods(ctx.client)).filter((p) => p.spec.nodeName === victim.name).map((p) => p.metadata.uid).sort();
  const at = Date.now();
  victim.proc.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 1000));
  victim.proc.kill('SIGCONT');
  await new Promise((r) => setTimeout(r, 6000));
  assert.equal(deathsOf(ctx, victim.name, at), []);
  const now = (await pods(ctx.client)).filter((p) => p.spec.nodeName === victim.name).map((p) => p.metadata.uid).sort();
  assert.equal(now, mine, 'the same pods, none evicted');
  const evictions = (await ctx.client.list<Event>('events')).items.filter((e) => e.reason === 'TaintManagerEviction' && Date.parse(e.lastTimestamp ?? e.metadata.creationTimestamp ?? '') >= at);
  assert.equal(evictions.map((e) => e.message), []);
});

s('both cores busy for 20 s: no member declared dead, no pod evicted', async (ctx) => {
  const before = (await pods(ctx.client)).map((p) => p.metadata.uid).sort();
  const at = Date.now();
  const burners: Proc[] = [0, 1].map(() => spawnProc('/bin/sh', ['-c', 'while :; do :; done']));
  try {
    await new Promise((r) => setTimeout(r, 20_000));
  } finally {
    for (const b of burners) await b.stop(1000);
  }
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(ctx.changes.filter((c) => c.state === 'dead' && c.at >= at), []);
  assert.equal((await pods(ctx.client)).map((p) => p.metadata.uid).sort(), before);
});

s.run();
