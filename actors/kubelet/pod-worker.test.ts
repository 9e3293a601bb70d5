// The pod worker and its container actors on the fake runtime: every transition, without
// processes or timing luck. Each case drives the fake processes and checks the pod status.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, fromCallback, setup, type ActorRefFrom } from 'xstate';
import type { Container, Pod, PodStatus } from '../../protocol/types.ts';
import { FakeRuntime, passingProber } from './fake-runtime.ts';
import { freshState, podWorkerMachine, type NodeContext, type PodWorkerInput, type PodWorkerReport } from './pod-worker.machine.ts';
import type { Prober } from './prober.ts';
import type { PodState } from './state.ts';
import { waitFor } from '../../test/harness.ts';

interface Rig {
  runtime: FakeRuntime;
  statuses: PodStatus[];
  terminated: boolean[];
  last: () => PodStatus;
  /** The pod worker, and `stop` to stop it with its host. */
  actor: { send: ActorRefFrom<typeof podWorkerMachine>['send']; stop(): void };
  /** The pgid of the live process of a container, by its command's first word. */
  pgidOf: (cmd: string) => number | undefined;
}

function rig(spec: Partial<Pod['spec']> & { containers: Container[] }, opts: { prober?: Prober; state?: PodState; runtime?: FakeRuntime; graceSeconds?: number; watchMemory?: NodeContext['watchMemory']; node?: Partial<NodeContext> } = {}): Rig {
  const runtime = opts.runtime ?? new FakeRuntime();
  const statuses: PodStatus[] = [];
  const terminated: boolean[] = [];
  const pod: Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'uid-1', creationTimestamp: new Date().toISOString() },
    spec: { nodeName: 'n1', terminationGracePeriodSeconds: opts.graceSeconds ?? 30, ...spec },
  };
  const node: NodeContext = {
    nodeName: 'n1', address: '127.0.0.1', dataDir: '/nonexistent', runtime, prober: opts.prober ?? passingProber,
    backoff: { initialMs: 10, maxMs: 40, resetAfterMs: 600_000 },
    allocatePorts: async () => [], baseEnv: () => ({}), noDisk: true,
    watchMemory: opts.watchMemory,
    ...opts.node,
  };
  // The worker sends its statuses to a writer and reports its end to its parent: these record them.
  const sink = createActor(fromCallback<PodWorkerReport>(({ receive }) => receive((e) => { if (e.type === 'POD_STATUS') statuses.push(e.status); }))).start();
  const host = createActor(setup({
    types: { input: {} as PodWorkerInput, context: {} as PodWorkerInput, events: {} as PodWorkerReport },
    actors: { worker: podWorkerMachine },
  }).createMachine({
    context: ({ input }) => input,
    invoke: { id: 'worker', src: 'worker', input: ({ context }) => context },
    on: { POD_TERMINATED: { actions: ({ event }) => terminated.push(event.deleted) } },
  }), { input: { pod, node, state: opts.state ?? freshState(pod), statuses: sink } }).start();
  const worker = host.getSnapshot().children.worker as ActorRefFrom<typeof podWorkerMachine>;
  const actor = { send: worker.send.bind(worker), stop: () => host.stop() };
  return {
    runtime, statuses, terminated, actor,
    last: () => statuses[statuses.length - 1],
    pgidOf: (cmd) => runtime.running().find((g) => runtime.processes.get(g)!.spec.argv[0] === cmd),
  };
}

const c = (name: string, extra: Partial<Container> = {}): Container => ({ name, command: [name], ...extra });
const state = (r: Rig, name: string) => r.last()?.containerStatuses?.find((s) => s.name === name);

test('pod worker - Always: a crash is followed by CrashLoopBackOff and a restart', async () => {
  const r = rig({ restartPolicy: 'Always', containers: [c('web')] });
  const first = await waitFor('web to start', () => r.pgidOf('web'));
  await waitFor('Running', () => r.last()?.phase === 'Running' && state(r, 'web')?.ready);
  r.runtime.exit(first, 2);
  const backoff = await waitFor('CrashLoopBackOff', () => r.statuses.map((s) => s.containerStatuses![0]).find((x) => x.state.waiting?.reason === 'CrashLoopBackOff'));
  assert.is(backoff.lastState?.terminated?.exitCode, 2);
  assert.is(backoff.lastState?.terminated?.reason, 'Error');
  const second = await waitFor('the restart', () => r.pgidOf('web'));
  assert.is.not(second, first);
  await waitFor('restartCount 1 and running', () => state(r, 'web')?.restartCount === 1 && !!state(r, 'web')?.state.running);
  r.actor.stop();
});

