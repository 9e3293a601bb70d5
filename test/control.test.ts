// The control loop end to end: two real masters (apiserver, scheduler, controllers, leader
// election) and three real nodes.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApiClient } from '../actors/client/client.ts';
import { podReady } from '../protocol/pods.ts';
import type { Deployment, Event, Lease, Node, Pod } from '../protocol/types.ts';
import { metricSum, setup, withLogsOnFailure, skiff, startCluster, startNode, stopCluster, waitFor, type Cluster, type Master } from './harness.ts';

type Ctx = Cluster;

const cluster = (ctx: Ctx) => startCluster(ctx, { masters: ['master-a', 'master-b'], nodes: ['node-1', 'node-2', 'node-3'].map((name) => ({ name })) });

function deployment(name: string, replicas: number, extra: Partial<Deployment['spec']> = {}, env: Record<string, string> = {}): Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{
            name: 'c', command: ['sh', '-c', 'exec sleep 1000'],
            env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
            readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 },
          }],
        },
      },
      ...extra,
    },
  };
}

const podsOf = async (client: ApiClient, app: string) => (await client.list<Pod>('pods', { labelSelector: `app=${app}` })).items;
const readyPods = async (client: ApiClient, app: string) => (await podsOf(client, app)).filter((p) => podReady(p) && !p.metadata.deletionTimestamp);

async function rolledOut(client: ApiClient, name: string, replicas: number): Promise<boolean> {
  const d = await client.get<Deployment>('deployments', name, 'default');
  const s = d.status;
  return !!s && s.observedGeneration === d.metadata.generation && s.updatedReplicas === replicas && s.availableReplicas === replicas && s.replicas === replicas;
}

const c = suite<Ctx>('control loop');
const test = (name: string, body: (ctx: Ctx) => Promise<void>) => c(name, withLogsOnFailure((ctx) => [...ctx.masters, ...ctx.nodes], body));
c.before(setup(cluster));
c.after(stopCluster);

test('6 replicas spread 2/2/2 over 3 nodes', async ({ client }) => {
  await client.create(deployment('spread', 6));
  await waitFor('6 ready', async () => (await readyPods(client, 'spread')).length === 6, 20_000);
  const perNode = new Map<string, number>();
  for (const p of await podsOf(client, 'spread')) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
  assert.equal([...perNode.values()].sort(), [2, 2, 2], JSON.stringify([...perNode]));
  const d = await client.get<Deployment>('deployments', 'spread', 'default');
  await waitFor('deployment status', () => rolledOut(client, 'spread', 6));
  assert.ok(d.status);
  await client.delete('deployments', 'spread', 'default');
});

