// The HPA controller against a real apiserver (in this process), fed by the metrics pipeline as
// a kubelet feeds it (a node-metrics sample on the node's metrics subject): it scales the target
// Deployment up within its policies, writes the status and an Event, holds while the figures
// hold, and scales down once the scale-down window has passed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Counter, Registry } from 'prom-client';
import { encode } from '../../../protocol/codec.ts';
import { loadConfig } from '../../../protocol/config.ts';
import type { NodeUsage } from '../../../protocol/metrics.ts';
import { metricsSubject } from '../../../protocol/subjects.ts';
import type { Deployment, Event, HorizontalPodAutoscaler, Pod } from '../../../protocol/types.ts';
import { apiserverForTests, waitFor } from '../../../test/harness.ts';
import { Informer } from '../../client/informer.ts';
import { silentLogger } from '../../platform/log.ts';
import { EventRecorder } from '../../runtime/events.ts';
import type { ControllerContext } from '../context.ts';
import { HpaController } from './controller.ts';

const cluster = apiserverForTests(test);
const APP = 'hpa-web';

function context(): ControllerContext {
  const { client } = cluster.api;
  const cfg = loadConfig({});
  const registry = new Registry();
  const informer = <T,>(resource: string) => new Informer<T & import('../../../protocol/types.ts').KubeObject>(client, resource, { deadlineMs: 5000 });
  return {
    informers: {
      pods: informer('pods'), replicasets: informer('replicasets'), deployments: informer('deployments'), nodes: informer('nodes'),
      nodeLeases: informer('leases'), services: informer('services'), endpoints: informer('endpoints'), hpas: informer('horizontalpodautoscalers'),
    } as ControllerContext['informers'],
    events: new EventRecorder(client, { component: 'horizontal-pod-autoscaler', ratePerSecond: 50, burst: 100 }),
    log: silentLogger, registry,
    cfg: { nodeGraceMs: cfg.nodeGraceMs, nodeEvictionGraceMs: cfg.nodeEvictionGraceMs, nodeMonitorMs: cfg.nodeMonitorMs, resyncMs: 60_000, gcPeriodMs: cfg.gcPeriodMs, workers: 2, statusSyncDelayMs: 50, hpaSyncMs: 100 },
    syncs: new Counter({ name: 'syncs', help: 'syncs', labelNames: ['controller', 'result'], registers: [registry] }),
  };
}

/** A Deployment of `replicas` picking the pods labelled app=`app` (the test makes the pods itself). */
function deployment(name: string, replicas: number, app: string): Promise<Deployment> {
  return cluster.api.client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: { replicas, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'web', command: ['sleep', '1000'] }] } } },
  });
}

/** Runs `body` with an HPA controller leading through the test's client, its informers synced. */
async function leading(body: () => Promise<void>): Promise<void> {
  const ctx = context();
  const hpa = new HpaController(ctx);
  hpa.register();
  for (const i of Object.values(ctx.informers)) i.start();
  try {
    await Promise.all(Object.values(ctx.informers).map((i) => i.synced()));
    ctx.writer = cluster.api.client;
    await body();
  } finally {
    hpa.stop();
    for (const i of Object.values(ctx.informers)) i.stop();
  }
}

/** What a kubelet would publish: each pod's CPU, in cores, over the last 5 s; and, given, what its kube-proxy forwarded to each. */
function publishUsage(cpu: Record<string, number>, rps?: Record<string, number>): void {
  const usage: NodeUsage = {
    node: 'hpa-node', timestamp: Date.now(), windowMs: 5000, cpuCores: 1, memoryBytes: 1e9,
    pods: Object.entries(cpu).map(([name, cores]) => ({ namespace: 'default', name, containers: [{ name: 'web', cpuCores: cores, memoryBytes: 50e6 }] })),
    ...(rps ? { traffic: Object.entries(rps).map(([name, r]) => ({ namespace: 'default', name, requestsPerSecond: r, connectionsPerSecond: r, activeConnections: 0 })) } : {}),
  };
  cluster.api.nc.publish(metricsSubject('hpa-node'), encode('node-metrics', { usage }));
}

/** A pod of the deployment, Running and Ready for nine of its ten minutes, requesting 100m. */
async function runningPod(name: string, app = APP): Promise<void> {
  const { client } = cluster.api;
  await client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app } },
    spec: { nodeName: 'hpa-node', containers: [{ name: 'web', command: ['sleep', '1000'], resources: { requests: { cpu: '100m' } } }] },
  });
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  await client.patch('pods', name, 'default', { status: { phase: 'Running', startTime: minutesAgo(10), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: minutesAgo(9) }] } }, { subresource: 'status' });
}

