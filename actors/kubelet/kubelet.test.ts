// The kubelet against a real apiserver, on the fake runtime: what decides when its pods start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { apiserverForTests, waitFor } from '../../test/harness.ts';
import { Informer } from '../client/informer.ts';
import { silentLogger } from '../platform/log.ts';
import { loadConfig } from '../../protocol/config.ts';
import type { Pod, Service } from '../../protocol/types.ts';
import { createActor, toPromise } from 'xstate';
import { FakeRuntime, passingProber } from './fake-runtime.ts';
import { Kubelet, kubeletConfig, kubeletMachine, WATCHDOG_MODES } from './index.ts';

const cluster = apiserverForTests(test);

/** A kubelet for `node` on the fake runtime (no disk), with a services informer not yet started. */
function fakeKubelet(node: string) {
  const { client } = cluster.api;
  const cfg = loadConfig({}, { natsUrl: cluster.nats.url });
  const kcfg = { ...kubeletConfig(node, cfg, WATCHDOG_MODES, { SKIFF_NODE_ADDRESS: '127.0.1.9' }), noDisk: true, dataDir: '/nonexistent' };
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 });
  const runtime = new FakeRuntime();
  const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: passingProber, log: silentLogger, registry: new Registry() });
  const actor = createActor(kubeletMachine, { input: { kubelet, log: silentLogger, retryMs: 200, logRotateMs: 60_000, serve: () => () => {} } });
  return {
    runtime, services, actor,
    /** Drains, as a node's SIGTERM does, and waits for the kubelet to finish. */
    async drain() {
      actor.send({ type: 'STOP', keepPods: false, timeoutMs: 2000 });
      await toPromise(actor);
    },
  };
}

/** `n` pods bound to `node`, each a container that would run for a while. */
async function bindPods(node: string, prefix: string, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => cluster.api.client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `${prefix}-${i}` }, spec: { nodeName: node, containers: [{ name: 'c', command: ['sleep', '1000'] }] },
  }, { returnObject: false })));
}

async function deletePods(prefix: string, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => cluster.api.client.delete('pods', `${prefix}-${i}`, 'default', { gracePeriodSeconds: 0 }).catch(() => {})));
}

test('pods start only once the services have been listed, so their environment names every service', async () => {
  const { client } = cluster.api;
  const db = await client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } });
  assert.match(db.spec.clusterIP ?? '', /^127\.1\.\d+\.\d+$/, 'the apiserver gave it an address');
  await client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app' }, spec: { nodeName: 'k-node', containers: [{ name: 'c', command: ['true'] }] } });
  const { actor, runtime, services, drain } = fakeKubelet('k-node');
  actor.start();
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.is(runtime.processes.size, 0, 'nothing started before the services are known');
    services.start();
    await waitFor('pods synced', () => actor.getSnapshot().matches({ active: 'running' }));
    await waitFor('the container started', () => runtime.processes.size === 1);
    const env = [...runtime.processes.values()][0].spec.env;
    assert.is(env.DB_SERVICE_HOST, db.spec.clusterIP, 'the service\'s own address');
    assert.is(env.DB_SERVICE_PORT, '5432');
  } finally {
    services.stop();
    await drain();
  }
});

test('a pod already being deleted when the kubelet sees it starts nothing, and its delete is confirmed', async () => {
  const { client } = cluster.api;
  await client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'leaving' }, spec: { nodeName: 'k-node-2', containers: [{ name: 'c', command: ['sleep', '1000'] }] } });
  await client.delete('pods', 'leaving', 'default'); // graceful: bound to a node, it waits for the kubelet
  assert.ok((await client.get<Pod>('pods', 'leaving', 'default')).metadata.deletionTimestamp);
  const { actor, runtime, services, drain } = fakeKubelet('k-node-2');
  services.start();
  actor.start();
  try {
    await waitFor('the delete confirmed', async () => !(await client.list<Pod>('pods')).items.some((p) => p.metadata.name === 'leaving'));
    assert.is(runtime.processes.size, 0, 'no container started for it');
  } finally {
    services.stop();
    await drain();
  }
});

test('a burst of pods is started a slice at a time, so that timers (lease renewals, status writes) run meanwhile', async () => {
  const N = 300;
  await bindPods('k-node-3', 'burst', N);
  const { actor, runtime, services, drain } = fakeKubelet('k-node-3');
  // What a timer saw of the start, each time it ran.
  const seen: number[] = [];
  const tick = setInterval(() => seen.push(runtime.processes.size), 1);
  services.start();
  actor.start();
  try {
    await waitFor('every pod started', () => runtime.processes.size === N, 20_000);
    const partial = seen.filter((n) => n > 0 && n < N);
    assert.ok(partial.length >= 2, `timers ran while the pods were being started (saw ${JSON.stringify([...new Set(seen)])})`);
  } finally {
    clearInterval(tick);
    services.stop();
    await drain();
    await deletePods('burst', N);
  }
});

test('a node drained part-way through a burst starts none of the pods still queued', async () => {
  const N = 300;
  await bindPods('k-node-4', 'drained', N);
  const { actor, runtime, services, drain } = fakeKubelet('k-node-4');
  services.start();
  actor.start();
  try {
    await waitFor('some pods started', () => runtime.processes.size > 0);
    assert.ok(runtime.processes.size < N, 'the drain comes before the last pod started');
    await drain();
    const started = runtime.processes.size;
    await new Promise((r) => setTimeout(r, 300));
    assert.is(runtime.processes.size, started, 'nothing started after the drain');
    assert.equal(runtime.running(), [], 'every started container stopped');
  } finally {
    services.stop();
    await deletePods('drained', N);
  }
});

test.run();
