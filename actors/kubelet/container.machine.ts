// One container of a pod, for its whole life: start, run (with its probes and memory watchdog),
// exit, back off and start again as the restart policy says, and stop when the pod goes. The
// process, its watchers (probes and memory watchdog, for a container that has them) and the
// SIGTERM-then-SIGKILL timer are each an invoked actor, so leaving a state ends them. It reports
// to its pod worker with events (ContainerReport): every change of its record, each process it
// starts and each exit (for the pod's record on disk), and its end.
import { assign, fromCallback, sendParent, setup } from 'xstate';
import type { Container, ContainerState } from '../../protocol/types.ts';
import { nextBackoff, type BackoffPolicy } from '../../protocol/backoff.ts';
import { shouldRestart, type RestartPolicy } from './lifecycle.ts';
import { initialProbeState, probeTiming, recordProbe, type ProbeKind, type ProbeState } from './probe.ts';
import type { Prober, ProbeTarget } from './prober.ts';
import type { ContainerRecord } from './pod-status.ts';
import type { ExitInfo, LaunchSpec, ProcessHandle, Runtime } from './runtime.ts';

export interface ContainerInput {
  spec: Container;
  /** Init containers run to completion; `Always` means retry on failure for them. */
  init: boolean;
  restartPolicy: RestartPolicy;
  backoff: BackoffPolicy;
  /** SIGTERM to SIGKILL when the pod stops or a probe kills the container. */
  graceMs: number;
  runtime: Runtime;
  prober: Prober;
  probeTarget: ProbeTarget;
  /** What to launch for a given instance (the log file is per restart count). */
  launchSpec: (restartCount: number) => LaunchSpec;
  memoryLimitBytes?: number;
  /** Watches the group's RSS against the limit where no cgroup does; returns the way to stop. */
  watchMemory?: (handle: ProcessHandle, limitBytes: number, onOverLimit: () => void) => () => void;
  /** In cgroup mode: whether the kernel OOM-killed the instance. */
  oomKilled?: (restartCount: number) => boolean;
  restartCount: number;
  lastState?: ContainerState;
  /** A process still running from before a kubelet restart. */
  adopt?: ProcessHandle;
  /** The container had already ended for good before a kubelet restart. */
  finished?: ContainerState;
}

/** What a container tells its pod worker. */
export type ContainerReport =
  /** Its record changed; `started` comes with the record of a process it started (or re-adopted), for the pod's record on disk. */
  | { type: 'CONTAINER_RECORD'; record: ContainerRecord; started?: { handle: ProcessHandle; restartCount: number } }
  | { type: 'CONTAINER_EXITED'; name: string; restartCount: number; state: ContainerState }
  /** Stopped for good at the pod's request; its last record came just before. */
  | { type: 'CONTAINER_STOPPED'; name: string };

interface Ctx extends ContainerInput {
  handle?: ProcessHandle;
  state: ContainerState;
  ready: boolean;
  started: boolean;
  stopRequested: boolean;
  killReason?: 'liveness' | 'startup' | 'oom';
  delayMs: number;
  lastBackoffMs?: number;
}

type Ev =
  | { type: 'SPAWNED'; handle: ProcessHandle }
  | { type: 'START_FAILED'; error: unknown }
  | { type: 'EXITED'; exit: ExitInfo }
  | { type: 'LOST' }
  | { type: 'READY'; ready: boolean }
  | { type: 'STARTED' }
  | { type: 'LIVENESS_FAILED' }
  | { type: 'STARTUP_FAILED' }
  | { type: 'OOM' }
  | { type: 'STOP'; graceMs?: number };

export function exitState(exit: ExitInfo, ctx: Pick<Ctx, 'killReason' | 'handle' | 'oomKilled' | 'restartCount'>): ContainerState {
  const oom = ctx.killReason === 'oom' || !!ctx.oomKilled?.(ctx.restartCount);
  const reason = oom ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
  const message = ctx.killReason === 'liveness' ? 'killed: liveness probe failed'
    : ctx.killReason === 'startup' ? 'killed: startup probe failed' : undefined;
  return {
    terminated: {
      exitCode: oom && exit.exitCode === 0 ? 137 : exit.exitCode,
      reason,
      ...(message ? { message } : {}),
      ...(exit.signal ? { signal: { SIGKILL: 9, SIGTERM: 15 }[exit.signal as string] ?? 0 } : {}),
      ...(ctx.handle ? { startedAt: ctx.handle.startedAt } : {}),
      finishedAt: new Date().toISOString(),
    },
  };
}

