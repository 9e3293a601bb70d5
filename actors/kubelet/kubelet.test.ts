// The kubelet against a real apiserver, on the fake runtime: what decides when its pods start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { apiserverForTests, waitFor } from '../../test/harness.ts';
import { Informer } from '../lib/informer.ts';
import { silentLogger } from '../lib/log.ts';
import { loadConfig } from '../../protocol/config.ts';
import type { Pod, Service } from '../../protocol/types.ts';
import { FakeRuntime, passingProber } from './fake-runtime.ts';
import { Kubelet, kubeletConfig, WATCHDOG_MODES } from './index.ts';

const cluster = apiserverForTests(test);

test('pods start only once the services have been listed, so their environment names every service', async () => {
  const { client } = cluster.api;
  await client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } });
  await client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app' }, spec: { nodeName: 'k-node', containers: [{ name: 'c', command: ['true'] }] } });
  const cfg = loadConfig({}, { natsUrl: cluster.nats.url });
  const kcfg = { ...kubeletConfig('k-node', cfg, WATCHDOG_MODES, { SKIFF_NODE_ADDRESS: '127.0.1.9' }), noDisk: true, dataDir: '/nonexistent' };
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 });
  const runtime = new FakeRuntime();
  const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: passingProber, log: silentLogger, registry: new Registry() });
  const sync = kubelet.startPodSync();
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.is(runtime.processes.size, 0, 'nothing started before the services are known');
    services.start();
    await Promise.race([sync.synced, new Promise((_, no) => setTimeout(() => no(new Error('pods never synced')), 10_000))]);
    await waitFor('the container started', () => runtime.processes.size === 1);
    const env = [...runtime.processes.values()][0].spec.env;
    assert.is(env.DB_SERVICE_HOST, '127.0.1.9');
    assert.is(env.DB_SERVICE_PORT, '5432');
  } finally {
    sync.stop();
    services.stop();
    await kubelet.drain(false, 2000);
  }
});

test('a pod already being deleted when the kubelet sees it starts nothing, and its delete is confirmed', async () => {
  const { client } = cluster.api;
  await client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'leaving' }, spec: { nodeName: 'k-node-2', containers: [{ name: 'c', command: ['sleep', '1000'] }] } });
  await client.delete('pods', 'leaving', 'default'); // graceful: bound to a node, it waits for the kubelet
  assert.ok((await client.get<Pod>('pods', 'leaving', 'default')).metadata.deletionTimestamp);
  const cfg = loadConfig({}, { natsUrl: cluster.nats.url });
  const kcfg = { ...kubeletConfig('k-node-2', cfg, WATCHDOG_MODES, { SKIFF_NODE_ADDRESS: '127.0.1.9' }), noDisk: true, dataDir: '/nonexistent' };
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 });
  const runtime = new FakeRuntime();
  const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: passingProber, log: silentLogger, registry: new Registry() });
  services.start();
  const sync = kubelet.startPodSync();
  try {
    await waitFor('the delete confirmed', async () => !(await client.list<Pod>('pods')).items.some((p) => p.metadata.name === 'leaving'));
    assert.is(runtime.processes.size, 0, 'no container started for it');
  } finally {
    sync.stop();
    services.stop();
    await kubelet.drain(false, 2000);
  }
});

test('a burst of pods is started a slice at a time, so that timers (lease renewals, status writes) run meanwhile', async () => {
  const { client } = cluster.api;
  const N = 300;
  await Promise.all(Array.from({ length: N }, (_, i) => client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `burst-${i}` }, spec: { nodeName: 'k-node-3', containers: [{ name: 'c', command: ['sleep', '1000'] }] },
  }, { returnObject: false })));
  const cfg = loadConfig({}, { natsUrl: cluster.nats.url });
  const kcfg = { ...kubeletConfig('k-node-3', cfg, WATCHDOG_MODES, { SKIFF_NODE_ADDRESS: '127.0.1.9' }), noDisk: true, dataDir: '/nonexistent' };
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 });
  const runtime = new FakeRuntime();
  const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: passingProber, log: silentLogger, registry: new Registry() });
  // What a timer saw of the start, each time it ran.
  const seen: number[] = [];
  const tick = setInterval(() => seen.push(runtime.processes.size), 1);
  services.start();
  const sync = kubelet.startPodSync();
  try {
    await waitFor('every pod started', () => runtime.processes.size === N, 20_000);
    const partial = seen.filter((n) => n > 0 && n < N);
    assert.ok(partial.length >= 2, `timers ran while the pods were being started (saw ${JSON.stringify([...new Set(seen)])})`);
  } finally {
    clearInterval(tick);
    sync.stop();
    services.stop();
    await kubelet.drain(false, 2000);
    await Promise.all(Array.from({ length: N }, (_, i) => client.delete('pods', `burst-${i}`, 'default', { gracePeriodSeconds: 0 }).catch(() => {})));
  }
});

test.run();