test('scales up within its policies on high CPU, holds while it holds, and back down after the window', async () => {
  const { client } = cluster.api;
  await deployment(APP, 2, APP);
  await runningPod('web-1');
  await runningPod('web-2');
  await leading(async () => {
    // 200m on each of two pods requesting 100m: 200% of request against a target of 50%.
    publishUsage({ 'web-1': 0.2, 'web-2': 0.2 });
    await client.create<HorizontalPodAutoscaler>({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: APP },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP }, minReplicas: 1, maxReplicas: 10,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        behavior: { scaleDown: { stabilizationWindowSeconds: 1 } },
      },
    });
    const replicas = async () => (await client.get<Deployment>('deployments', APP, 'default')).spec.replicas;
    // The proposal is 8 (ceil(2 x 4)); the default policy allows max(+4 pods, +100%) per 15 s: 6.
    await waitFor('scaled up to 6', async () => (await replicas()) === 6, 5000, 50);
    // The syncs after it: at 6, still proposing 8, held by the scale-up policy.
    const status = await waitFor('the status at 6', async () => {
      const h = await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', APP, 'default');
      return h.status?.currentReplicas === 6 && h.status.desiredReplicas === 6 ? h.status : undefined;
    }, 5000, 50);
    const condition = (type: string) => status.conditions?.find((c) => c.type === type);
    assert.is(condition('ScalingActive')?.reason, 'ValidMetricFound');
    assert.is(condition('AbleToScale')?.status, 'True');
    assert.equal([condition('ScalingLimited')?.status, condition('ScalingLimited')?.reason], ['True', 'ScaleUpLimit']);
    assert.equal(status.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 200 } } }]);
    assert.ok(status.lastScaleTime);
    const event = await waitFor('a SuccessfulRescale event', async () => (await client.list<Event>('events', { fieldSelector: `involvedObject.name=${APP}` })).items.find((e) => e.reason === 'SuccessfulRescale'));
    assert.match(event.message!, /New size: 6; reason: cpu resource utilization \(percentage of request\) above target/);
    // Still high, still within the same 15 s period: no more than the policy allowed.
    await new Promise((r) => setTimeout(r, 500));
    assert.is(await replicas(), 6, 'held by the scale-up policy\'s period');
    // The load ends: 10% of request. After the 1 s window, down to the minimum.
    publishUsage({ 'web-1': 0.01, 'web-2': 0.01 });
    await waitFor('scaled down to 1', async () => (await replicas()) === 1, 5000, 50);
  });
});

test('requests per second, as the kube-proxies counted them: up to what the load needs', async () => {
  const { client } = cluster.api;
  await deployment('rps', 2, APP);
  await leading(async () => {
    // The two pods of the first test still run: 30 requests per second each against a target of 10.
    publishUsage({ 'web-1': 0.01, 'web-2': 0.01 }, { 'web-1': 30, 'web-2': 30 });
    await client.create<HorizontalPodAutoscaler>({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'rps' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'rps' }, maxReplicas: 10,
        metrics: [{ type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '10' } } }],
      },
    });
    await waitFor('scaled to 6 (the policy\'s +4 of the proposed 6)', async () => (await client.get<Deployment>('deployments', 'rps', 'default')).spec.replicas === 6, 5000, 50);
    const h = await waitFor('its figure in the status', async () => {
      const x = await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', 'rps', 'default');
      return x.status?.currentMetrics?.length ? x : undefined;
    }, 5000, 50);
    assert.equal(h.status!.currentMetrics, [{ type: 'Pods', pods: { metric: { name: 'requests_per_second' }, current: { averageValue: '30' } } }]);
  });
});

test('a new HPA does not shrink its target before the scale-down window has passed', async () => {
  const { client } = cluster.api;
  await deployment('fresh', 3, APP);
  await leading(async () => {
    publishUsage({ 'web-1': 0.01, 'web-2': 0.01 });
    await client.create<HorizontalPodAutoscaler>({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'fresh' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'fresh' }, maxReplicas: 5, behavior: { scaleDown: { stabilizationWindowSeconds: 2 } },
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      },
    });
    const replicas = async () => (await client.get<Deployment>('deployments', 'fresh', 'default')).spec.replicas;
    await new Promise((r) => setTimeout(r, 1000));
    assert.is(await replicas(), 3, 'held for the window');
    await waitFor('down once the window has passed', async () => (await replicas()) === 1, 5000, 50);
  });
});

test('a rollout\'s surge: its extra pods share the load, so the HPA neither scales down for them nor counts them as wanted', async () => {
  const { client } = cluster.api;
  // 4 wanted, 6 running (a surge of 2 mid-rollout), 40 requests a second spread over the 6 against
  // a target of 10: ceil(6 x 0.67) = 4, the count it has. Reading the figures against the 4 wanted
  // instead would propose 3.
  await deployment('surge', 4, 'surge');
  const pods = ['surge-1', 'surge-2', 'surge-3', 'surge-4', 'surge-5', 'surge-6'];
  for (const p of pods) await runningPod(p, 'surge');
  await leading(async () => {
    publishUsage(Object.fromEntries(pods.map((p) => [p, 0.01])), Object.fromEntries(pods.map((p) => [p, 40 / 6])));
    await client.create<HorizontalPodAutoscaler>({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'surge' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'surge' }, minReplicas: 1, maxReplicas: 10, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
        metrics: [{ type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '10' } } }],
      },
    });
    const h = await waitFor('its figure in the status', async () => {
      const x = await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', 'surge', 'default');
      return x.status?.currentMetrics?.length ? x : undefined;
    }, 5000, 50);
    assert.is(h.status!.desiredReplicas, 4);
    await new Promise((r) => setTimeout(r, 500));
    assert.is((await client.get<Deployment>('deployments', 'surge', 'default')).spec.replicas, 4);
  });
});

test('no CPU request: no action, and a condition that says why', async () => {
  const { client } = cluster.api;
  await deployment('norequest', 1, 'norequest');
  await client.create<Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'norequest-1', labels: { app: 'norequest' } }, spec: { nodeName: 'hpa-node', containers: [{ name: 'web', command: ['sleep', '1000'] }] } });
  await leading(async () => {
    await client.create<HorizontalPodAutoscaler>({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'norequest' },
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'norequest' }, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] },
    });
    const active = await waitFor('ScalingActive', async () => (await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', 'norequest', 'default')).status?.conditions?.find((c) => c.type === 'ScalingActive'), 5000, 50);
    assert.is(active.status, 'False');
    assert.is(active.reason, 'FailedGetResourceMetric');
    assert.match(active.message!, /pod norequest-1 has no cpu request/);
    assert.is((await client.get<Deployment>('deployments', 'norequest', 'default')).spec.replicas, 1);
  });
});

test.run();