function record(ctx: Ctx): ContainerRecord {
  return {
    name: ctx.spec.name,
    state: ctx.state,
    ...(ctx.lastState ? { lastState: ctx.lastState } : {}),
    restartCount: ctx.restartCount,
    ready: ctx.ready,
    started: ctx.started,
    ...(ctx.handle && ctx.state.running ? { pid: ctx.handle.pgid } : {}),
  };
}

/** Whether a running container has anything watching it: a probe, or a memory limit to enforce. */
function watched(ctx: Ctx): boolean {
  const { spec } = ctx;
  return !!(spec.startupProbe || spec.livenessProbe || spec.readinessProbe) || memoryWatched(ctx);
}

function memoryWatched(ctx: Ctx): boolean {
  return !!(ctx.memoryLimitBytes && ctx.watchMemory && ctx.handle);
}

/**
 * What watches a running container: its probes (the startup probe until it passes, then liveness
 * and readiness, reporting verdict changes) and the memory watchdog, which kills the group when its
 * resident memory passes the limit. Invoked only for a container that has one of them; any other
 * is started and ready as soon as it runs.
 */
const watchers = fromCallback<Ev, { ctx: Ctx }>(({ input: { ctx }, sendBack }) => {
  const input = { spec: ctx.spec, prober: ctx.prober, target: ctx.probeTarget };
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const loop = (kind: ProbeKind, onVerdict: (s: ProbeState, prev: ProbeState) => boolean) => {
    const probe = kind === 'startup' ? input.spec.startupProbe! : kind === 'liveness' ? input.spec.livenessProbe! : input.spec.readinessProbe!;
    const t = probeTiming(probe);
    let state = initialProbeState(kind);
    const tick = async () => {
      const began = Date.now();
      const ok = await input.prober(probe, input.target, t.timeoutMs);
      if (stopped) return;
      const prev = state;
      state = recordProbe(state, ok, probe);
      if (!onVerdict(state, prev)) return;
      const timer = setTimeout(tick, Math.max(0, t.periodMs - (Date.now() - began)));
      timers.add(timer);
    };
    timers.add(setTimeout(tick, t.initialDelayMs));
  };
  const afterStart = () => {
    sendBack({ type: 'STARTED' });
    if (input.spec.readinessProbe) {
      loop('readiness', (s, prev) => {
        if (s.verdict !== prev.verdict || prev.successes + prev.failures === 0) sendBack({ type: 'READY', ready: s.verdict === 'success' });
        return true;
      });
    } else sendBack({ type: 'READY', ready: true });
    if (input.spec.livenessProbe) {
      loop('liveness', (s) => {
        if (s.verdict !== 'failure') return true;
        sendBack({ type: 'LIVENESS_FAILED' });
        return false;
      });
    }
  };
  if (input.spec.startupProbe) {
    loop('startup', (s) => {
      if (s.verdict === 'success') afterStart();
      else if (s.verdict === 'failure') sendBack({ type: 'STARTUP_FAILED' });
      else return true;
      return false;
    });
  } else afterStart();
  const handle = ctx.handle!;
  const stopWatchdog = memoryWatched(ctx)
    ? ctx.watchMemory!(handle, ctx.memoryLimitBytes!, () => {
      ctx.runtime.signal(handle, 'SIGKILL');
      sendBack({ type: 'OOM' });
    })
    : undefined;
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    stopWatchdog?.();
  };
});

/**
 * The container's process: starts it (unless there is a `handle` to re-adopt) and says SPAWNED,
 * then waits for it to end and says EXITED. One actor for both, so that a state left while the
 * start is under way cannot lose the process: a group that comes up after its actor was stopped
 * is killed, as nothing else knows of it.
 */
const processActor = fromCallback<Ev, { runtime: Runtime; spec?: LaunchSpec; handle?: ProcessHandle }>(({ input, sendBack }) => {
  const abort = new AbortController();
  const { runtime } = input;
  const waitFor = (handle: ProcessHandle) => runtime.wait(handle, abort.signal).then(
    (exit) => { if (!abort.signal.aborted) sendBack({ type: 'EXITED', exit }); },
    () => { if (!abort.signal.aborted) sendBack({ type: 'LOST' }); },
  );
  if (input.handle) void waitFor(input.handle);
  else {
    runtime.start(input.spec!).then(
      (handle) => {
        if (abort.signal.aborted) return runtime.signal(handle, 'SIGKILL');
        sendBack({ type: 'SPAWNED', handle });
        void waitFor(handle);
      },
      (error) => { if (!abort.signal.aborted) sendBack({ type: 'START_FAILED', error }); },
    );
  }
  return () => abort.abort();
});

