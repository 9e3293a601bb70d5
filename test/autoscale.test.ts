// The HorizontalPodAutoscaler end to end, with real processes: a Deployment of a server that burns
// CPU on every request, load at a fixed rate through its Service's ClusterIP sized to need about 4
// replicas, an HPA on requests_per_second and one on CPU. Each scales up while every request of
// the load is answered, does not fall back below what the load needs while it holds, and scales
// back to its minimum once the load stops (a 5 s scale-down window). The replica timeline is
// printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Deployment, Event, MetricSpec } from '../protocol/types.ts';
import { createBurner, createHpa, formatTimeline, recordTimeline, startLoad, type TimelineEntry } from './autoscale-load.ts';
import { freePort, setup, startCluster, stopCluster, waitFor, withLogsOnFailure, type Cluster } from './harness.ts';

const s = suite<Cluster>('autoscale');

s.before(setup(async (ctx) => {
  await startCluster(ctx, {
    masters: ['hpa-master'],
    nodes: [{ name: 'hpa-node-1', env: { SKIFF_NODE_ADDRESS: '127.0.1.31' } }, { name: 'hpa-node-2', env: { SKIFF_NODE_ADDRESS: '127.0.1.32' } }],
  });
}));

s.after(stopCluster);

/**
 * Where, once `floor` replicas were ready and before `until` seconds (the load's end), there were
 * fewer than `floor`: capacity the load needs, taken away. (An overshoot's correction, from 5 to 4
 * say, is not this; bench/autoscale.ts reports every scale-down under load.)
 */
function belowFloorBefore(entries: TimelineEntry[], floor: number, until: number): TimelineEntry | undefined {
  const reached = entries.find((e) => e.ready >= floor)?.t ?? Infinity;
  return entries.find((e) => e.t > reached && e.t < until && e.replicas < floor);
}

/**
 * Load of `rate` a second on `name`'s service until its HPA has raised it to at least `atLeast`
 * ready replicas and `holdMs` more have passed; then none, until it is back at 1.
 */
async function scaleUpAndDown(ctx: Cluster, name: string, metric: MetricSpec, o: { burnMs: number; rate: number; atLeast: number; holdMs: number }): Promise<void> {
  const port = await freePort();
  const svc = await createBurner(ctx.client, name, { burnMs: o.burnMs, cpu: '100m', port });
  await createHpa(ctx.client, name, { min: 1, max: 6, metric, downWindowSeconds: 5 });
  await waitFor(`${name}'s first replica ready`, async () => (await ctx.client.get<Deployment>('deployments', name, 'default')).status?.readyReplicas === 1, 30_000);
  const timeline = recordTimeline(ctx.client, name);
  const load = startLoad(svc.spec.clusterIP!, port, o.rate);
  timeline.mark();
  let loadEnd = Infinity;
  try {
    await waitFor(`${o.atLeast} ready replicas of ${name}`, () => {
      const last = timeline.entries.at(-1);
      return last !== undefined && last.ready >= o.atLeast;
    }, 40_000, 200);
    await new Promise((r) => setTimeout(r, o.holdMs));
    const result = await load.stop();
    loadEnd = timeline.elapsed();
    console.log(`  ${name}: ${result.sent} requests at ${o.rate}/s, ${result.ok} answered, ${result.failed} failed${result.errors.length ? ` (${result.errors.join('; ')})` : ''}`);
    assert.is(result.failed, 0, `failed requests: ${result.errors.join('; ')}`);
    await waitFor(`${name} back at 1 replica`, () => timeline.entries.at(-1)?.replicas === 1, 40_000, 200);
  } finally {
    await load.stop();
    const entries = await timeline.stop();
    console.log(formatTimeline(entries).replace(/^/gm, '    '));
    const below = belowFloorBefore(entries, o.atLeast, loadEnd);
    assert.not.ok(below, `below ${o.atLeast} replicas while the load held: ${JSON.stringify(below)}`);
  }
  const events = (await ctx.client.list<Event>('events')).items.filter((e) => e.involvedObject.name === name && e.reason === 'SuccessfulRescale');
  assert.ok(events.length >= 2, `SuccessfulRescale events: ${events.map((e) => e.message).join('; ')}`);
}

const procs = (c: Cluster) => [...(c.masters ?? []), ...(c.nodes ?? [])];

s('requests_per_second: 80 requests a second, 20 a pod wanted, scale to about 4 with none failed, and back to 1 after the load', withLogsOnFailure(procs, async (ctx) => {
  await scaleUpAndDown(ctx, 'rps', { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '20' } } }, { burnMs: 2, rate: 80, atLeast: 4, holdMs: 4000 });
}));

s('cpu: 50% of a 100m request wanted, load that needs about 4 pods, scale up with none failed, and back to 1 after the load', withLogsOnFailure(procs, async (ctx) => {
  await scaleUpAndDown(ctx, 'cpu', { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }, { burnMs: 3, rate: 50, atLeast: 3, holdMs: 4000 });
}));

s.run();
