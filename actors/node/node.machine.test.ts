import { Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, toPromise } from 'xstate';
import { loadConfig } from '../../protocol/config.ts';
import type { Endpoints, Pod, Service } from '../../protocol/types.ts';
import { apiserverForTests, testConfig, waitFor } from '../../test/harness.ts';
import { Informer } from '../client/informer.ts';
import type { KubeProxy } from '../kube-proxy/index.ts';
import { FakeRuntime, passingProber } from '../kubelet/fake-runtime.ts';
import { Kubelet, kubeletConfig, WATCHDOG_MODES } from '../kubelet/index.ts';
import { Membership } from '../membership/index.ts';
import { createLogger, silentLogger } from '../platform/log.ts';
import { nodeMachine } from './node.machine.ts';

const cluster = apiserverForTests(test);

/** A kube-proxy that records what the node asks of it; `failStart` makes it fail as it starts. */
function fakeProxy(failStart = false) {
  const calls: string[] = [];
  const proxy = {
    start: () => {
      calls.push('start');
      if (failStart) throw new Error('port 80 taken');
    },
    sync: () => calls.push('sync'),
    stop: () => calls.push('stop'),
    scheduleSync: () => calls.push('resync'),
  };
  return { calls, proxy: proxy as unknown as KubeProxy };
}

function node(name: string, proxy: KubeProxy, lines: string[] = []) {
  const { client, nc } = cluster.api;
  const cfg = loadConfig({}, { natsUrl: cluster.nats.url });
  const kcfg = { ...kubeletConfig(name, cfg, WATCHDOG_MODES, { SKIFF_NODE_ADDRESS: '127.0.1.9' }), noDisk: true, dataDir: '/nonexistent' };
  const runtime = new FakeRuntime();
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 });
  const endpoints = new Informer<Endpoints>(client, 'endpoints', { deadlineMs: 5000 });
  const kubelet = new Kubelet(kcfg, { client, services, runtime, prober: passingProber, log: silentLogger, registry: new Registry() });
  const membership = new Membership({ nc, name, role: 'node', cfg: testConfig(cluster.nats.url), log: silentLogger });
  const actor = createActor(nodeMachine, {
    input: {
      nc, log: createLogger({}, (l) => lines.push(l)), membership, informers: { services, endpoints }, proxy, keepPods: false, shutdownGraceMs: 2000, leaveTimeoutMs: 1000,
      kubelet: { kubelet, log: silentLogger, retryMs: 200, logRotateMs: 60_000, serve: () => () => {} },
    },
  });
  return { actor, runtime, membership };
}

test('node - a node gossip declares dead, or back, has kube-proxy look at every service again; others do not', async () => {
  const { calls, proxy } = fakeProxy();
  const { actor } = node('n-resync', proxy);
  actor.start();
  await waitFor('kube-proxy serving', () => calls.includes('sync'));
  actor.send({ type: 'MEMBER_CHANGED', name: 'other', role: 'node', state: 'dead', previous: 'suspect' });
  actor.send({ type: 'MEMBER_CHANGED', name: 'other', role: 'node', state: 'alive', previous: 'dead' });
  actor.send({ type: 'MEMBER_CHANGED', name: 'm1', role: 'master', state: 'dead', previous: 'alive' });
  actor.send({ type: 'MEMBER_CHANGED', name: 'new', role: 'node', state: 'alive' });
  assert.equal(calls.filter((c) => c === 'resync'), ['resync', 'resync']);
  actor.send({ type: 'STOP' });
  await toPromise(actor);
});

test('node - STOP: the member leaves, kube-proxy stops, the kubelet drains its pods; the tree ends done', async () => {
  const { calls, proxy } = fakeProxy();
  const { actor, runtime } = node('n-stop', proxy);
  actor.start();
  await cluster.api.client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'on-n-stop' }, spec: { nodeName: 'n-stop', containers: [{ name: 'c', command: ['sleep', '1000'] }] } });
  await waitFor('the pod running', () => runtime.running().length === 1);
  actor.send({ type: 'STOP' });
  const output = await toPromise(actor);
  assert.equal(output, { kubeletStopped: true, failure: undefined });
  assert.equal(runtime.running(), [], 'the pod was stopped');
  assert.is(calls.at(-1), 'stop');
  const children = Object.entries(actor.getSnapshot().children).filter(([, c]) => c?.getSnapshot().status === 'active');
  assert.equal(children, [], 'nothing left running');
  await cluster.api.client.delete('pods', 'on-n-stop', 'default', { gracePeriodSeconds: 0 }).catch(() => {});
});

test('node - kube-proxy failing stops the node with the reason, its pods drained', async () => {
  const lines: string[] = [];
  const { proxy } = fakeProxy(true);
  const { actor } = node('n-fail', proxy, lines);
  actor.start();
  const output = await toPromise(actor);
  assert.is(output.failure, 'kube-proxy failed: port 80 taken');
  assert.ok(output.kubeletStopped, 'the kubelet drained before the node stopped');
  assert.ok(lines.some((l) => l.includes('kube-proxy failed: port 80 taken; stopping the node')), lines.join('\n'));
});

test.run();
