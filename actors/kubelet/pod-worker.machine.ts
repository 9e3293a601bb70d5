// One pod on this node: prepare its directories and ports, run its init containers one after
// another, then its containers, each a child container actor; and when the pod is deleted (or the
// node stops), stop them all. It owns the pod's processes: nothing it started outlives it unless
// the kubelet is asked to keep pods running. Its containers report to it with events, and it
// reports to the kubelet with events (PodWorkerReport): the pod's status, and its end.
import { assign, enqueueActions, fromPromise, sendParent, sendTo, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import type { Container, Pod, PodStatus } from '../../protocol/types.ts';
import { errorMessage } from '../../protocol/errors.ts';
import { cpuMillis, memoryBytes } from '../../protocol/quantity.ts';
import { containerMachine, type ContainerReport } from './container.machine.ts';
import type { BackoffPolicy } from '../../protocol/backoff.ts';
import { podBackoff, shouldRestart } from './lifecycle.ts';
import { instanceLog } from './logs.ts';
import { containerArgv, containerEnv, type AllocatedPort } from './pod-env.ts';
import { containerCwd, containerLogDir, podPaths, preparePodDirs, type PodPaths } from './pod-fs.ts';
import { buildPodStatus, type ContainerRecord } from './pod-status.ts';
import type { Prober } from './prober.ts';
import type { ProcessHandle, Runtime } from './runtime.ts';
import { savePodState, type PodState } from './state.ts';
import { containerCgroup, cgroupOomKilled, type CgroupHost } from './limits.ts';
import { join } from 'node:path';

/** What every pod worker of a node shares. */
export interface NodeContext {
  nodeName: string;
  address: string;
  dataDir: string;
  runtime: Runtime;
  prober: Prober;
  backoff: BackoffPolicy;
  allocatePorts: (pod: Pod) => Promise<AllocatedPort[]>;
  baseEnv: (pod: Pod) => Record<string, string>;
  cgroups?: CgroupHost;
  watchMemory?: (handle: ProcessHandle, limitBytes: number, onOverLimit: () => void) => () => void;
  /** Skip creating directories (the benchmark's hollow nodes). */
  noDisk?: boolean;
}

export interface PodWorkerInput {
  pod: Pod;
  node: NodeContext;
  /** Where the pod's statuses go (POD_STATUS events): the kubelet's status writer. */
  statuses: AnyActorRef;
  /** The pod's record: fresh, or what an earlier kubelet left to re-adopt. The worker keeps its own copy. */
  state: PodState;
}

/** What a pod worker tells: its status writer each status, and the kubelet its end. */
export type PodWorkerReport =
  | { type: 'POD_STATUS'; uid: string; pod: Pod; status: PodStatus }
  /** Its processes are all gone; `deleted` says whether the pod itself is being deleted. */
  | { type: 'POD_TERMINATED'; uid: string; pod: Pod; deleted: boolean; state: PodState };

type ContainerRef = ActorRefFrom<typeof containerMachine>;

interface Ctx extends PodWorkerInput {
  paths: PodPaths;
  /** The status this worker last computed: what its conditions' transition times carry on from. */
  lastStatus?: PodStatus;
  state: PodState;
  records: Record<string, ContainerRecord>;
  initIndex: number;
  children: Record<string, ContainerRef>;
  live: number;
  deleted: boolean;
  graceMs?: number;
  failure?: { reason: string; message: string };
}

type Ev =
  | { type: 'UPDATE'; pod: Pod }
  | { type: 'TERMINATE'; deleted: boolean; graceMs?: number }
  | ContainerReport;

export function freshState(pod: Pod): PodState {
  // A pod without init containers is past them from the start, so its first record is final.
  const initDone = !pod.spec.initContainers?.length;
  return { uid: pod.metadata.uid!, namespace: pod.metadata.namespace!, name: pod.metadata.name!, ports: [], startTime: new Date().toISOString(), initDone, containers: {} };
}

function effectiveGraceMs(pod: Pod): number {
  return (pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
}

function initRecord(c: Container, init: boolean): ContainerRecord {
  return { name: c.name, state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } }, restartCount: 0, ready: false, started: false };
}

