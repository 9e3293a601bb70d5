import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node, Pod, Taint } from '../../protocol/types.ts';
import { firstFailure, requirementMatches, unschedulableMessage } from './filters.ts';
import { account, nodeInfoFrom, type NodeInfo } from './node-info.ts';
import { feasibleTarget } from './scheduler.ts';
import { leastAllocated, pickNode, spread } from './scores.ts';

function node(name: string, o: { cpu?: string; memory?: string; ready?: boolean; unschedulable?: boolean; labels?: Record<string, string>; taints?: Taint[]; pods?: string } = {}): NodeInfo {
  const n: Node = {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: o.labels ?? {} },
    spec: { unschedulable: o.unschedulable, taints: o.taints },
    status: { allocatable: { cpu: o.cpu ?? '2', memory: o.memory ?? '4Gi', pods: o.pods ?? '110' }, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
  return nodeInfoFrom(n);
}

function pod(o: { cpu?: string; memory?: string; selector?: Record<string, string>; tolerations?: Pod['spec']['tolerations']; hostPort?: number; owner?: string; affinity?: Pod['spec']['affinity'] } = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', ...(o.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: o.owner, controller: true }] } : {}) },
    spec: {
      containers: [{ name: 'c', command: ['x'], resources: { requests: { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) } }, ...(o.hostPort ? { ports: [{ containerPort: 80, hostPort: o.hostPort }] } : {}) }],
      nodeSelector: o.selector, tolerations: o.tolerations, affinity: o.affinity,
    },
  };
}

const filterCases: [string, Pod, NodeInfo, string | undefined][] = [
  ['fits', pod({ cpu: '500m', memory: '1Gi' }), node('n'), undefined],
  ['not ready', pod(), node('n', { ready: false }), 'node(s) were not ready'],
  ['cordoned', pod(), node('n', { unschedulable: true }), 'node(s) were unschedulable'],
  ['cordoned, but tolerated', pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }), node('n', { unschedulable: true }), undefined],
  ['cordoned, but every taint is tolerated', pod({ tolerations: [{ operator: 'Exists' }] }), node('n', { unschedulable: true }), undefined],
  ['cordoned, and tolerated only for NoExecute', pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }] }), node('n', { unschedulable: true }), 'node(s) were unschedulable'],
  ['too much cpu', pod({ cpu: '3' }), node('n'), 'Insufficient cpu'],
  ['too much memory', pod({ memory: '8Gi' }), node('n'), 'Insufficient memory'],
  ['no room for another pod', pod(), node('n', { pods: '0' }), 'Too many pods'],
  ['node selector matches', pod({ selector: { disk: 'ssd' } }), node('n', { labels: { disk: 'ssd' } }), undefined],
  ['node selector does not', pod({ selector: { disk: 'ssd' } }), node('n', { labels: { disk: 'hdd' } }), "node(s) didn't match node selector"],
  ['affinity In', pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } } }), node('n', { labels: { zone: 'b' } }), undefined],
  ['affinity terms are ORed', pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }, { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] } } } }), node('n', { labels: { gpu: '1' } }), undefined],
  ['affinity fails', pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }] } } } }), node('n', { labels: { zone: 'a' } }), "node(s) didn't match Pod's node affinity/selector"],
  ['untolerated taint', pod(), node('n', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), 'node(s) had untolerated taint {dedicated: db}'],
  ['tolerated taint', pod({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }), node('n', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), undefined],
  ['PreferNoSchedule is not a filter', pod(), node('n', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }), undefined],
  ['NoExecute taint', pod(), node('n', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }), 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }'],
];
for (const [name, p, n, want] of filterCases) test(`filter - ${name}`, () => assert.is(firstFailure(p, n), want));

test('filter - host ports conflict with pods already on the node', () => {
  const n = node('n');
  account(n, 'default/other', pod({ hostPort: 8080 }), 1);
  assert.is(firstFailure(pod({ hostPort: 8080 }), n), "node(s) didn't have free ports for the requested pod ports");
  assert.is(firstFailure(pod({ hostPort: 9090 }), n), undefined);
});

test('filter - requests add up, and an assumed pod counts', () => {
  const n = node('n', { cpu: '1' });
  account(n, 'default/a', pod({ cpu: '600m' }), 1);
  assert.is(firstFailure(pod({ cpu: '500m' }), n), 'Insufficient cpu');
  account(n, 'default/a', pod({ cpu: '600m' }), -1);
  assert.is(firstFailure(pod({ cpu: '500m' }), n), undefined);
});

// Toleration matching itself is protocol/tolerations.test.ts's table.
test('node affinity requirements', () => {
  assert.ok(requirementMatches({ key: 'n', operator: 'Gt', values: ['5'] }, { n: '7' }));
  assert.not.ok(requirementMatches({ key: 'n', operator: 'Lt', values: ['5'] }, { n: '7' }));
  assert.ok(requirementMatches({ key: 'n', operator: 'DoesNotExist' }, {}));
});

test('message - in Kubernetes\' form', () => {
  assert.is(unschedulableMessage(3, new Map([["node(s) didn't match node selector", 1], ['Insufficient memory', 2]])),
    "0/3 nodes are available: 2 Insufficient memory, 1 node(s) didn't match node selector");
  assert.is(unschedulableMessage(0, new Map()), '0/0 nodes are available');
});

const allocated: [string, string, number][] = [['0', '0', 100], ['1', '2Gi', 50], ['2', '4Gi', 0], ['500m', '0', 87.5]];
for (const [cpu, mem, want] of allocated) {
  test(`score - least allocated with ${cpu} cpu and ${mem} memory requested: ${want}`, () => {
    assert.is(leastAllocated(node('n'), { cpu: Number(cpu.replace('m', '')) * (cpu.endsWith('m') ? 1 : 1000), memory: mem === '0' ? 0 : Number(mem.replace('Gi', '')) * 2 ** 30 }), want);
  });
}

test('score - spreading prefers nodes with fewer of the same owner', () => {
  const a = node('a');
  const b = node('b');
  account(a, 'default/x', pod({ owner: 'rs' }), 1);
  assert.is(spread(a, 'rs', 1), 0);
  assert.is(spread(b, 'rs', 1), 100);
  assert.is(pickNode([a, b], { cpu: 0, memory: 0 }, 'rs', 0)!.name, 'b');
});

test('score - spreading outweighs a little more free room', () => {
  const busy = node('busy', { cpu: '4' });
  const empty = node('empty');
  account(empty, 'default/y', pod({ owner: 'rs', cpu: '100m' }), 1);
  assert.is(pickNode([busy, empty], { cpu: 100, memory: 0 }, 'rs', 0)!.name, 'busy');
});

test('score - ties rotate', () => {
  const ns = [node('a'), node('b'), node('c')];
  assert.equal([0, 1, 2].map((t) => pickNode(ns, { cpu: 0, memory: 0 }, undefined, t)!.name), ['a', 'b', 'c']);
});

// Kubernetes' adaptive percentageOfNodesToScore: 50% less 1% per 125 nodes, at least 5%, and at least 100 nodes.
const targets: [number, number][] = [[3, 100], [100, 100], [500, 230], [1000, 420], [5000, 500], [10000, 500]];
for (const [nodes, want] of targets) test(`feasible nodes to find among ${nodes}: ${want}`, () => assert.is(feasibleTarget(nodes), want));

test.run();
