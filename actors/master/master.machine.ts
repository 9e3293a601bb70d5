// A master's root actor. It runs the apiserver and the gossip member for the life of the process,
// and the scheduler, controller-manager and cloud controller manager (each following or leading on
// its own lease) once an apiserver here serves. A leader-only component that fails is restarted
// with backoff; an apiserver or a gossip member that fails stops the process, with the error in
// the log. On STOP the leader-only components and the apiserver stop, then the member announces
// that it leaves.
import type { NatsConnection } from 'nats';
import { assign, sendTo, setup } from 'xstate';
import { apiserverMachine, type ApiServer } from '../apiserver/index.ts';
import { membershipMachine, type Membership } from '../membership/index.ts';
import type { Logger } from '../platform/log.ts';
import { partFailed } from '../runtime/failure.ts';
import { leaderOnlyMachine, type LeaderOnly, type LeaderOnlyInput } from '../runtime/leader.ts';
import { nextBackoff, type BackoffPolicy } from '../../protocol/backoff.ts';

export type LeaderOnlyId = 'scheduler' | 'controllerManager' | 'cloudControllerManager';

/** How a leader-only component is made: afresh at each (re)start, with its election's settings. */
export interface LeaderOnlyPart {
  make(): LeaderOnly;
  election: Omit<LeaderOnlyInput, 'component'>;
}

export interface MasterInput {
  nc: NatsConnection;
  log: Logger;
  /** Absent when this master runs no apiserver (the benchmark runs the parts apart). */
  apiserver?: ApiServer;
  membership: Membership;
  parts: Partial<Record<LeaderOnlyId, LeaderOnlyPart>>;
  /** A failed leader-only component is restarted as a crashed container is. */
  restart: BackoffPolicy;
  /** How long the member may take to announce that it leaves. */
  leaveTimeoutMs: number;
  apiserverTiming: { retryMs: number; sweepMs: number };
}

interface Context extends MasterInput {
  apiserverServing: boolean;
  /** Per leader-only component: when it last started, and the last wait before a restart. */
  restarts: Record<LeaderOnlyId, { startedAt: number; lastWaitMs?: number; count: number }>;
  /** Why the process must stop, when a component it cannot do without failed. */
  failure?: string;
}

type Events = { type: 'STOP' } | { type: 'APISERVER_SERVING' };


/** One parallel region per leader-only component: absent, waiting for the apiserver, running, or restarting. */
function leaderOnlyRegion(id: LeaderOnlyId) {
  return {
    initial: 'choosing',
    states: {
      choosing: { always: [{ guard: { type: 'runs' as const, params: { id } }, target: 'waiting' }, { target: 'absent' }] },
      absent: {},
      waiting: { always: { guard: 'apiserverServing' as const, target: 'running' } },
      running: {
        entry: { type: 'started' as const, params: { id } },
        invoke: {
          id, src: 'leaderOnly' as const,
          input: ({ context }: { context: Context }): LeaderOnlyInput => ({ ...context.parts[id]!.election, component: context.parts[id]!.make() }),
          onError: { target: 'restarting', actions: { type: 'restartLater' as const, params: { id } } },
        },
      },
      restarting: { after: { [`${id}Restart`]: 'running' } },
    },
  };
}

export const masterMachine = setup({
  types: { input: {} as MasterInput, context: {} as Context, events: {} as Events, output: {} as { failure?: string } },
  actors: { apiserver: apiserverMachine, membership: membershipMachine, leaderOnly: leaderOnlyMachine },
  guards: {
    runs: ({ context }, { id }: { id: LeaderOnlyId }) => context.parts[id] !== undefined,
    hasApiserver: ({ context }) => context.apiserver !== undefined,
    apiserverServing: ({ context }) => context.apiserverServing,
  },
  delays: {
    schedulerRestart: ({ context }) => context.restarts.scheduler.lastWaitMs ?? 0,
    controllerManagerRestart: ({ context }) => context.restarts.controllerManager.lastWaitMs ?? 0,
    cloudControllerManagerRestart: ({ context }) => context.restarts.cloudControllerManager.lastWaitMs ?? 0,
    leaveTimeout: ({ context }) => context.leaveTimeoutMs,
  },
  actions: {
    started: assign(({ context }, { id }: { id: LeaderOnlyId }) => ({ restarts: { ...context.restarts, [id]: { ...context.restarts[id], startedAt: Date.now() } } })),
    restartLater: assign(({ context, event }, { id }: { id: LeaderOnlyId }) => {
      const last = context.restarts[id];
      const waitMs = nextBackoff(last.lastWaitMs, Date.now() - last.startedAt, context.restart);
      context.log.error('component failed; restarting it', { component: id, restarts: last.count + 1, inMs: waitMs, err: (event as { error?: unknown }).error });
      return { restarts: { ...context.restarts, [id]: { ...last, lastWaitMs: waitMs, count: last.count + 1 } } };
    }),
    fail: assign(({ context, event }, { component }: { component: string }) => ({
      failure: partFailed(context.log, 'master', component, (event as { error?: unknown }).error),
    })),
  },
}).createMachine({
  id: 'master',
  context: ({ input }) => ({ ...input, apiserverServing: input.apiserver === undefined, restarts: { scheduler: { startedAt: 0, count: 0 }, controllerManager: { startedAt: 0, count: 0 }, cloudControllerManager: { startedAt: 0, count: 0 } } }),
  // The member lives until the very end, so that its leave goes out after everything else stopped.
  invoke: {
    id: 'membership', src: 'membership', input: ({ context }: { context: Context }) => ({ membership: context.membership, nc: context.nc }),
    onDone: '.stopped',
    onError: { target: '.stopped', actions: { type: 'fail', params: { component: 'membership' } } },
  },
  on: { APISERVER_SERVING: { actions: assign({ apiserverServing: true }) } },
  initial: 'running',
  states: {
    running: {
      type: 'parallel',
      on: { STOP: 'leaving' },
      states: {
        // Declared first, so that it is stopped last: the others' final writes still find it.
        apiserver: {
          initial: 'choosing',
          states: {
            choosing: { always: [{ guard: 'hasApiserver', target: 'serving' }, { target: 'absent' }] },
            absent: {},
            serving: {
              invoke: {
                id: 'apiserver', src: 'apiserver',
                input: ({ context }) => ({ server: context.apiserver!, log: context.log.child({ actor: 'apiserver' }), retryMs: context.apiserverTiming.retryMs, sweepMs: context.apiserverTiming.sweepMs }),
                onError: { target: '#master.leaving', actions: { type: 'fail', params: { component: 'apiserver' } } },
              },
            },
          },
        },
        scheduler: leaderOnlyRegion('scheduler'),
        controllerManager: leaderOnlyRegion('controllerManager'),
        cloudControllerManager: leaderOnlyRegion('cloudControllerManager'),
      },
    },
    leaving: {
      entry: sendTo('membership', { type: 'LEAVE' }),
      after: { leaveTimeout: 'stopped' },
    },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ failure: context.failure }),
});
