import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Invalid } from './errors.ts';
import { validateObject } from './validate.ts';
import type { Deployment, Pod, Service } from './types.ts';

const pod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'p' }) => ({ apiVersion: 'v1', kind: 'Pod', metadata, spec });
const container = (extra: Record<string, unknown> = {}) => ({ name: 'c', command: ['sleep', '1'], ...extra });
const deployment = (spec: Record<string, unknown>) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [container()] } }, ...spec },
});

function errorsOf(input: unknown, opts = {}): string[] {
  try {
    validateObject(input, opts);
    return [];
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return err.fields.map((f) => `${f.path}: ${f.message}`);
  }
}

// Each case: a manifest, and the errors it must produce (path, then a part of the message).
const invalid: [string, unknown, [string, RegExp][]][] = [
  ['image without command', deployment({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } }),
    [['spec.template.spec.containers[0].command', /^required \(a process needs a command; image alone cannot run\)$/]]],
  ['typo in a field', pod({ containers: [container()], restartPolcy: 'Never' }), [['spec.restartPolcy', /unknown field \(did you mean "restartPolicy"\?\)/]]],
  ['wrong type', deployment({ replicas: 'three' }), [['spec.replicas', /must be an integer \(got the string "three"\)/]]],
  ['bad name', pod({ containers: [container()] }, { name: 'Web_1' }), [['metadata.name', /lower case alphanumeric/]]],
  ['name too long', pod({ containers: [container()] }, { name: 'a'.repeat(254) }), [['metadata.name', /no more than 253/]]],
  ['no name', pod({ containers: [container()] }, {}), [['metadata.name', /required/]]],
  ['bad label key', pod({ containers: [container()] }, { name: 'p', labels: { 'a b': 'x' } }), [['metadata.labels[a b]', /name part/]]],
  ['bad label value', pod({ containers: [container()] }, { name: 'p', labels: { a: '-x-' } }), [['metadata.labels[a]', /start and end with an alphanumeric/]]],
  ['label value too long', pod({ containers: [container()] }, { name: 'p', labels: { a: 'x'.repeat(64) } }), [['metadata.labels[a]', /no more than 63/]]],
  ['unknown kind', { apiVersion: 'v1', kind: 'Gizmo', metadata: { name: 'x' } }, [['kind', /unsupported kind "Gizmo"/]]],
  ['wrong apiVersion', { ...pod({ containers: [container()] }), apiVersion: 'apps/v1' }, [['apiVersion', /served as "v1"/]]],
  ['no containers', pod({ containers: [] }), [['spec.containers', /at least one container/]]],
  ['duplicate container names', pod({ containers: [container(), container()] }), [['spec.containers[1].name', /duplicate container name/]]],
  ['bad quantity', pod({ containers: [container({ resources: { limits: { memory: '64MB' } } })] }), [['spec.containers[0].resources.limits[memory]', /not a quantity/]]],
  ['request over limit', pod({ containers: [container({ resources: { requests: { cpu: '2' }, limits: { cpu: '500m' } } })] }),
    [['spec.containers[0].resources.requests[cpu]', /less than or equal to the cpu limit/]]],
  ['unsupported resource', pod({ containers: [container({ resources: { requests: { gpu: '1' } } })] }), [['spec.containers[0].resources.requests[gpu]', /unsupported resource/]]],
  ['probe with two handlers', pod({ containers: [container({ livenessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } } })] }),
    [['spec.containers[0].livenessProbe', /exactly one of httpGet, tcpSocket or exec/]]],
  ['probe names an unknown port', pod({ containers: [container({ readinessProbe: { httpGet: { port: 'http' } } })] }),
    [['spec.containers[0].readinessProbe.httpGet.port', /no container port is named "http"/]]],
  ['volume mount without volume', pod({ containers: [container({ volumeMounts: [{ name: 'data', mountPath: 'data' }] })] }),
    [['spec.containers[0].volumeMounts[0].name', /no volume is named "data"/]]],
  ['relative hostPath', pod({ containers: [container()], volumes: [{ name: 'h', hostPath: { path: 'tmp' } }] }), [['spec.volumes[0].hostPath.path', /absolute/]]],
  ['env fieldRef unsupported', pod({ containers: [container({ env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.foo' } } }] })] }),
    [['spec.containers[0].env[0].valueFrom.fieldRef.fieldPath', /unsupported field/]]],
  ['selector does not match template', deployment({ selector: { matchLabels: { app: 'other' } } }), [['spec.template.metadata.labels', /must match the selector/]]],
  ['empty selector', deployment({ selector: {} }), [['spec.selector', /must not be empty/]]],
  ['bad maxSurge', deployment({ strategy: { rollingUpdate: { maxSurge: '25' } } }), [['spec.strategy.rollingUpdate.maxSurge', /percentage/]]],
  ['both zero', deployment({ strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } }), [['spec.strategy.rollingUpdate.maxUnavailable', /may not be 0/]]],
  ['template restartPolicy Never', deployment({ template: { metadata: { labels: { app: 'web' } }, spec: { restartPolicy: 'Never', containers: [container()] } } }),
    [['spec.template.spec.restartPolicy', /must use "Always"/]]],
  ['service without ports', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [] } }, [['spec.ports', /at least one port/]]],
  ['service name must start with a letter', { apiVersion: 'v1', kind: 'Service', metadata: { name: '1s' }, spec: { ports: [{ port: 80 }] } }, [['metadata.name', /start with a letter/]]],
  ['node name with a dot', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node.1' }, spec: {} }, [['metadata.name', /subject tokens/]]],
  ['hpa min over max', { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, minReplicas: 5, maxReplicas: 2 } },
    [['spec.minReplicas', /less than or equal to maxReplicas/]]],
  ['object over 1 MiB', pod({ containers: [container()] }, { name: 'p', annotations: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`a${i}`, 'x'.repeat(200_000)])) }),
    [['metadata.annotations', /over the 256 KiB limit/]]],
];