/** SIGTERM to the group now, SIGKILL once the grace period is over. */
const terminator = fromCallback<Ev, { runtime: Runtime; handle: ProcessHandle; graceMs: number }>(({ input }) => {
  if (input.graceMs <= 0) {
    input.runtime.signal(input.handle, 'SIGKILL');
    return () => {};
  }
  input.runtime.signal(input.handle, 'SIGTERM');
  const t = setTimeout(() => input.runtime.signal(input.handle, 'SIGKILL'), input.graceMs);
  return () => clearTimeout(t);
});

export const containerMachine = setup({
  types: { input: {} as ContainerInput, context: {} as Ctx, events: {} as Ev },
  actors: {
    process: processActor,
    watchers,
    terminator,
  },
  guards: {
    adopting: ({ context }) => !!context.adopt,
    stopRequested: ({ context }) => context.stopRequested,
    restarts: ({ context }) => {
      const code = context.state.terminated?.exitCode ?? 0;
      const policy: RestartPolicy = context.init && context.restartPolicy === 'Always' ? 'OnFailure' : context.restartPolicy;
      return shouldRestart(policy, code);
    },
  },
  actions: {
    report: sendParent(({ context }): ContainerReport => ({ type: 'CONTAINER_RECORD', record: record(context) })),
    spawned: assign(({ event }) => {
      const { handle } = event as Extract<Ev, { type: 'SPAWNED' }>;
      return { handle, state: { running: { startedAt: handle.startedAt } }, killReason: undefined };
    }),
    reportStarted: sendParent(({ context }): ContainerReport => ({ type: 'CONTAINER_RECORD', record: record(context), started: { handle: context.handle!, restartCount: context.restartCount } })),
    persistExited: sendParent(({ context }): ContainerReport => ({ type: 'CONTAINER_EXITED', name: context.spec.name, restartCount: context.restartCount, state: context.state })),
    reportStopped: sendParent(({ context }): ContainerReport => ({ type: 'CONTAINER_STOPPED', name: context.spec.name })),
  },
  delays: {
    startDelay: ({ context }) => context.delayMs,
  },
}).createMachine({
  id: 'container',
  context: ({ input }) => ({
    ...input,
    state: { waiting: { reason: input.init ? 'PodInitializing' : 'ContainerCreating' } },
    ready: false,
    started: false,
    stopRequested: false,
    delayMs: 0,
  }),
  initial: 'boot',
  on: {
    STOP: { actions: assign({ stopRequested: true, graceMs: ({ context, event }) => event.graceMs ?? context.graceMs }) },
  },
  states: {
    boot: {
      always: [
        {
          guard: 'adopting',
          target: 'live.alive',
          actions: assign({ handle: ({ context }) => context.adopt, state: ({ context }) => ({ running: { startedAt: context.adopt!.startedAt } }) }),
        },
        { guard: ({ context }) => !!context.finished, target: 'terminated', actions: assign({ state: ({ context }) => context.finished! }) },
        // A fresh container has no backoff to wait out: started in the same step. Its pod worker
        // shows it waiting (ContainerCreating) until its first report, which says it runs.
        { target: 'live' },
      ],
    },
    waiting: {
      entry: 'report',
      always: [
        { guard: 'stopRequested', target: 'stopped' },
        // No backoff to wait out: start now, not on the next turn of the timers (nor with a timer
        // set and cleared for nothing).
        { guard: ({ context }) => context.delayMs <= 0, target: 'live' },
        { target: 'backingOff' },
      ],
    },
    backingOff: {
      always: { guard: 'stopRequested', target: 'stopped' },
      after: { startDelay: 'live' },
    },
    // The process's whole life, from its start to its exit: one invoked actor for both.
    live: {
      invoke: {
        src: 'process',
        input: ({ context }) => ({ runtime: context.runtime, handle: context.handle, spec: context.handle ? undefined : context.launchSpec(context.restartCount) }),
      },
      on: {
        START_FAILED: {
          target: 'exited',
          actions: assign({
            state: ({ event }) => ({ terminated: { exitCode: 128, reason: 'StartError', message: String((event.error as Error)?.message ?? event.error), finishedAt: new Date().toISOString() } }),
          }),
        },
        EXITED: { target: 'exited', actions: assign({ state: ({ context, event }) => exitState(event.exit, context) }) },
        LOST: {
          target: 'exited',
          actions: assign({ state: () => ({ terminated: { exitCode: 137, reason: 'Error', message: 'lost track of the process', finishedAt: new Date().toISOString() } }) }),
        },
      },
      initial: 'starting',
      states: {
        // Once the process is up, straight to the state it is to be in, so that a start costs one
        // transition and one report (running, and for an unwatched container started and ready
        // too). A stop asked for meanwhile is seen then: the process is stopped like any other,
        // never left running unrecorded.
        starting: {
          on: {
            SPAWNED: [
              { guard: 'stopRequested', target: 'alive.stopping', actions: 'spawned' },
              { guard: ({ context, event }) => watched({ ...context, handle: event.handle }), target: 'alive.running.watched', actions: 'spawned' },
              { target: 'alive.running.unwatched', actions: ['spawned', assign({ started: true, ready: true })] },
            ],
          },
        },
        alive: {
          // The process and its record in one report: the pod worker saves it to disk.
          entry: 'reportStarted',
          initial: 'checkStop',
          on: {
            READY: { actions: [assign({ ready: ({ event, context }) => event.ready && context.started }), 'report'] },
            STARTED: { actions: [assign({ started: true }), 'report'] },
            STOP: { target: '.stopping', actions: assign({ stopRequested: true, graceMs: ({ context, event }) => event.graceMs ?? context.graceMs, ready: false }) },
          },
          states: {
            // How an adopted process (boot) comes in; a started one goes straight on (starting).
            checkStop: { always: [{ guard: 'stopRequested', target: 'stopping' }, { target: 'running' }] },
            running: {
              initial: 'choosing',
              states: {
                choosing: {
                  always: [
                    { guard: ({ context }) => watched(context), target: 'watched' },
                    // Nothing to wait for: started and ready now, in the same report as running.
                    { target: 'unwatched', actions: [assign({ started: true, ready: true }), 'report'] },
                  ],
                },
                watched: { invoke: { src: 'watchers', input: ({ context }) => ({ ctx: context }) } },
                unwatched: {},
              },
              on: {
                LIVENESS_FAILED: { target: 'killing', actions: assign({ killReason: 'liveness' as const, ready: false }) },
                STARTUP_FAILED: { target: 'killing', actions: assign({ killReason: 'startup' as const, ready: false }) },
                OOM: { target: 'killing', actions: assign({ killReason: 'oom' as const, ready: false }) },
              },
            },
            killing: {
              entry: 'report',
              invoke: {
                src: 'terminator',
                input: ({ context }) => ({ runtime: context.runtime, handle: context.handle!, graceMs: context.killReason === 'oom' ? 0 : context.graceMs }),
              },
            },
            stopping: {
              entry: 'report',
              invoke: { src: 'terminator', input: ({ context }) => ({ runtime: context.runtime, handle: context.handle!, graceMs: context.graceMs }) },
            },
          },
        },
      },
    },
    exited: {
      entry: [
        assign({ ready: false, started: false }),
        'persistExited',
      ],
      always: [
        { guard: 'stopRequested', target: 'stopped' },
        { guard: 'restarts', target: 'backoff' },
        { target: 'terminated' },
      ],
    },
    backoff: {
      entry: [
        assign(({ context }) => {
          const ranMs = context.handle ? Date.now() - Date.parse(context.handle.startedAt) : 0;
          const delay = nextBackoff(context.lastBackoffMs, ranMs, context.backoff);
          return {
            lastState: context.state,
            restartCount: context.restartCount + 1,
            delayMs: delay,
            lastBackoffMs: delay,
            handle: undefined,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 100) / 10}s restarting failed container=${context.spec.name}` } },
          };
        }),
      ],
      always: { target: 'waiting' },
    },
    terminated: {
      entry: 'report',
      on: { STOP: { target: 'stopped', actions: assign({ stopRequested: true }) } },
    },
    stopped: {
      type: 'final',
      entry: [
        assign({ ready: false, state: ({ context }) => (context.state.terminated ? context.state : { terminated: { exitCode: 0, reason: 'Completed', finishedAt: new Date().toISOString() } }) }),
        'report',
        'reportStopped',
      ],
    },
  },
});