/** The pod's status as its containers' records now say. Pure. */
function podStatusOf(ctx: Ctx): PodStatus {
  const pod = ctx.lastStatus ? { ...ctx.pod, status: ctx.lastStatus } : ctx.pod;
  const init = (pod.spec.initContainers ?? []).map((c) => ctx.records[c.name] ?? initRecord(c, true));
  const containers = pod.spec.containers.map((c) => ctx.records[c.name] ?? initRecord(c, false));
  return buildPodStatus({
    pod,
    init,
    containers,
    initFailed: !!ctx.failure && ctx.failure.reason === 'InitContainerFailed',
    failure: ctx.failure && ctx.failure.reason !== 'InitContainerFailed' ? ctx.failure : undefined,
    podIP: ctx.node.address,
    hostIP: ctx.node.address,
    startTime: ctx.state.startTime,
    hostPorts: ctx.state.ports,
  }, new Date());
}

function statusReport(ctx: Ctx, status: PodStatus): PodWorkerReport {
  return { type: 'POD_STATUS', uid: ctx.pod.metadata.uid!, pod: ctx.pod, status };
}

/** `change`, and the pod's status as it makes it. Pure. */
function withStatus(ctx: Ctx, change: Partial<Ctx>): Partial<Ctx> {
  return { ...change, lastStatus: podStatusOf({ ...ctx, ...change }) };
}

/** The record with one container's entry changed. Pure. */
function withContainer(state: PodState, name: string, update: Partial<PodState['containers'][string]>): PodState {
  return { ...state, containers: { ...state.containers, [name]: { ...state.containers[name], restartCount: 0, ...update } } };
}

/** The input of the child actor for one container, re-adopting its process if one was recorded. */
function containerInput(ctx: Ctx, c: Container, init: boolean) {
  const { node, pod, paths } = ctx;
  const saved = ctx.state.containers[c.name];
  const policy = init && pod.spec.restartPolicy === 'Always' ? 'OnFailure' : pod.spec.restartPolicy ?? 'Always';
  const ended = !saved?.handle ? saved?.lastState?.terminated : undefined;
  const finished = ended && !shouldRestart(policy, ended.exitCode) ? saved!.lastState : undefined;
  const envCtx = { pod, podIP: node.address, hostIP: node.address, nodeName: node.nodeName, ports: ctx.state.ports, base: node.baseEnv(pod) };
  const env = containerEnv(envCtx, c);
  const cwd = containerCwd(paths, c);
  const logDir = containerLogDir(paths, c.name);
  const limit = c.resources?.limits?.memory ? memoryBytes(c.resources.limits.memory) : undefined;
  const cpuLimit = c.resources?.limits?.cpu ? cpuMillis(c.resources.limits.cpu) : undefined;
  const cgroupFor = (restartCount: number) => node.cgroups
    ? containerCgroup(node.cgroups, `${pod.metadata.uid}-${c.name}-${restartCount}`, { memoryBytes: limit, cpuMillis: cpuLimit })
    : undefined;
  return {
    spec: c,
    init,
    restartPolicy: pod.spec.restartPolicy ?? 'Always',
    backoff: podBackoff(node.backoff, pod.metadata.annotations),
    graceMs: effectiveGraceMs(pod),
    runtime: node.runtime,
    prober: node.prober,
    probeTarget: { host: node.address, ports: ctx.state.ports.filter((p) => p.container === c.name), env, cwd },
    launchSpec: (restartCount: number) => ({
      argv: containerArgv(c, env), env, cwd,
      logFile: instanceLog(logDir, restartCount),
      exitFile: join(logDir, `${restartCount}.exit`),
      cgroup: cgroupFor(restartCount),
    }),
    memoryLimitBytes: limit,
    watchMemory: node.cgroups ? undefined : node.watchMemory,
    oomKilled: node.cgroups ? (n: number) => cgroupOomKilled(join(node.cgroups!.root, `${pod.metadata.uid}-${c.name}-${n}`)) : undefined,
    // One that ended while no kubelet ran, and is to start again, counts a restart.
    restartCount: (saved?.restartCount ?? 0) + (ended && !finished ? 1 : 0),
    lastState: saved?.lastState,
    adopt: saved?.handle,
    finished,
  };
}

