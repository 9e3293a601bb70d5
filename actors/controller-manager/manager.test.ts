// The controller-manager's following and leading against a real apiserver: a follower keeps its
// caches and writes nothing; a leader acts, through the writer it was given; following again
// stops it at once.
import { Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../protocol/config.ts';
import type { Pod, ReplicaSet } from '../../protocol/types.ts';
import { apiserverForTests, waitFor } from '../../test/harness.ts';
import type { ApiClient } from '../client/client.ts';
import { silentLogger } from '../platform/log.ts';
import { EventRecorder } from '../runtime/events.ts';
import { ControllerManager, controllerManagerMetrics } from './manager.ts';

const cluster = apiserverForTests(test);

function manager(): ControllerManager {
  const { client } = cluster.api;
  const cfg = loadConfig({});
  const registry = new Registry();
  return new ControllerManager({
    client, log: silentLogger, registry, metrics: controllerManagerMetrics(registry), watchDeadlineMs: 5000,
    events: new EventRecorder(client, { component: 'controller-manager', ratePerSecond: 50, burst: 200 }),
    cfg: { nodeGraceMs: cfg.nodeGraceMs, nodeEvictionGraceMs: cfg.nodeEvictionGraceMs, nodeMonitorMs: cfg.nodeMonitorMs, resyncMs: cfg.controllerResyncMs, gcPeriodMs: cfg.gcPeriodMs, workers: 2, statusSyncDelayMs: 50, hpaSyncMs: 200 },
  });
}

/** The real client, counting the writes that go through it. */
function countingWriter() {
  const writes: string[] = [];
  const writer = new Proxy(cluster.api.client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (['create', 'update', 'patch', 'delete', 'updateStatus'].includes(String(prop))) writes.push(String(prop));
        return value.apply(target, args);
      };
    },
  }) as ApiClient;
  return { writer, writes };
}

function replicaSet(name: string, replicas: number): ReplicaSet {
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, namespace: 'default' },
    spec: { replicas, selector: { matchLabels: { rs: name } }, template: { metadata: { labels: { rs: name } }, spec: { containers: [{ name: 'c', command: ['sleep', '1'] }] } } },
  };
}

const podsOf = async (rs: string) => (await cluster.api.client.list<Pod>('pods', { namespace: 'default', labelSelector: `rs=${rs}` })).items.filter((p) => !p.metadata.deletionTimestamp);

test('controller-manager - a follower writes nothing; leading, it acts through its writer; following again, it stops', async () => {
  const m = manager();
  const { writer, writes } = countingWriter();
  m.start();
  try {
    await cluster.api.client.create(replicaSet('cm-a', 2));
    await m.synced();
    await new Promise((r) => setTimeout(r, 300));
    assert.is((await podsOf('cm-a')).length, 0, 'no pods while following');
    assert.equal(writes, []);
    await m.lead(writer);
    await waitFor('2 pods', async () => (await podsOf('cm-a')).length === 2);
    assert.ok(writes.filter((w) => w === 'create').length >= 2, 'the pods were created through the writer it leads with');
    m.follow();
    await cluster.api.client.create(replicaSet('cm-b', 1));
    await new Promise((r) => setTimeout(r, 500));
    assert.is((await podsOf('cm-b')).length, 0, 'no pods once following again');
  } finally {
    m.stop();
  }
});

test.run();