test('pod worker - a container with no probe and no memory limit is Running and Ready in one status', async () => {
  const r = rig({ restartPolicy: 'Always', containers: [c('web')] });
  await waitFor('Ready', () => state(r, 'web')?.ready);
  const running = r.statuses.filter((s) => s.containerStatuses![0].state.running);
  assert.is(running.length, 1, 'no status with the container running but not yet started and ready');
  assert.is(running[0].containerStatuses![0].started, true);
  r.actor.stop();
});

test('pod worker - the memory watchdog kills a container over its limit (OOMKilled) and stops watching when it ends', async () => {
  const watching = new Map<number, { limit: number; over: () => void }>();
  const watchMemory: NodeContext['watchMemory'] = (h, limit, over) => {
    watching.set(h.pgid, { limit, over });
    return () => watching.delete(h.pgid);
  };
  const r = rig({ restartPolicy: 'Never', containers: [c('hog', { resources: { limits: { memory: '64Mi' } } })] }, { watchMemory });
  const pgid = await waitFor('hog to start', () => r.pgidOf('hog'));
  await waitFor('the watchdog watching it', () => watching.get(pgid));
  assert.is(watching.get(pgid)!.limit, 64 * 2 ** 20);
  // A limit alone does not hold readiness back.
  await waitFor('hog ready', () => state(r, 'hog')?.ready);
  watching.get(pgid)!.over();
  await waitFor('OOMKilled', () => state(r, 'hog')?.state.terminated?.reason === 'OOMKilled');
  assert.is(state(r, 'hog')!.state.terminated!.exitCode, 137);
  assert.equal(r.runtime.processes.get(pgid)!.signals, ['SIGKILL']);
  assert.is(watching.size, 0, 'the watchdog stopped with the container');
  r.actor.stop();
});

test('pod worker - host ports are handed out before the containers start, and a pod without ports needs none', async () => {
  const asked: string[] = [];
  const node: Partial<NodeContext> = { allocatePorts: async (p) => { asked.push(p.metadata.name!); return [{ container: 'web', name: 'http', containerPort: 80, hostPort: 31080 }]; } };
  const r = rig({ containers: [c('web', { ports: [{ name: 'http', containerPort: 80 }] })] }, { node });
  const pgid = await waitFor('web to start', () => r.pgidOf('web'));
  assert.equal(asked, ['p']);
  assert.is(r.runtime.processes.get(pgid)!.spec.env.PORT, '31080');
  r.actor.stop();
  const plain = rig({ containers: [c('worker')] }, { node });
  await waitFor('worker to start', () => plain.pgidOf('worker'));
  assert.equal(asked, ['p'], 'no allocation asked for a pod without ports');
  plain.actor.stop();
});

// A data directory under a plain file: no directory can be made there.
const notADirectory = join(tmpdir(), `skiff-pod-worker-test-${process.pid}`);
writeFileSync(notADirectory, '');
test.after(() => rmSync(notADirectory, { force: true }));

for (const [what, node] of [
  ['ports cannot be had', { allocatePorts: async () => { throw new Error('no free port found'); } }],
  ['its directories cannot be made', { noDisk: false, dataDir: join(notADirectory, 'data') }],
] as [string, Partial<NodeContext>][]) {
  test(`pod worker - a pod whose ${what} fails with PrepareFailed, and starts nothing`, async () => {
    const r = rig({ containers: [c('web', what.startsWith('ports') ? { ports: [{ containerPort: 80 }] } : {})] }, { node });
    await waitFor('Failed', () => r.last()?.phase === 'Failed');
    assert.is(r.last().reason, 'PrepareFailed');
    assert.is(r.runtime.processes.size, 0);
    r.actor.stop();
  });
}