for (const [name, input, want] of invalid) {
  test(`validate - ${name}`, () => {
    const got = errorsOf(input);
    for (const [path, message] of want) {
      assert.ok(got.some((g) => g.startsWith(`${path}: `) && message.test(g.slice(path.length + 2))), `want ${path}: ${message}\ngot:\n  ${got.join('\n  ')}`);
    }
  });
}

test('validate - every error is reported at once', () => {
  const got = errorsOf({ ...deployment({ replicas: 'x', bogus: 1 }), metadata: { name: 'Bad!' } });
  assert.ok(got.length >= 3, got.join('\n'));
});

test('validate - an object over 1 MiB is Invalid', () => {
  const big = pod({ containers: [container({ env: Array.from({ length: 12 }, (_, i) => ({ name: `V${i}`, value: 'x'.repeat(100_000) })) })] });
  assert.ok(errorsOf(big).some((e) => /over the 1 MiB limit/.test(e)));
});

test('validate - unknown fields are dropped with strict off', () => {
  const { object } = validateObject(pod({ containers: [container({ imagePulPolicy: 'x' })], bogus: true }), { strict: false });
  assert.not.ok('bogus' in (object.spec as object));
  assert.not.ok('imagePulPolicy' in (object as Pod).spec.containers[0]);
});

test('validate - generateName allowed when creating', () => {
  assert.equal(errorsOf(pod({ containers: [container()] }, { generateName: 'web-' }), { creating: true }), []);
  assert.ok(errorsOf(pod({ containers: [container()] }, { generateName: 'web-' })).some((e) => e.startsWith('metadata.name')));
});

test('defaults - pod as Kubernetes defaults it', () => {
  const { object } = validateObject(pod({ containers: [container({ ports: [{ containerPort: 80 }], livenessProbe: { httpGet: { port: 80 } } })] }));
  const p = object as Pod;
  assert.is(p.metadata.namespace, 'default');
  assert.is(p.spec.restartPolicy, 'Always');
  assert.is(p.spec.terminationGracePeriodSeconds, 30);
  assert.is(p.spec.containers[0].ports![0].protocol, 'TCP');
  assert.equal(p.spec.containers[0].livenessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
});

test('defaults - deployment strategy 25%/25% and the rest', () => {
  const d = validateObject(deployment({})).object as Deployment;
  assert.is(d.spec.replicas, 1);
  assert.equal(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
  assert.is(d.spec.revisionHistoryLimit, 10);
  assert.is(d.spec.progressDeadlineSeconds, 600);
  assert.is(d.spec.template.spec.restartPolicy, 'Always');
});

test('defaults - service targetPort follows port', () => {
  const s = validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }).object as Service;
  assert.is(s.spec.type, 'ClusterIP');
  assert.is(s.spec.ports[0].targetPort, 80);
  assert.is(s.spec.ports[0].protocol, 'TCP');
});

test('defaults - Lease accepts Kubernetes\' own apiVersion', () => {
  const l = validateObject({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'kube-system' }, spec: {} }).object;
  assert.is(l.apiVersion, 'v1');
});

test.run();
