// Leader election on a Lease, as client-go's leaderelection does it, with fencing: the holder
// renews by compare-and-swap on the lease's resourceVersion and steps down as soon as a renewal
// fails or the renew deadline passes; every write it makes names the lease term it holds, so that
// the apiserver refuses it once another holder has taken over.
import { Counter, Gauge, type Registry } from 'prom-client';
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { AlreadyExists, Conflict, errorMessage, NotFound } from '../../protocol/errors.ts';
import type { Lease } from '../../protocol/types.ts';
import type { ApiClient, Fence } from '../client/client.ts';
import type { Logger } from '../platform/log.ts';
import { every } from '../platform/periodic.ts';

export interface LeaderConfig {
  /** `namespace/name` of the Lease. */
  lease: string;
  identity: string;
  leaseDurationMs: number;
  /** A leader that has not renewed for this long stops acting, whatever happens to its requests. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export type LeaseDecision = 'create' | 'renew' | 'takeover' | 'wait';

/** What a candidate does with the lease as it now stands. Pure. */
export function leaseDecision(lease: Lease | undefined, me: string, nowMs: number): LeaseDecision {
  if (!lease) return 'create';
  const { holderIdentity, renewTime, leaseDurationSeconds } = lease.spec;
  if (holderIdentity === me) return 'renew';
  if (!holderIdentity) return 'takeover';
  const expires = Date.parse(renewTime ?? '') + (leaseDurationSeconds ?? 0) * 1000;
  return Number.isNaN(expires) || expires < nowMs ? 'takeover' : 'wait';
}

/** The lease after this candidate acquires or renews it. Pure. */
export function nextLease(lease: Lease | undefined, cfg: LeaderConfig, decision: Exclude<LeaseDecision, 'wait'>, now: Date): Lease {
  const [namespace, name] = cfg.lease.split('/');
  const ts = now.toISOString();
  const spec = lease?.spec ?? {};
  return {
    apiVersion: 'v1', kind: 'Lease',
    metadata: { ...(lease?.metadata ?? {}), name, namespace },
    spec: {
      holderIdentity: cfg.identity,
      leaseDurationSeconds: cfg.leaseDurationMs / 1000,
      acquireTime: decision === 'renew' ? spec.acquireTime ?? ts : ts,
      renewTime: ts,
      leaseTransitions: decision === 'takeover' ? (spec.leaseTransitions ?? 0) + 1 : spec.leaseTransitions ?? 0,
    },
  };
}

export function fenceOf(cfg: LeaderConfig, lease: Lease): Fence {
  return { lease: cfg.lease, holder: cfg.identity, term: lease.spec.leaseTransitions ?? 0 };
}

/**
 * One attempt to acquire or renew. Resolves to the lease if we hold it afterwards, or undefined
 * if someone else does; a lost compare-and-swap counts as not holding it.
 */
export async function tryAcquireOrRenew(client: ApiClient, cfg: LeaderConfig): Promise<Lease | undefined> {
  const [namespace, name] = cfg.lease.split('/');
  let current: Lease | undefined;
  try {
    current = await client.get<Lease>('leases', name, namespace);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
  }
  const decision = leaseDecision(current, cfg.identity, Date.now());
  if (decision === 'wait') return undefined;
  const next = nextLease(current, cfg, decision, new Date());
  try {
    return decision === 'create' ? await client.create(next) : await client.update(next);
  } catch (err) {
    if (err instanceof Conflict || err instanceof AlreadyExists || err instanceof NotFound) return undefined;
    throw err;
  }
}

export interface LeaderInput {
  client: ApiClient;
  cfg: LeaderConfig;
  log: Logger;
  metrics: { leading: Gauge<'lease'>; transitions: Counter<'lease'> };
}

/**
 * A component that acts only while its process leads (the scheduler, the controller-manager): it
 * keeps its caches warm as a follower, so that taking over is quick, and writes only while leading.
 */
export interface LeaderOnly {
  /** Starts the caches (informers, queues) it keeps while following. */
  start(): void;
  stop(): void;
  /** Begins acting, every write fenced by `writer`; rejects if it cannot. */
  lead(writer: ApiClient): Promise<void>;
  /** Stops acting at once. */
  follow(): void;
}

export interface LeaderOnlyInput extends LeaderInput {
  component: LeaderOnly;
  /** The client a leader's writes go through, fenced with the lease term it holds. */
  writer: ApiClient;
}

/** A leader-only component that failed; its parent sees this as the actor's error. */
export class ComponentFailed extends Error {
  override name = 'ComponentFailed';
}

type Ev = { type: 'HELD'; lease: Lease } | { type: 'LOST' };

/** Tries to acquire (as follower) or renew (as leader) every retry period. */
const contender = fromCallback<Ev, { client: ApiClient; cfg: LeaderConfig; log: Logger }>(({ input, sendBack }) => {
  let stopped = false;
  const stop = every(input.cfg.retryPeriodMs, async () => {
    const lease = await tryAcquireOrRenew(input.client, input.cfg);
    if (!stopped) sendBack(lease ? { type: 'HELD', lease } : { type: 'LOST' });
  }, (err) => input.log.debug('lease attempt failed', { lease: input.cfg.lease, err }));
  return () => {
    stopped = true;
    stop();
  };
});

/** The caches a follower keeps warm, for as long as the machine runs. */
const cache = fromCallback<Ev, LeaderOnly>(({ input }) => {
  input.start();
  return () => input.stop();
});

/**
 * The component's work, for exactly as long as the lease is held. A promise, so that a failed
 * `lead` is the invoked actor's error: unhandled, it fails the machine, and XState then stops the
 * machine's other children (an error thrown by an action would leave them running).
 */
const work = fromPromise<void, { component: LeaderOnly; writer: ApiClient; lease: string }>(async ({ input, signal }) => {
  const ended = new Promise<void>((resolve) => signal.addEventListener('abort', () => {
    input.component.follow();
    resolve();
  }, { once: true }));
  try {
    await input.component.lead(input.writer);
  } catch (error) {
    if (signal.aborted) return;
    // Whatever part of `lead` did start ends here.
    input.component.follow();
    throw new ComponentFailed(`${input.lease}: ${errorMessage(error)}`, { cause: error });
  }
  await ended;
});

type Context = LeaderOnlyInput & { lease?: Lease };

/**
 * A leader-only component as a machine: `following` keeps its caches warm, `leading` runs its work
 * with the fence of the lease term it holds. A failure of the work fails the machine, which its
 * parent sees as an error event.
 */
export const leaderOnlyMachine = setup({
  types: { input: {} as LeaderOnlyInput, context: {} as Context, events: {} as Ev },
  actors: { contender, cache, work },
  delays: { renewDeadline: ({ context }) => context.cfg.renewDeadlineMs },
}).createMachine({
  id: 'leaderOnly',
  context: ({ input }) => input,
  invoke: [
    { src: 'cache', input: ({ context }) => context.component },
    { src: 'contender', input: ({ context }) => ({ client: context.client, cfg: context.cfg, log: context.log }) },
  ],
  initial: 'following',
  states: {
    following: {
      entry: ({ context }) => context.metrics.leading.set({ lease: context.cfg.lease }, 0),
      on: {
        HELD: {
          target: 'leading',
          actions: [
            assign({ lease: ({ event }) => event.lease }),
            ({ context, event }) => {
              context.log.info('became leader', { lease: context.cfg.lease, term: event.lease.spec.leaseTransitions });
              context.metrics.transitions.inc({ lease: context.cfg.lease });
            },
          ],
        },
      },
    },
    leading: {
      entry: ({ context }) => context.metrics.leading.set({ lease: context.cfg.lease }, 1),
      exit: ({ context }) => context.log.info('stopped leading', { lease: context.cfg.lease }),
      invoke: { src: 'work', input: ({ context }) => ({ component: context.component, writer: context.writer.fenced(fenceOf(context.cfg, context.lease!)), lease: context.cfg.lease }) },
      initial: 'fresh',
      on: { LOST: 'following' },
      states: {
        // Each renewal re-enters this state (and only this one) and so restarts the deadline.
        fresh: {
          after: { renewDeadline: '#leaderOnly.following' },
          on: { HELD: { target: 'fresh', reenter: true, actions: assign({ lease: ({ event }) => event.lease }) } },
        },
      },
    },
  },
});

export function leaderMetrics(registry: Registry): LeaderInput['metrics'] {
  return {
    leading: new Gauge({ name: 'skiff_leader_is_leader', help: '1 while this process holds the lease.', labelNames: ['lease'], registers: [registry] }),
    transitions: new Counter({ name: 'skiff_leader_acquisitions_total', help: 'Times this process became leader.', labelNames: ['lease'], registers: [registry] }),
  };
}