for (const how of ['deleted', 'its worker stopped'] as const) {
  test(`pod worker - a container whose pod is ${how} while it starts leaves no process behind`, async () => {
    const runtime = new FakeRuntime();
    let open!: () => void;
    runtime.startGate = new Promise((resolve) => (open = resolve));
    const r = rig({ restartPolicy: 'Always', containers: [c('web')] }, { runtime });
    const pgid = await waitFor('web being started', () => r.pgidOf('web'));
    if (how === 'deleted') r.actor.send({ type: 'TERMINATE', deleted: true });
    else r.actor.stop();
    open();
    await waitFor('the process ended', () => runtime.processes.get(pgid)!.exit);
    if (how === 'deleted') {
      await waitFor('the pod worker done', () => r.terminated.length === 1);
      assert.equal(runtime.processes.get(pgid)!.signals, ['SIGTERM'], 'stopped as any running container is');
    } else assert.equal(runtime.processes.get(pgid)!.signals, ['SIGKILL'], 'killed: nothing else knows of it');
    r.actor.stop();
  });
}

test('pod worker - Never: a clean exit is Succeeded, and nothing restarts', async () => {
  const r = rig({ restartPolicy: 'Never', containers: [c('job')] });
  r.runtime.exit(await waitFor('job to start', () => r.pgidOf('job')), 0);
  await waitFor('Succeeded', () => r.last()?.phase === 'Succeeded');
  assert.is(state(r, 'job')!.state.terminated?.reason, 'Completed');
  await new Promise((res) => setTimeout(res, 50));
  assert.is(r.runtime.processes.size, 1, 'started once');
  r.actor.stop();
});

test('pod worker - OnFailure: a failure restarts, a success ends it', async () => {
  const r = rig({ restartPolicy: 'OnFailure', containers: [c('job')] });
  r.runtime.exit(await waitFor('first run', () => r.pgidOf('job')), 1);
  const second = await waitFor('second run', () => r.pgidOf('job'));
  r.runtime.exit(second, 0);
  await waitFor('Succeeded', () => r.last()?.phase === 'Succeeded');
  assert.is(state(r, 'job')!.restartCount, 1);
  r.actor.stop();
});

test('pod worker - init containers run one at a time, in order, before the containers', async () => {
  const r = rig({ restartPolicy: 'Always', initContainers: [c('first'), c('second')], containers: [c('main')] });
  const one = await waitFor('first init', () => r.pgidOf('first'));
  assert.equal(r.runtime.running(), [one], 'only the first init container runs');
  assert.is(r.last().phase, 'Pending');
  r.runtime.exit(one, 0);
  const two = await waitFor('second init', () => r.pgidOf('second'));
  assert.not.ok(r.pgidOf('main'));
  r.runtime.exit(two, 0);
  await waitFor('main', () => r.pgidOf('main'));
  await waitFor('Initialized', () => r.last().conditions?.find((x) => x.type === 'Initialized')?.status === 'True');
  assert.equal([...r.runtime.processes.values()].map((p) => p.spec.argv[0]), ['first', 'second', 'main']);
  r.actor.stop();
});

test('pod worker - an init container that fails under Never fails the pod', async () => {
  const r = rig({ restartPolicy: 'Never', initContainers: [c('setup')], containers: [c('main')] });
  r.runtime.exit(await waitFor('setup', () => r.pgidOf('setup')), 1);
  await waitFor('Failed', () => r.last()?.phase === 'Failed');
  assert.not.ok(r.pgidOf('main'));
  r.actor.stop();
});

test('pod worker - deletion: SIGTERM, SIGKILL after the grace period, then terminated', async () => {
  const runtime = new FakeRuntime();
  runtime.honourSigterm = false;
  const r = rig({ containers: [c('a'), c('b')] }, { runtime, graceSeconds: 0.2 as unknown as number });
  const [a, b] = [await waitFor('a', () => r.pgidOf('a')), await waitFor('b', () => r.pgidOf('b'))];
  const began = Date.now();
  r.actor.send({ type: 'TERMINATE', deleted: true, graceMs: 150 });
  await waitFor('terminated', () => r.terminated.length === 1);
  assert.ok(Date.now() - began >= 140, 'waited for the grace period');
  for (const g of [a, b]) assert.equal(runtime.processes.get(g)!.signals, ['SIGTERM', 'SIGKILL']);
  assert.equal(r.terminated, [true]);
});