test('a rolling update never drops below replicas - maxUnavailable ready; rollout undo returns to the previous template', async ({ client, nats }) => {
  const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } };
  await client.create(deployment('roll', 4, { strategy }, { VERSION: 'one' }));
  await waitFor('rolled out', () => rolledOut(client, 'roll', 4), 20_000);
  let minReady = Infinity;
  let maxTotal = 0;
  let sampling = true;
  let samples = 0;
  /** Samples taken mid-rollout: pods of both templates live at once. */
  let midway = 0;
  const versionOf = (p: Pod) => p.spec.containers[0].env?.[0]?.value;
  // Errors are caught here: a rejection not awaited until the rollout ends would end the process.
  const sampler = (async () => {
    while (sampling) {
      const pods = await podsOf(client, 'roll').catch(() => undefined);
      if (pods) {
        const live = pods.filter((p) => !p.metadata.deletionTimestamp);
        minReady = Math.min(minReady, live.filter(podReady).length);
        maxTotal = Math.max(maxTotal, live.length);
        samples++;
        if (new Set(live.map(versionOf)).size > 1) midway++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const r = await skiff(['apply', '-f', '-'], { url: nats.url, input: JSON.stringify(deployment('roll', 4, { strategy }, { VERSION: 'two' })) });
  assert.is(r.code, 0, r.stderr);
  const status = await skiff(['rollout', 'status', 'deployment/roll', '--timeout', '60s'], { url: nats.url, timeoutMs: 70_000 });
  sampling = false;
  await sampler;
  assert.is(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /deployment "roll" successfully rolled out/);
  console.log(`  rollout sampled ${samples} times, ${midway} of them mid-rollout; fewest ready ${minReady}, most pods ${maxTotal}`);
  // The sampler must have seen the rollout under way; how many samples that takes depends on the machine.
  assert.ok(midway >= 2, `the pods were sampled through the rollout: ${samples} samples, ${midway} of them mid-rollout`);
  assert.ok(minReady >= 3, `ready never fell below 4 - 1: lowest was ${minReady}`);
  assert.ok(maxTotal <= 5 + 1, `pods stayed near 4 + 1 surge (terminating ones aside): most was ${maxTotal}`);
  const envOf = async () => (await client.get<Deployment>('deployments', 'roll', 'default')).spec.template.spec.containers[0].env?.[0]?.value;
  assert.is(await envOf(), 'two');
  const history = await skiff(['rollout', 'history', 'deployment/roll'], { url: nats.url });
  assert.match(history.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+.*\n2\s+/);
  const undo = await skiff(['rollout', 'undo', 'deployment/roll'], { url: nats.url });
  assert.is(undo.code, 0, undo.stderr);
  assert.is(await envOf(), 'one');
  await waitFor('rolled back', async () => (await rolledOut(client, 'roll', 4)) && (await readyPods(client, 'roll')).every((p) => p.spec.containers[0].env?.[0]?.value === 'one'), 30_000);
  await client.delete('deployments', 'roll', 'default');
});

test('an unschedulable pod says why, with an Event, and is scheduled once room appears', async ({ client, nats }) => {
  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'picky' }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', command: ['sleep', '1000'] }] } };
  await client.create(pod);
  const pending = await waitFor('PodScheduled=False', async () => {
    const p = await client.get<Pod>('pods', 'picky', 'default');
    return p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
  }, 10_000);
  assert.is(pending.message, "0/3 nodes are available: 3 node(s) didn't match node selector");
  assert.is(pending.reason, 'Unschedulable');
  const events = await waitFor('a FailedScheduling event', async () => (await client.list<Event>('events', { fieldSelector: 'involvedObject.name=picky' })).items.find((e) => e.reason === 'FailedScheduling'));
  assert.is(events.type, 'Warning');
  await client.patch('nodes', 'node-2', undefined, { metadata: { labels: { disk: 'ssd' } } });
  const placed = await waitFor('scheduled on node-2', async () => (await client.get<Pod>('pods', 'picky', 'default')).spec.nodeName, 15_000);
  assert.is(placed, 'node-2');
  const cordon = await skiff(['cordon', 'node-2'], { url: nats.url });
  assert.match(cordon.stdout, /node\/node-2 cordoned/);
  const table = await skiff(['get', 'nodes'], { url: nats.url });
  assert.match(table.stdout, /node-2\s+Ready,SchedulingDisabled/);
  await client.delete('pods', 'picky', 'default', { gracePeriodSeconds: 0 });
  await client.create({ ...pod, metadata: { name: 'picky2' } });
  const msg = await waitFor('unschedulable on a cordoned node', async () => (await client.get<Pod>('pods', 'picky2', 'default')).status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False')?.message, 10_000);
  assert.match(msg, /0\/3 nodes are available: .*1 node\(s\) were unschedulable/);
  await skiff(['uncordon', 'node-2'], { url: nats.url });
  await waitFor('scheduled after uncordon', async () => (await client.get<Pod>('pods', 'picky2', 'default')).spec.nodeName === 'node-2', 15_000);
  await client.delete('pods', 'picky2', 'default', { gracePeriodSeconds: 0 });
});

test('scale and drain go through the controllers', async ({ client, nats }) => {
  await client.create(deployment('web', 3));
  await waitFor('3 ready', async () => (await readyPods(client, 'web')).length === 3, 20_000);
  const scaled = await skiff(['scale', 'deployment/web', '--replicas', '5'], { url: nats.url });
  assert.match(scaled.stdout, /deployment.apps\/web scaled/);
  await waitFor('5 ready', async () => (await readyPods(client, 'web')).length === 5, 20_000);
  const drained = await skiff(['drain', 'node-3', '--timeout', '60s'], { url: nats.url, timeoutMs: 70_000 });
  assert.is(drained.code, 0, drained.stdout + drained.stderr);
  assert.match(drained.stdout, /node\/node-3 drained/);
  await waitFor('5 ready, none on node-3', async () => {
    const ready = await readyPods(client, 'web');
    return ready.length === 5 && ready.every((p) => p.spec.nodeName !== 'node-3');
  }, 30_000);
  assert.ok((await client.get<Node>('nodes', 'node-3')).spec.unschedulable);
  await skiff(['uncordon', 'node-3'], { url: nats.url });
  await client.delete('deployments', 'web', 'default');
});

test('kill -9 a node: its pods run elsewhere', async (ctx) => {
  const { client } = ctx;
  await client.create(deployment('survivor', 3));
  await waitFor('3 ready', async () => (await readyPods(client, 'survivor')).length === 3, 20_000);
  const victim = ctx.nodes[0];
  const lost = (await podsOf(client, 'survivor')).filter((p) => p.spec.nodeName === victim.name).length;
  const t0 = Date.now();
  victim.proc.kill('SIGKILL');
  await victim.proc.exited;
  await waitFor('3 ready on the other nodes', async () => {
    const ready = await readyPods(client, 'survivor');
    return ready.length === 3 && ready.every((p) => p.spec.nodeName !== victim.name);
  }, 30_000, 100);
  const took = Date.now() - t0;
  console.log(`    node killed with ${lost} pod(s): all 3 replicas ready elsewhere after ${took} ms`);
  const node = await client.get<Node>('nodes', victim.name);
  assert.is(node.status!.conditions!.find((x) => x.type === 'Ready')!.status, 'Unknown');
  assert.ok(node.spec.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'));
  // It comes back: nothing it ran is left running twice, and it is Ready again.
  ctx.nodes[0] = await startNode(ctx.nats.url, victim.name, { dataDir: victim.dataDir });
  await waitFor('node back to Ready', async () => (await client.get<Node>('nodes', victim.name)).status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True', 15_000);
  await new Promise((r) => setTimeout(r, 2000));
  assert.is((await podsOf(client, 'survivor')).length, 3, 'no replica runs twice');
  await client.delete('deployments', 'survivor', 'default');
});

c.run();

const leaders = suite<Ctx>('leader election');
leaders.before(setup(cluster));
leaders.after(stopCluster);

async function holder(client: ApiClient, lease: string): Promise<Lease> {
  return client.get<Lease>('leases', lease, 'kube-system');
}

async function fencedAccepted(masters: Master[], who: string): Promise<number> {
  let sum = 0;
  for (const m of masters) {
    try {
      sum += metricSum(await m.metrics(), 'skiff_apiserver_fenced_writes_total', { holder: who, result: 'accepted' });
    } catch {
      /* a paused or dead master */
    }
  }
  return sum;
}

leaders('SIGSTOP the leader past its lease: another takes over, and the old one writes nothing when it resumes', async (ctx) => {
  const { client, masters } = ctx;
  const first = await waitFor('a controller-manager leader', async () => (await holder(client, 'skiff-controller-manager')).spec.holderIdentity);
  const old = masters.find((m) => m.name === first)!;
  const other = masters.find((m) => m !== old)!;
  old.proc.kill('SIGSTOP');
  try {
    await waitFor('the other master to take over both leases', async () =>
      (await holder(client, 'skiff-controller-manager')).spec.holderIdentity === other.name && (await holder(client, 'skiff-scheduler')).spec.holderIdentity === other.name, 30_000, 200);
    const acceptedAtTakeover = await fencedAccepted([other], old.name);
    await client.create(deployment('while-paused', 3));
    await waitFor('3 ready under the new leader', async () => (await readyPods(client, 'while-paused')).length === 3, 30_000).catch(async (err: Error) => {
      // Seen once in about eleven runs; say what the cluster had got to, for whoever looks next.
      const pods = await podsOf(client, 'while-paused').catch(() => []);
      const rs = await client.list('replicasets').catch(() => ({ items: [] }));
      const state = pods.map((p) => `${p.metadata.name} node=${p.spec.nodeName ?? '-'} phase=${p.status?.phase ?? '-'} ready=${podReady(p)}`);
      throw new Error(`${err.message}\n    pods: ${state.join('; ') || 'none'}\n    replicasets: ${rs.items.map((r) => r.metadata.name).join(', ') || 'none'}\n    old leader ${old.name}, new ${other.name}`);
    });
    old.proc.kill('SIGCONT');
    await waitFor('the old leader to step down', async () => metricSum(await old.metrics(), 'skiff_leader_is_leader') === 0, 15_000, 200);
    await new Promise((r) => setTimeout(r, 3000));
    assert.is((await holder(client, 'skiff-controller-manager')).spec.holderIdentity, other.name);
    assert.is((await holder(client, 'skiff-scheduler')).spec.holderIdentity, other.name);
    const acceptedAfter = await fencedAccepted([other], old.name);
    assert.is(acceptedAfter, acceptedAtTakeover, 'no write of the deposed leader landed');
    const stale = metricSum(await other.metrics(), 'skiff_apiserver_fenced_writes_total', { holder: old.name, result: 'stale' })
      + metricSum(await old.metrics(), 'skiff_apiserver_fenced_writes_total', { holder: old.name, result: 'stale' });
    console.log(`    the deposed leader's writes refused as stale: ${stale}`);
    assert.is((await podsOf(client, 'while-paused')).length, 3, 'the final state is what the new leader made');
  } catch (err) {
    const logs = join(tmpdir(), `skiff-sigstop-${Date.now()}.log`);
    writeFileSync(logs, [...masters, ...ctx.nodes].map((p) => `===== ${p.name}\n${p.proc.output()}`).join('\n'));
    (err as Error).message += `\n    every process's output: ${logs}`;
    throw err;
  } finally {
    old.proc.kill('SIGCONT');
  }
});

leaders('SIGKILL the leader: another takes over within lease duration + 1 s', async (ctx) => {
  const { client, masters } = ctx;
  const lead = (await holder(client, 'skiff-scheduler')).spec.holderIdentity;
  const victim = masters.find((m) => m.name === lead)!;
  const t0 = Date.now();
  victim.proc.kill('SIGKILL');
  await victim.proc.exited;
  await waitFor('a new holder of both leases', async () =>
    (await holder(client, 'skiff-scheduler')).spec.holderIdentity !== lead && (await holder(client, 'skiff-controller-manager')).spec.holderIdentity !== lead, 10_000, 50);
  const took = Date.now() - t0;
  console.log(`    failover after SIGKILL: ${took} ms`);
  assert.ok(took <= 3000 + 1000, `within lease duration + 1 s: ${took} ms`);
  ctx.masters = masters.filter((m) => m !== victim);
  await client.create(deployment('after-failover', 2));
  await waitFor('the new leader runs it', async () => (await readyPods(client, 'after-failover')).length === 2, 20_000);
});

leaders.run();