/** Whether the pod still needs host ports handed out (the one step of preparing that waits). */
function needsPorts(ctx: Ctx): boolean {
  if (ctx.state.ports.length > 0) return false;
  for (const c of ctx.pod.spec.initContainers ?? []) if (c.ports?.length) return true;
  for (const c of ctx.pod.spec.containers) if (c.ports?.length) return true;
  return false;
}

function prepareFailure(err: unknown): Ctx['failure'] {
  return { reason: 'PrepareFailed', message: errorMessage(err) };
}

export const podWorkerMachine = setup({
  types: { input: {} as PodWorkerInput, context: {} as Ctx, events: {} as Ev },
  actors: {
    container: containerMachine,
    allocatePorts: fromPromise<AllocatedPort[], { node: NodeContext; pod: Pod }>(({ input }) => input.node.allocatePorts(input.pod)),
  },
  guards: {
    initDone: ({ context }) => context.state.initDone || context.initIndex >= (context.pod.spec.initContainers?.length ?? 0),
    allStopped: ({ context }) => context.live <= 0,
    deleting: ({ event }) => event.type === 'UPDATE' && !!event.pod.metadata.deletionTimestamp,
  },
  actions: {
    // A status costs one assign: each assign is a new snapshot, and a pod start makes many.
    publish: enqueueActions(({ context, enqueue }) => {
      const status = podStatusOf(context);
      enqueue.assign({ lastStatus: status });
      enqueue.sendTo(context.statuses, statusReport(context, status));
    }),
    /** The status an assign has just computed (withStatus). */
    sendStatus: sendTo(({ context }) => context.statuses, ({ context }) => statusReport(context, context.lastStatus!)),
    saveState: ({ context }) => { if (!context.node.noDisk) savePodState(context.paths, context.state); },
    /** The pod's directories and its record on disk; a failure fails the pod. */
    prepareDisk: enqueueActions(({ context, enqueue }) => {
      if (context.node.noDisk) return;
      try {
        preparePodDirs(context.pod, context.paths);
        savePodState(context.paths, context.state);
      } catch (err) {
        enqueue.assign({ failure: prepareFailure(err) });
      }
    }),
    reportTerminated: sendParent(({ context }): PodWorkerReport => ({ type: 'POD_TERMINATED', uid: context.pod.metadata.uid!, pod: context.pod, deleted: context.deleted, state: context.state })),
    markInitDone: assign({ state: ({ context }) => ({ ...context.state, initDone: true }) }),
    stopChildren: enqueueActions(({ context, enqueue }) => {
      for (const ref of Object.values(context.children)) enqueue.sendTo(ref, { type: 'STOP', graceMs: context.graceMs });
    }),
  },
}).createMachine({
  id: 'podWorker',
  context: ({ input }) => ({
    ...input,
    paths: podPaths(input.node.dataDir, input.pod.metadata.uid!),
    records: {},
    initIndex: 0,
    children: {},
    live: 0,
    deleted: false,
  }),
  initial: 'preparing',
  on: {
    UPDATE: [
      { guard: 'deleting', target: '.terminating', actions: assign({ pod: ({ event }) => event.pod, deleted: true, graceMs: ({ event }) => effectiveGraceMs(event.pod) }) },
      { actions: [assign({ pod: ({ event }) => event.pod }), 'publish'] },
    ],
    TERMINATE: { target: '.terminating', actions: assign({ deleted: ({ event }) => event.deleted, graceMs: ({ event, context }) => event.graceMs ?? effectiveGraceMs(context.pod) }) },
    CONTAINER_RECORD: [
      {
        guard: ({ event }) => event.started !== undefined,
        actions: [
          assign(({ context, event }) => withStatus(context, {
            records: { ...context.records, [event.record.name]: event.record },
            state: withContainer(context.state, event.record.name, { ...event.started!, lastState: context.state.containers[event.record.name]?.lastState }),
          })),
          'saveState',
          'sendStatus',
        ],
      },
      { actions: [assign(({ context, event }) => withStatus(context, { records: { ...context.records, [event.record.name]: event.record } })), 'sendStatus'] },
    ],
    CONTAINER_EXITED: {
      actions: [
        assign({ state: ({ context, event }) => withContainer(context.state, event.name, { handle: undefined, restartCount: event.restartCount, lastState: event.state }) }),
        'saveState',
      ],
    },
  },
  states: {
    preparing: {
      entry: 'publish',
      always: [
        { guard: ({ context }) => needsPorts(context), target: 'allocating' },
        // Nothing to wait for: prepared now, without an actor for it.
        { target: 'prepared', actions: 'prepareDisk' },
      ],
    },
    // Prepared (or failed to be): the init containers next, or with none left the containers,
    // decided here rather than in a state of its own (one step fewer for most pods).
    prepared: {
      always: [
        { guard: ({ context }) => !!context.failure, target: 'failed' },
        { guard: 'initDone', target: 'running', actions: 'markInitDone' },
        { target: 'initializing' },
      ],
    },
    allocating: {
      invoke: {
        src: 'allocatePorts',
        input: ({ context }) => ({ node: context.node, pod: context.pod }),
        onDone: { target: 'prepared', actions: [assign({ state: ({ context, event }) => ({ ...context.state, ports: event.output }) }), 'prepareDisk'] },
        onError: { target: 'failed', actions: assign({ failure: ({ event }) => prepareFailure(event.error) }) },
      },
    },
    initializing: {
      initial: 'runOne',
      states: {
        next: {
          always: [
            { guard: 'initDone', target: '#podWorker.running', actions: 'markInitDone' },
            { target: 'runOne' },
          ],
        },
        runOne: {
          entry: assign(({ context, spawn }) => {
            const c = context.pod.spec.initContainers![context.initIndex];
            const ref = spawn('container', { id: `init-${c.name}`, input: containerInput(context, c, true) });
            return { children: { ...context.children, [c.name]: ref }, live: context.live + 1 };
          }),
          always: [
            {
              guard: ({ context }) => context.records[context.pod.spec.initContainers![context.initIndex].name]?.state.terminated?.exitCode === 0,
              target: 'next',
              actions: enqueueActions(({ context, enqueue }) => {
                const name = context.pod.spec.initContainers![context.initIndex].name;
                const { [name]: done, ...rest } = context.children;
                enqueue.stopChild(done);
                enqueue.assign({ initIndex: context.initIndex + 1, children: rest, live: context.live - 1 });
              }),
            },
            {
              // Failed and not to be retried: the pod has failed.
              guard: ({ context }) => {
                const r = context.records[context.pod.spec.initContainers![context.initIndex].name];
                return !!r?.state.terminated && r.state.terminated.exitCode !== 0 && context.pod.spec.restartPolicy === 'Never';
              },
              target: '#podWorker.failed',
              actions: assign({ failure: ({ context }) => ({ reason: 'InitContainerFailed', message: `init container ${context.pod.spec.initContainers![context.initIndex].name} failed` }) }),
            },
          ],
        },
      },
    },
    running: {
      entry: [
        assign(({ context, spawn }) => {
          const children = { ...context.children };
          for (const c of context.pod.spec.containers) children[c.name] = spawn('container', { id: `c-${c.name}`, input: containerInput(context, c, false) });
          return { children, live: context.live + context.pod.spec.containers.length };
        }),
        // The record as prepared says all else; after init containers it must say they are done.
        enqueueActions(({ context, enqueue }) => { if (context.pod.spec.initContainers?.length) enqueue('saveState'); }),
      ],
    },
    failed: {
      entry: 'publish',
    },
    terminating: {
      entry: ['stopChildren', 'publish'],
      on: {
        CONTAINER_STOPPED: { actions: assign({ live: ({ context }) => context.live - 1 }) },
        // A pod deleted again with a shorter grace: pass it on.
        UPDATE: { actions: [assign({ pod: ({ event }) => event.pod }), 'publish'] },
      },
      always: { guard: 'allStopped', target: 'terminated' },
    },
    terminated: {
      type: 'final',
      entry: ['publish', 'reportTerminated'],
    },
  },
});
