// The Endpoints a Service should have, from the pods it selects: table-driven.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pod, Service } from '../../../protocol/types.ts';
import { desiredEndpoints, endpointSubsets, hostPortFor, sameEndpoints, selects } from './reconcile.ts';

function svc(selector: Record<string, string> | undefined, ports: Service['spec']['ports'] = [{ name: 'http', port: 80, targetPort: 'http' }], namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace, uid: 'svc-uid', labels: { tier: 'front' } }, spec: { selector, ports } };
}

interface PodOpts {
  namespace?: string;
  labels?: Record<string, string>;
  ready?: boolean;
  ip?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  deleting?: boolean;
  containerPort?: number;
  hostPort?: number;
}

function pod(name: string, o: PodOpts = {}): Pod {
  const containerPort = o.containerPort ?? 8080;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', command: ['x'], ports: [{ name: 'http', containerPort }] }] },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip === '' ? {} : { podIP: o.ip ?? '127.0.1.1' }),
      hostPorts: [{ container: 'c', name: 'http', containerPort, hostPort: o.hostPort ?? 40000 }],
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

const ips = (subsets: ReturnType<typeof endpointSubsets>) => subsets.map((s) => ({
  ready: (s.addresses ?? []).map((a) => a.targetRef!.name),
  notReady: (s.notReadyAddresses ?? []).map((a) => a.targetRef!.name),
  ports: s.ports!.map((p) => `${p.name ?? ''}:${p.port}`),
}));

test('selects: every selector label must match; no selector selects nothing', () => {
  assert.ok(selects(svc({ app: 'web' }), { app: 'web', extra: 'x' }));
  assert.not.ok(selects(svc({ app: 'web', tier: 'a' }), { app: 'web' }));
  assert.not.ok(selects(svc({ app: 'web' }), undefined));
  assert.not.ok(selects(svc(undefined), { app: 'web' }));
  assert.not.ok(selects(svc({}), { app: 'web' }));
});

test('hostPortFor: a named target port through the container port it names; a number through its allocation, else itself', () => {
  const p = pod('a', { containerPort: 8080, hostPort: 41000 });
  assert.is(hostPortFor(p, 'http'), 41000);
  assert.is(hostPortFor(p, 'nope'), undefined);
  assert.is(hostPortFor(p, 8080), 41000);
  assert.is(hostPortFor(p, 9090), 9090, 'an undeclared port is the process\'s own');
});

test('endpointSubsets: Ready pods as addresses, the others as notReadyAddresses, in name order', () => {
  const subsets = endpointSubsets(svc({ app: 'web' }), [pod('c'), pod('a'), pod('b', { ready: false })]);
  assert.equal(ips(subsets), [{ ready: ['a', 'c'], notReady: ['b'], ports: ['http:40000'] }]);
});

test('endpointSubsets: left out - other namespaces, other labels, no IP yet, ended or being deleted, no port for the target', () => {
  const pods = [
    pod('in'),
    pod('other-ns', { namespace: 'prod' }),
    pod('other-app', { labels: { app: 'db' } }),
    pod('no-ip', { ip: '' }),
    pod('done', { phase: 'Succeeded' }),
    pod('failed', { phase: 'Failed' }),
    pod('leaving', { deleting: true }),
  ];
  assert.equal(ips(endpointSubsets(svc({ app: 'web' }), pods)), [{ ready: ['in'], notReady: [], ports: ['http:40000'] }]);
  const noSuchPort = svc({ app: 'web' }, [{ name: 'grpc', port: 90, targetPort: 'grpc' }]);
  assert.equal(endpointSubsets(noSuchPort, pods), []);
});

test('endpointSubsets: pods whose ports differ go in subsets of their own, in a stable order', () => {
  const pods = [pod('a', { hostPort: 40001 }), pod('b', { hostPort: 40000 }), pod('c', { hostPort: 40001 })];
  const subsets = endpointSubsets(svc({ app: 'web' }), pods);
  assert.equal(ips(subsets), [
    { ready: ['b'], notReady: [], ports: ['http:40000'] },
    { ready: ['a', 'c'], notReady: [], ports: ['http:40001'] },
  ]);
  assert.equal(endpointSubsets(svc({ app: 'web' }), [...pods].reverse()), subsets, 'the order pods come in does not matter');
});

test('desiredEndpoints: named and labelled as the service, owned by it; sameEndpoints compares subsets and labels only', () => {
  const s = svc({ app: 'web' });
  const e = desiredEndpoints(s, [pod('a')]);
  assert.is(e.metadata.name, 'web');
  assert.equal(e.metadata.labels, { tier: 'front' });
  assert.equal(e.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true }]);
  assert.ok(sameEndpoints({ ...e, metadata: { ...e.metadata, resourceVersion: '7' } }, e));
  assert.not.ok(sameEndpoints(desiredEndpoints(s, [pod('a', { ready: false })]), e));
  assert.not.ok(sameEndpoints({ ...e, metadata: { ...e.metadata, labels: {} } }, e));
});

test.run();
