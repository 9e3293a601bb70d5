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

test.run();