test('pod worker - a failing liveness probe kills and restarts the container', async () => {
  // Healthy, then exactly failureThreshold failures, then healthy again.
  let failuresLeft = 0;
  const prober: Prober = async (probe) => (probe === livenessProbe && failuresLeft > 0 ? (failuresLeft--, false) : true);
  const livenessProbe = { exec: { command: ['check'] }, periodSeconds: 0.02 as unknown as number, failureThreshold: 2 };
  const r = rig({ containers: [c('web', { livenessProbe })] }, { prober });
  const first = await waitFor('web', () => r.pgidOf('web'));
  failuresLeft = 2;
  await waitFor('a restart', () => r.pgidOf('web') !== undefined && r.pgidOf('web') !== first, 5000);
  assert.equal(r.runtime.processes.get(first)!.signals, ['SIGTERM']);
  await waitFor('restartCount 1', () => state(r, 'web')?.restartCount === 1);
  assert.match(state(r, 'web')!.lastState?.terminated?.message ?? '', /liveness probe failed/);
  r.actor.stop();
});

test('pod worker - readiness follows its probe', async () => {
  let ready = false;
  const readinessProbe = { exec: { command: ['ready'] }, periodSeconds: 0.02 as unknown as number, failureThreshold: 1 };
  const r = rig({ containers: [c('web', { readinessProbe })] }, { prober: async () => ready });
  await waitFor('running, not ready', () => r.last()?.phase === 'Running');
  assert.is(state(r, 'web')!.ready, false);
  ready = true;
  await waitFor('ready', () => r.last().conditions?.find((x) => x.type === 'Ready')?.status === 'True');
  ready = false;
  await waitFor('unready again', () => r.last().conditions?.find((x) => x.type === 'Ready')?.status === 'False');
  r.actor.stop();
});

test('pod worker - a startup probe holds readiness and liveness back until it passes', async () => {
  let startedUp = false;
  const asked: string[] = [];
  const startupProbe = { exec: { command: ['up'] }, periodSeconds: 0.02 as unknown as number, failureThreshold: 1000 };
  const readinessProbe = { exec: { command: ['ready'] }, periodSeconds: 0.02 as unknown as number };
  const prober: Prober = async (probe) => {
    asked.push(probe === startupProbe ? 'startup' : 'readiness');
    return probe === startupProbe ? startedUp : true;
  };
  const r = rig({ containers: [c('slow', { startupProbe, readinessProbe })] }, { prober });
  await waitFor('a few startup probes', () => asked.length >= 3);
  assert.ok(asked.every((a) => a === 'startup'), 'nothing but the startup probe runs yet');
  assert.is(state(r, 'slow')!.started, false);
  assert.is(state(r, 'slow')!.ready, false);
  startedUp = true;
  await waitFor('started and ready', () => state(r, 'slow')?.started && state(r, 'slow')?.ready);
  r.actor.stop();
});

test('pod worker - a recorded process is re-adopted, not started again', async () => {
  const runtime = new FakeRuntime();
  const running = await runtime.start({ argv: ['web'], env: {}, cwd: '/', logFile: '/dev/null', exitFile: '/x' });
  const saved: PodState = {
    uid: 'uid-1', namespace: 'default', name: 'p', ports: [], startTime: new Date().toISOString(), initDone: true,
    containers: { web: { restartCount: 4, handle: running } },
  };
  const r = rig({ containers: [c('web')] }, { runtime, state: saved });
  await waitFor('Running', () => r.last()?.phase === 'Running');
  assert.is(runtime.processes.size, 1, 'no new process');
  assert.is(state(r, 'web')!.restartCount, 4, 'restartCount unchanged');
  assert.is(state(r, 'web')!.pid, running.pgid);
  r.actor.stop();
});

test.run();
