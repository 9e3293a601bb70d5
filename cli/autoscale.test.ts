// skiff autoscale and the HPA's table columns, against an apiserver in this process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Deployment, HorizontalPodAutoscaler } from '../protocol/types.ts';
import { apiserverForTests } from '../test/harness.ts';
import { runCommand } from '../test/cli-run.ts';
import { UsageError } from './command.ts';
import { autoscaleCommand } from './commands/autoscale.ts';
import { describeCommand } from './commands/describe.ts';
import { hpaTargets } from './table.ts';

const cluster = apiserverForTests(test);
const autoscale = (values: Record<string, string>, positionals: string[]) => runCommand(autoscaleCommand, values, positionals, cluster.api.client);

test('autoscale: an HPA named after its target, on CPU or on requests per second; mistakes named', async () => {
  const { client } = cluster.api;
  await client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', command: ['true'] }] } } },
  });
  const r = await autoscale({ min: '2', max: '10', 'cpu-percent': '60' }, ['deployment/web']);
  assert.is(r.code, 0, r.err.join('\n'));
  assert.equal(r.out, ['horizontalpodautoscaler.autoscaling/web autoscaled']);
  const hpa = await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', 'web', 'default');
  assert.equal(hpa.spec, {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 10,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
  });
  const rps = await autoscale({ max: '8', rps: '50', name: 'web-rps' }, ['deploy/web']);
  assert.is(rps.code, 0, rps.err.join('\n'));
  assert.equal((await client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', 'web-rps', 'default')).spec.metrics, [
    { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '50' } } },
  ]);
  const again = await autoscale({ max: '5', 'cpu-percent': '50' }, ['deployment/web']);
  assert.match(again.err.join('\n'), /horizontalpodautoscaler "web" already exists/);
  const usage: [Record<string, string>, string, RegExp][] = [
    [{ max: '5' }, 'deployment/web', /give one of --cpu-percent P or --rps R/],
    [{ min: '6', max: '5', rps: '1' }, 'deployment/web', /--min=6 is more than --max=5/],
    [{ 'cpu-percent': '50' }, 'deployment/web', /--max is required/],
    [{ max: '5', 'cpu-percent': '50' }, 'service/web', /services are not supported here/],
  ];
  for (const [values, target, message] of usage) {
    const err = await autoscale(values, [target]).then(() => undefined, (e: Error) => e);
    assert.instance(err, UsageError);
    assert.match(err!.message, message);
  }
});

test('get hpa TARGETS: each metric\'s figure against its target, <unknown> until there is one', () => {
  const hpa = (status?: HorizontalPodAutoscaler['status']): HorizontalPodAutoscaler => ({
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' },
    spec: {
      scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 5,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '20' } } },
      ],
    },
    status,
  });
  assert.is(hpaTargets(hpa()), '<unknown>/50%, <unknown>/20');
  assert.is(hpaTargets(hpa({ currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 73 } } }] })), '73%/50%, <unknown>/20');
});

test('describe hpa: reference, each metric against its target, bounds, behavior with the defaults, replicas, conditions and events', async () => {
  const { client } = cluster.api;
  await client.create<HorizontalPodAutoscaler>({
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'described' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 6,
      metrics: [{ type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '20' } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 5 } },
    },
  });
  await client.patch('horizontalpodautoscalers', 'described', 'default', { status: {
    currentReplicas: 4, desiredReplicas: 4, currentMetrics: [{ type: 'Pods', pods: { metric: { name: 'requests_per_second' }, current: { averageValue: '19980m' } } }],
    conditions: [{ type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count', lastTransitionTime: new Date().toISOString() }],
  } }, { subresource: 'status' });
  const r = await runCommand(describeCommand, {}, ['hpa', 'described'], client);
  assert.is(r.code, 0, r.err.join('\n'));
  const text = r.out.join('\n');
  for (const line of [
    /^Reference: +Deployment\/web$/m, /^ +"requests_per_second" on pods: +19980m \/ 20$/m, /^Min replicas: 1$/m, /^Max replicas: 6$/m,
    /Scale Up:\n +Stabilization Window: 0 seconds\n +Select Policy: Max\n +Policies:\n +- Type: Pods +Value: 4 +Period: 15 seconds\n +- Type: Percent +Value: 100 +Period: 15 seconds/,
    /Scale Down:\n +Stabilization Window: 5 seconds/, /^Deployment pods: 4 current \/ 4 desired$/m,
    /^ +ScalingActive +True +ValidMetricFound +the HPA was able/m, /^Events: +<none>$/m,
  ]) assert.match(text, line);
  assert.not.match(text, /^Spec:/m, 'not the generic dump');
});

test.run();
