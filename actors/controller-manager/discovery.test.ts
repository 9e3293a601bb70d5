// Prometheus' targets from the objects, and the objects' state as kube-state-metrics series.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerStatus, Deployment, Node, Pod, Service } from '../../protocol/types.ts';
import { discoveryTargets, parseSdTargets } from './discovery.ts';
import { stateSamples } from './state-metrics.ts';

const node = (name: string, address: string, metrics?: string): Node => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name, ...(metrics ? { annotations: { 'skiff.io/metrics-address': metrics } } : {}) },
  spec: {}, status: { addresses: [{ type: 'InternalIP', address }], conditions: [{ type: 'Ready', status: 'True' }] },
} as Node);

const pod = (name: string, over: { annotations?: Record<string, string>; phase?: string; ports?: NonNullable<Pod['status']>['hostPorts']; owner?: string; hash?: string; deleting?: boolean } = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name, namespace: 'shop', uid: `uid-${name}`, annotations: over.annotations ?? { 'prometheus.io/scrape': 'true' },
    labels: over.hash ? { 'pod-template-hash': over.hash } : {},
    ...(over.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: over.owner, uid: 'rs', controller: true }] } : {}),
    ...(over.deleting ? { deletionTimestamp: '2026-12-03T10:00:00Z' } : {}),
  },
  spec: { nodeName: 'node-1', containers: [{ name: 'web', command: ['x'] }] },
  status: {
    phase: over.phase ?? 'Running', hostIP: '127.0.1.1',
    hostPorts: over.ports ?? [{ container: 'web', name: 'http', containerPort: 8080, hostPort: 40001 }, { container: 'web', name: 'metrics', containerPort: 9100, hostPort: 40002 }],
  },
} as Pod);

test('discovery - SKIFF_SD_TARGETS', () => {
  assert.equal(parseSdTargets('nats-1@127.0.0.1:5000, master-1@127.0.0.1:5100,bad,x@y'), [
    { instance: 'nats-1', address: '127.0.0.1:5000' }, { instance: 'master-1', address: '127.0.0.1:5100' },
  ]);
  assert.equal(parseSdTargets(undefined), []);
});

test('discovery - processes by job, nodes where their Node says', () => {
  const groups = discoveryTargets({
    nodes: [node('node-1', '127.0.1.1', '127.0.0.1:5200')],
    pods: [],
    processes: parseSdTargets('nats-1@127.0.0.1:5000,master-2@127.0.0.1:5101,node-1@127.0.0.1:5200'),
  });
  assert.equal(groups, [
    { targets: ['127.0.0.1:5000'], labels: { job: 'nats', instance: 'nats-1', node: 'nats-1' } },
    { targets: ['127.0.0.1:5101'], labels: { job: 'master', instance: 'master-2', node: 'master-2' } },
    { targets: ['127.0.0.1:5200'], labels: { job: 'node', instance: 'node-1', node: 'node-1' } },
  ]);
});

test('discovery - annotated Running pods at their allocated port, by number or name, with their owner', () => {
  const pods = [
    pod('web-abc12-x', { owner: 'web-abc12', hash: 'abc12' }),
    pod('by-name', { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'metrics', 'prometheus.io/path': '/stats' } }),
    pod('by-number', { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' } }),
    pod('not-annotated', { annotations: {} }),
    pod('pending', { phase: 'Pending' }),
    pod('going', { deleting: true }),
    pod('no-ports', { ports: [] }),
  ];
  const groups = discoveryTargets({ nodes: [node('node-1', '127.0.1.1')], pods, processes: [] });
  assert.equal(groups, [
    { targets: ['127.0.1.1:40001'], labels: { job: 'pods', namespace: 'shop', pod: 'web-abc12-x', node: 'node-1', container: 'web', replicaset: 'web-abc12', deployment: 'web' } },
    { targets: ['127.0.1.1:40002'], labels: { job: 'pods', namespace: 'shop', pod: 'by-name', node: 'node-1', container: 'web', __metrics_path__: '/stats' } },
    { targets: ['127.0.1.1:40002'], labels: { job: 'pods', namespace: 'shop', pod: 'by-number', node: 'node-1', container: 'web' } },
  ]);
});

test('state metrics - kube-state-metrics series from the objects', () => {
  const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 3 }, status: { availableReplicas: 2 } } as Deployment;
  const p = pod('web-1');
  p.status!.containerStatuses = [{ name: 'web', restartCount: 4 } as ContainerStatus];
  const s = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'NodePort', ports: [] } } as unknown as Service;
  const samples = stateSamples({ deployments: [d], pods: [p], nodes: [node('node-1', '127.0.1.1')], services: [s] });
  const value = (name: string, labels: Record<string, string>) => samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
  assert.is(value('kube_deployment_spec_replicas', { deployment: 'web' }), 3);
  assert.is(value('kube_deployment_status_replicas_available', { deployment: 'web' }), 2);
  assert.is(value('kube_pod_status_phase', { pod: 'web-1', phase: 'Running' }), 1);
  assert.is(value('kube_pod_status_phase', { pod: 'web-1', phase: 'Pending' }), 0);
  assert.is(samples.filter((x) => x.name === 'kube_pod_status_phase').length, 5, 'one series per phase');
  assert.is(value('kube_pod_container_status_restarts_total', { pod: 'web-1', container: 'web' }), 4);
  assert.is(value('kube_node_status_condition', { node: 'node-1', condition: 'Ready', status: 'true' }), 1);
  assert.is(value('kube_node_status_condition', { node: 'node-1', condition: 'Ready', status: 'false' }), 0);
  assert.is(value('kube_service_info', { service: 'web', type: 'NodePort' }), 1);
});

test.run();
