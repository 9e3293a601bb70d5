// The scheduler against a real apiserver, its writes through a writer the test holds back or fails:
// following, leading, the queue, assume-then-bind and what a failed bind undoes.
import { Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Unavailable } from '../../protocol/errors.ts';
import type { Node, Pod } from '../../protocol/types.ts';
import { apiserverForTests, waitFor } from '../../test/harness.ts';
import type { ApiClient } from '../client/client.ts';
import { silentLogger } from '../platform/log.ts';
import { EventRecorder } from '../runtime/events.ts';
import { Scheduler, schedulerMetrics } from './scheduler.ts';

const cluster = apiserverForTests(test);
const metrics = schedulerMetrics(new Registry());

/** Binds through the real client, each held until the test lets it go (or fails it). */
function heldWriter() {
  const pending: { pod: string; node: string; go(): Promise<void>; fail(err: Error): void }[] = [];
  const bound: { pod: string; node: string }[] = [];
  const writer = {
    bind: (namespace: string, name: string, node: string, opts: object) => new Promise((resolve, reject) => {
      pending.push({
        pod: name, node,
        go: async () => {
          resolve(await cluster.api.client.bind(namespace, name, node, opts as { uid?: string }));
          bound.push({ pod: name, node });
        },
        fail: reject,
      });
    }),
    patch: (...args: Parameters<ApiClient['patch']>) => cluster.api.client.patch(...args),
    create: (...args: Parameters<ApiClient['create']>) => cluster.api.client.create(...args),
  };
  return { writer: writer as unknown as ApiClient, pending, bound };
}

function scheduler(): Scheduler {
  const { client } = cluster.api;
  return new Scheduler({ client, log: silentLogger, metrics, watchDeadlineMs: 5000, events: new EventRecorder(client, { component: 'default-scheduler', ratePerSecond: 50, burst: 200 }) });
}

// Each test's nodes and pods share a label of their own (the part of the name before the dash),
// so that no test's pods land on another's nodes.
const group = (name: string) => name.split('-')[0];

async function node(name: string, cpu: string): Promise<void> {
  await cluster.api.client.create<Node>({
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { group: group(name) } }, spec: {},
    status: { allocatable: { cpu, memory: '1Gi', pods: '10' }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
}

async function pod(name: string, cpu: string): Promise<void> {
  await cluster.api.client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: { nodeSelector: { group: group(name) }, containers: [{ name: 'c', command: ['true'], resources: { requests: { cpu } } }] },
  });
}

/** Runs `body` with a scheduler that leads from the start, and stops it after. */
async function leading(body: (held: ReturnType<typeof heldWriter>) => Promise<void>): Promise<void> {
  const s = scheduler();
  const held = heldWriter();
  s.start();
  try {
    await s.lead(held.writer);
    await body(held);
  } finally {
    s.stop();
  }
}

const nodeOf = async (name: string) => (await cluster.api.client.get<Pod>('pods', name, 'default')).spec.nodeName;

test('scheduler - a follower binds nothing; leading, it binds what is pending; following again, it stops at once', async () => {
  await node('s1-a', '1');
  await pod('s1-p1', '100m');
  const s = scheduler();
  const { writer, pending } = heldWriter();
  s.start();
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.is(pending.length, 0, 'nothing bound while following');
    await s.lead(writer);
    await waitFor('a bind', () => pending.length === 1);
    await pending[0].go();
    assert.is(await nodeOf('s1-p1'), 's1-a');
    s.follow();
    await pod('s1-p2', '100m');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(pending.length, 1, 'no bind after following again');
  } finally {
    s.stop();
  }
});

test('scheduler - a pod is charged to its node as soon as it is chosen: the next one goes elsewhere before the first bind is answered', async () => {
  await node('s2-a', '1');
  await node('s2-b', '1');
  await leading(async ({ pending }) => {
    await pod('s2-p1', '600m');
    await waitFor('the first bind sent', () => pending.length === 1);
    await pod('s2-p2', '600m');
    await waitFor('the second bind sent', () => pending.length === 2);
    assert.is.not(pending[0].node, pending[1].node, 'the assumed 600m left no room for another on that node');
    for (const p of pending) await p.go();
  });
});

test('scheduler - a failed bind undoes the assumption and the pod is tried again', async () => {
  await node('s3-a', '1');
  await leading(async ({ pending }) => {
    await pod('s3-p1', '600m');
    await waitFor('a bind', () => pending.length === 1);
    pending[0].fail(new Unavailable('apiserver went away'));
    // Were the 600m still charged, the retry could not fit on s3-a.
    await waitFor('the retry', () => pending.length === 2, 5000);
    assert.is(pending[1].pod, 's3-p1');
    assert.is(pending[1].node, 's3-a');
    await pending[1].go();
    assert.is(await nodeOf('s3-p1'), 's3-a');
  });
});

test('scheduler - a pod that fits nowhere is marked Unschedulable with the reasons, and placed once a node has room', async () => {
  await node('s4-small', '1');
  await leading(async ({ pending }) => {
    await pod('s4-big', '64');
    const condition = await waitFor('PodScheduled=False', async () => (await cluster.api.client.get<Pod>('pods', 's4-big', 'default')).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    assert.is(condition.reason, 'Unschedulable');
    assert.match(condition.message ?? '', /1 Insufficient cpu/);
    await node('s4-huge', '100');
    await waitFor('bound once a node fits', () => pending.some((p) => p.pod === 's4-big' && p.node === 's4-huge'));
    for (const p of pending) if (p.pod === 's4-big') await p.go();
  });
});

test.run();
