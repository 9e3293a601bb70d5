// The apiservers' window of what the kubelets say their nodes and pods use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode } from '../../protocol/codec.ts';
import { UsageWindow } from './usage.ts';

test('usage window - the latest sample per node, its node named by the subject, stale ones left out', () => {
  let now = 50_000;
  const w = new UsageWindow(15_000, () => now);
  const sample = (node: string, timestamp: number) => encode('node-metrics', { usage: { node, timestamp, windowMs: 5000, cpuCores: 0.5, memoryBytes: 1, pods: [{ namespace: 'a', name: `p-${node}`, containers: [] }] } });
  w.receive('node-1', sample('node-9', 45_000));
  w.receive('node-2', sample('node-2', 40_000));
  w.receive('node-3', new Uint8Array([1, 2, 3]));
  assert.equal(w.nodes().map((n) => n.node), ['node-1', 'node-2'], 'the subject names the node; garbage is dropped');
  assert.equal(w.pods('a').map((p) => p.node), ['node-1', 'node-2']);
  assert.equal(w.pods('b'), []);
  now = 57_000;
  assert.equal(w.nodes().map((n) => n.node), ['node-1'], 'a sample older than the window is gone');
});

test('usage window - what every node\'s kube-proxy forwarded to a pod is summed; none counted, no figure', () => {
  const w = new UsageWindow(15_000, () => 50_000);
  const traffic = (name: string, rps: number) => ({ namespace: 'a', name, requestsPerSecond: rps, connectionsPerSecond: rps, activeConnections: 1 });
  const sample = (node: string, pods: string[], t?: ReturnType<typeof traffic>[]) => encode('node-metrics', {
    usage: { node, timestamp: 49_000, windowMs: 5000, cpuCores: 0.5, memoryBytes: 1, pods: pods.map((name) => ({ namespace: 'a', name, containers: [] })), ...(t ? { traffic: t } : {}) },
  });
  w.receive('node-1', sample('node-1', ['web-1'], [traffic('web-1', 10), traffic('web-2', 5)]));
  w.receive('node-2', sample('node-2', ['web-2', 'idle'], [traffic('web-1', 2)]));
  const load = Object.fromEntries(w.pods('a').map((p) => [p.name, [p.requestsPerSecond, p.activeConnections]]));
  assert.equal(load, { 'web-1': [12, 2], 'web-2': [5, 1], idle: [0, 0] }, 'counted by any node; a pod nothing reached has 0');
  const nft = new UsageWindow(15_000, () => 50_000);
  nft.receive('node-1', sample('node-1', ['web-1']));
  assert.is(nft.pods('a')[0].requestsPerSecond, undefined, 'no kube-proxy counted (nftables): no figure, not a zero');
});

test.run();
