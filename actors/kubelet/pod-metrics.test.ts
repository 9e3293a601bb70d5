// CPU rates between two samples, as a kubelet publishes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { usageBetween, type ContainerSample } from './pod-metrics.ts';

const c = (pod: string, cpuSeconds: number, startTimeSeconds = 1000): ContainerSample => ({ namespace: 'a', pod, container: 'main', cpuSeconds, memoryBytes: 5e6, startTimeSeconds });

test('pod metrics - CPU as a rate over the window; a container new or restarted since counts from its start', () => {
  const before = { at: 1_010_000, containers: [c('steady', 2), c('restarted', 9, 1000)], machine: { cpuSeconds: 100, memoryBytes: 1e9 } };
  const now = { at: 1_015_000, containers: [c('steady', 4.5), c('restarted', 1, 1013), c('new', 0.5, 1014)], machine: { cpuSeconds: 106, memoryBytes: 2e9 } };
  const u = usageBetween('node-1', now, before);
  assert.is(u.windowMs, 5000);
  assert.is(u.cpuCores, 1.2);
  assert.is(u.memoryBytes, 2e9);
  const cores = Object.fromEntries(u.pods.map((p) => [p.name, p.containers[0].cpuCores]));
  assert.equal(cores, { steady: 0.5, restarted: 0.5, new: 0.5 });
});

test.run();
