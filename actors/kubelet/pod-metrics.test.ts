// CPU rates between readings, as a kubelet publishes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { usageBetween, type ContainerSample } from './pod-metrics.ts';

const c = (pod: string, cpuSeconds: number, startTimeSeconds = 1000): ContainerSample => ({ namespace: 'a', pod, container: 'main', cpuSeconds, memoryBytes: 5e6, startTimeSeconds });

test('pod metrics - CPU as a rate over the window; a container new or restarted since counts from its start', () => {
  const before = { at: 1_010_000, containers: [c('steady', 2), c('restarted', 9, 1000)], machine: { cpuSeconds: 100, memoryBytes: 1e9 } };
  const now = { at: 1_015_000, containers: [c('steady', 4.5), c('restarted', 1, 1013), c('new', 0.5, 1014)], machine: { cpuSeconds: 106, memoryBytes: 2e9 } };
  const u = usageBetween('node-1', now, [before]);
  assert.is(u.windowMs, 5000);
  assert.is(u.cpuCores, 1.2);
  assert.is(u.memoryBytes, 2e9);
  const cores = Object.fromEntries(u.pods.map((p) => [p.name, p.containers[0].cpuCores]));
  assert.equal(cores, { steady: 0.5, restarted: 0.5, new: 0.5 });
});

test('pod metrics - a quiet container\'s CPU over the shortest window with 0.2 s of it (20 ticks), up to the oldest reading kept; the node\'s over the last second', () => {
  // Readings a second apart: `busy` uses 0.5 s of CPU a second, `quiet` 0.06 s, `fresh` started at 1003.5 s.
  const reading = (s: number) => ({
    at: s * 1000, machine: { cpuSeconds: s, memoryBytes: 1e9 },
    containers: [c('busy', s * 0.5), c('quiet', s * 0.06), ...(s >= 1004 ? [c('fresh', (s - 1003.5) * 0.05, 1003.5)] : [])],
  });
  const u = usageBetween('node-1', reading(1005), [1000, 1001, 1002, 1003, 1004].map(reading));
  assert.is(u.windowMs, 1000);
  const byName = Object.fromEntries(u.pods.map((p) => [p.name, p]));
  assert.equal([byName.busy.containers[0].cpuCores, byName.busy.windowMs], [0.5, 1000]);
  // 0.2 s of CPU takes `quiet` 4 s (0.18 s in 3).
  assert.equal([+byName.quiet.containers[0].cpuCores.toFixed(6), byName.quiet.windowMs], [0.06, 4000]);
  // Not in the readings before 1004: back to that one, the oldest that has it.
  assert.equal([+byName.fresh.containers[0].cpuCores.toFixed(6), byName.fresh.windowMs], [0.05, 1000]);
});

test.run();
