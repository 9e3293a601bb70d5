// The kubelet actor. It registers the Node (retrying until an apiserver answers); then, while
// active, its children renew the Lease, report node status, watch this node's pods, rotate logs
// and serve logs and exec, and it spawns one pod worker per pod, which reports back with events.
// Once the first listing has been taken up, it reaps what an earlier kubelet left that no pod
// claims. On STOP it drains: every pod stopped (or, asked to keep them, left running for the next
// kubelet to re-adopt), their last statuses written.
import { nuid } from 'nats';
import { assign, enqueueActions, fromCallback, fromPromise, setup, type ActorRefFrom, type EventObject } from 'xstate';
import { DRAIN_SLACK_MS, POD_EVENT_SLICE_MS } from '../../protocol/config.ts';
import { deepEqual } from '../../protocol/merge-patch.ts';
import { nodeWatchInbox } from '../../protocol/subjects.ts';
import type { Node, Pod } from '../../protocol/types.ts';
import { Informer } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import { Pacer } from '../platform/pacer.ts';
import { every } from '../platform/periodic.ts';
import type { Kubelet, RunningPod } from './kubelet.ts';
import { registerNode, renewNodeLease, reportNodeStatus } from './node-registration.ts';
import { freshState, podWorkerMachine, type PodWorkerReport } from './pod-worker.machine.ts';
import { stopOrphanGroups } from './runtime.ts';
import { loadPodStates, recordedGroups, type PodState } from './state.ts';

/** The pods a kubelet runs, as its logs and exec server looks them up. */
export interface PodLookup {
  /** Every pod running here. */
  all(): RunningPod[];
  find(namespace: string, name: string): (RunningPod & { uid: string }) | undefined;
  /** The pod with this uid as it is now, while it runs here. */
  get(uid: string): RunningPod | undefined;
}

export interface KubeletInput {
  kubelet: Kubelet;
  log: Logger;
  retryMs: number;
  logRotateMs: number;
  /** Serves logs and exec for this node's pods; returns its cleanup. */
  serve: (pods: PodLookup) => () => void;
}

type PodWorkerRef = ActorRefFrom<typeof podWorkerMachine>;

interface Ctx extends KubeletInput {
  workers: Record<string, PodWorkerRef>;
  /** Records left by an earlier kubelet, by pod uid, until a pod claims them or they are reaped. */
  unclaimed: Record<string, PodState>;
  /** Whether the records on disk have been read (they are once the pod sync starts). */
  recordsRead: boolean;
  /** Deleted pods whose processes are gone, while their last status, delete and directory are seen to. */
  finishing: Record<string, true>;
  registered?: Node;
  /** Set by STOP: the longest a drain gives the pods. */
  drainTimeoutMs?: number;
  leftoversStopped: boolean;
}

type Ev =
  | { type: 'STOP'; keepPods: boolean; timeoutMs: number }
  | { type: 'POD_SEEN'; pod: Pod }
  | { type: 'POD_GONE'; pod: Pod }
  | { type: 'PODS_LISTED' }
  | { type: 'POD_FINISHED'; uid: string }
  | PodWorkerReport;

/** The pod events of every kubelet of the process are acted on in order, at most POD_EVENT_SLICE_MS per turn of the event loop. */
const podEventPacer = new Pacer(POD_EVENT_SLICE_MS);

const workerId = (uid: string) => `pod-${uid}`;

/** Most updates are the echo of the kubelet's own status writes: nothing for the worker to do. Pure. */
export function podChangeMatters(before: Pod, pod: Pod): boolean {
  return before.metadata.deletionTimestamp !== pod.metadata.deletionTimestamp
    || before.metadata.deletionGracePeriodSeconds !== pod.metadata.deletionGracePeriodSeconds
    || !deepEqual(before.spec, pod.spec) || !deepEqual(before.metadata.labels, pod.metadata.labels);
}

/** Logs the first failure of a run of them, and the recovery after it: not every failed attempt. */
function failureLog(log: Logger, name: string) {
  let failing = false;
  return {
    ok: () => {
      if (failing) log.info(`${name} recovered`);
      failing = false;
    },
    failed: (err: unknown) => {
      if (!failing) log.warn(`${name} failed; retrying`, { err });
      failing = true;
    },
  };
}

function runningPod(ref: PodWorkerRef): RunningPod {
  const { pod, state, paths } = ref.getSnapshot().context;
  return { pod, state, paths };
}

/** The kubelet's pods as its own snapshot has them now, for the actors that look them up later. */
function podLookup(workers: () => Record<string, PodWorkerRef>): PodLookup {
  return {
    all: () => Object.values(workers()).map(runningPod),
    find: (namespace, name) => {
      for (const [uid, ref] of Object.entries(workers())) {
        const { pod } = ref.getSnapshot().context;
        if (pod.metadata.namespace === namespace && pod.metadata.name === name) return { uid, ...runningPod(ref) };
      }
      return undefined;
    },
    get: (uid) => {
      const ref = workers()[uid];
      return ref && runningPod(ref);
    },
  };
}

/** The records of the last run that no pod has claimed: those read at the sync's start, or all on disk if it never started. */
function leftovers(ctx: Ctx): PodState[] {
  if (ctx.recordsRead || ctx.kubelet.cfg.noDisk) return Object.values(ctx.unclaimed);
  return loadPodStates(ctx.kubelet.cfg.dataDir);
}

export const kubeletMachine = setup({
  types: { input: {} as KubeletInput, context: {} as Ctx, events: {} as Ev },
  actors: {
    podWorker: podWorkerMachine,
    register: fromPromise<Node, Kubelet>(({ input }) => registerNode(input.deps.client, input.cfg, input.log)),
    /** The registration's lease, renewed every period. */
    lease: fromCallback<Ev, Kubelet>(({ input }) => {
      const log = failureLog(input.log, 'lease renewal');
      return every(input.cfg.leaseRenewMs, () => renewNodeLease(input.deps.client, input.cfg).then(log.ok), log.failed);
    }),
    nodeStatus: fromCallback<Ev, { kubelet: Kubelet; registered?: Node }>(({ input: { kubelet, registered } }) => {
      const log = failureLog(kubelet.log, 'node status');
      let last = registered;
      return every(kubelet.cfg.nodeStatusMs, async () => {
        last = await reportNodeStatus(kubelet.deps.client, kubelet.cfg, last);
        log.ok();
      }, log.failed);
    }),
    /** This node's pods, and only those: the watch is filtered by spec.nodeName and delivered on the node's own subjects. */
    podWatch: fromCallback<Ev, Kubelet>(({ input: kubelet, sendBack }) => {
      let stopped = false;
      const informer = new Informer<Pod>(kubelet.deps.client, 'pods', {
        fieldSelector: `spec.nodeName=${kubelet.name}`,
        deadlineMs: kubelet.cfg.watchDeadlineMs,
        inbox: () => nodeWatchInbox(kubelet.name, nuid.next()),
        onRestart: (reason) => kubelet.log.debug('pod watch restarted', { reason }),
      });
      // Acted on later (POD_EVENT_SLICE_MS), and not at all once the watch has stopped: a pod
      // started after that would be left running by a node that is going away.
      const later = (event: Ev) => podEventPacer.run(() => { if (!stopped) sendBack(event); });
      informer.on({
        add: (pod) => { kubelet.podEvents.inc({ type: 'add' }); later({ type: 'POD_SEEN', pod }); },
        // Most updates are the echo of the kubelet's own status writes: the machine never hears of them.
        update: (old, pod) => {
          kubelet.podEvents.inc({ type: 'update' });
          if (podChangeMatters(old, pod)) later({ type: 'POD_SEEN', pod });
        },
        delete: (pod) => { kubelet.podEvents.inc({ type: 'delete' }); later({ type: 'POD_GONE', pod }); },
      });
      // A container's environment names every service of its namespace (FOO_SERVICE_HOST, ...), so
      // pods start only once the services have been listed, as Kubernetes' kubelet waits for them.
      void (kubelet.deps.services?.synced() ?? Promise.resolve()).then(() => { if (!stopped) informer.start(); });
      // After every pod of the first listing has been taken up.
      void informer.synced().then(() => podEventPacer.after()).then(() => { if (!stopped) sendBack({ type: 'PODS_LISTED' }); });
      return () => {
        stopped = true;
        informer.stop();
      };
    }),
    logRotation: fromCallback<Ev, { kubelet: Kubelet; periodMs: number; pods: () => RunningPod[] }>(({ input }) => {
      const log = failureLog(input.kubelet.log, 'log rotation');
      return every(input.periodMs, () => { input.kubelet.rotateLogs(input.pods()); log.ok(); }, log.failed);
    }),
    server: fromCallback<Ev, { serve: KubeletInput['serve']; pods: PodLookup }>(({ input }) => input.serve(input.pods)),
    /** Pod workers' statuses, counted and queued for writing: events, but not the kubelet machine's (a pod start sends several). */
    statuses: fromCallback<EventObject, Kubelet>(({ input, receive }) => {
      receive((event) => {
        const { pod, status } = event as Extract<PodWorkerReport, { type: 'POD_STATUS' }>;
        input.observeStatus(pod, status);
      });
    }),
    /** A deleted pod's last status, delete and directory, after its worker finished. */
    finishPod: fromCallback<Ev, { kubelet: Kubelet; pod: Pod; state: PodState }>(({ input, sendBack }) => {
      void input.kubelet.finishDeleted(input.pod, input.state).finally(() => sendBack({ type: 'POD_FINISHED', uid: input.pod.metadata.uid! }));
    }),
    stopLeftovers: fromPromise<unknown, { records: PodState[]; graceMs: number }>(({ input }) => stopOrphanGroups(input.records.flatMap(recordedGroups), input.graceMs)),
    settleStatuses: fromPromise<void, Kubelet>(({ input }) => input.statuses.settled(input.cfg.statusSettleMs)),
  },
  actions: {
    readRecords: enqueueActions(({ context, enqueue }) => {
      const { kubelet } = context;
      const records = kubelet.cfg.noDisk ? [] : loadPodStates(kubelet.cfg.dataDir);
      for (const s of records) kubelet.ports.reserve(s.ports);
      enqueue.assign({ unclaimed: Object.fromEntries(records.map((s) => [s.uid, s])), recordsRead: true });
    }),
    seePod: enqueueActions(({ context, event, enqueue, self }) => {
      const { pod } = event as Extract<Ev, { type: 'POD_SEEN' }>;
      const uid = pod.metadata.uid!;
      const worker = context.workers[uid];
      if (worker) {
        if (podChangeMatters(worker.getSnapshot().context.pod, pod)) enqueue.sendTo(worker, { type: 'UPDATE', pod });
        return;
      }
      // The echo of a finished worker's last status write: its delete is being completed.
      if (context.finishing[uid]) return;
      const adopted = context.unclaimed[uid];
      // A pod already being deleted, of which nothing runs here, is not started: its delete is only confirmed.
      if (pod.metadata.deletionTimestamp && !adopted) {
        enqueue(() => void context.kubelet.confirmDeleted(pod));
        return;
      }
      if (adopted) context.log.info('re-adopting pod', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
      const { [uid]: _claimed, ...unclaimed } = context.unclaimed;
      enqueue.assign({
        unclaimed,
        workers: ({ spawn }) => ({
          ...context.workers,
          [uid]: spawn('podWorker', { id: workerId(uid), input: { pod, node: context.kubelet.node, state: adopted ?? freshState(pod), statuses: self.getSnapshot().children.statuses! } }),
        }),
      });
      if (pod.metadata.deletionTimestamp) enqueue.sendTo(workerId(uid), { type: 'UPDATE', pod });
    }),
    podGone: enqueueActions(({ context, event, enqueue }) => {
      const worker = context.workers[(event as Extract<Ev, { type: 'POD_GONE' }>).pod.metadata.uid!];
      if (worker) enqueue.sendTo(worker, { type: 'TERMINATE', deleted: true });
    }),
    reapUnclaimed: enqueueActions(({ context, enqueue }) => {
      context.kubelet.reap(Object.values(context.unclaimed));
      enqueue.assign({ unclaimed: {} });
    }),
    podTerminated: enqueueActions(({ context, event, enqueue }) => {
      const { uid, pod, deleted, state } = event as Extract<Ev, { type: 'POD_TERMINATED' }>;
      context.kubelet.ports.release(state.ports);
      const { [uid]: done, ...workers } = context.workers;
      if (done) enqueue.stopChild(done);
      enqueue.assign({ workers });
      if (deleted) {
        enqueue.assign({ finishing: { ...context.finishing, [uid]: true } });
        enqueue.spawnChild('finishPod', { id: `finish-${uid}`, input: { kubelet: context.kubelet, pod, state } });
      }
    }),
    podFinished: assign({ finishing: ({ context, event }) => {
      const { [(event as Extract<Ev, { type: 'POD_FINISHED' }>).uid]: _done, ...rest } = context.finishing;
      return rest;
    } }),
    countPods: ({ context }) => { context.kubelet.podCount = Object.keys(context.workers).length; },
    /** SIGTERM to every pod, then SIGKILL after its grace or the drain's, whichever is shorter. */
    terminatePods: enqueueActions(({ context, enqueue }) => {
      const timeoutMs = context.drainTimeoutMs!;
      for (const ref of Object.values(context.workers)) {
        const podGraceMs = (ref.getSnapshot().context.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
        enqueue.sendTo(ref, { type: 'TERMINATE', deleted: false, graceMs: Math.min(podGraceMs, timeoutMs) });
      }
    }),
    /** Leaves every pod's processes running, for the next kubelet on this data directory to re-adopt. */
    leavePods: enqueueActions(({ context, enqueue }) => {
      for (const ref of Object.values(context.workers)) enqueue.stopChild(ref);
      enqueue.assign({ workers: {} });
    }),
  },
  guards: {
    drained: ({ context }) => context.leftoversStopped && Object.keys(context.workers).length === 0,
  },
  delays: {
    retry: ({ context }) => context.retryMs,
    drainDeadline: ({ context }) => context.drainTimeoutMs! + DRAIN_SLACK_MS,
  },
}).createMachine({
  id: 'kubelet',
  context: ({ input }) => ({ ...input, workers: {}, unclaimed: {}, recordsRead: false, finishing: {}, leftoversStopped: false }),
  invoke: { id: 'statuses', src: 'statuses', input: ({ context }: { context: Ctx }) => context.kubelet },
  initial: 'registering',
  on: {
    STOP: [
      { guard: ({ event }) => event.keepPods, target: '.stopped', actions: 'leavePods' },
      { target: '.draining', actions: assign({ drainTimeoutMs: ({ event }) => event.timeoutMs }) },
    ],
    POD_TERMINATED: { actions: ['podTerminated', 'countPods'] },
    POD_FINISHED: { actions: 'podFinished' },
  },
  states: {
    registering: {
      invoke: {
        src: 'register',
        input: ({ context }) => context.kubelet,
        onDone: { target: 'active', actions: assign({ registered: ({ event }) => event.output }) },
        onError: { target: 'waitingToRegister', actions: ({ context, event }) => context.log.warn('node registration failed; retrying', { err: event.error }) },
      },
    },
    waitingToRegister: { after: { retry: 'registering' } },
    active: {
      entry: 'readRecords',
      invoke: [
        { src: 'podWatch', input: ({ context }) => context.kubelet },
        { src: 'lease', input: ({ context }) => context.kubelet },
        { src: 'nodeStatus', input: ({ context }) => ({ kubelet: context.kubelet, registered: context.registered }) },
        {
          src: 'logRotation',
          input: ({ context, self }) => ({ kubelet: context.kubelet, periodMs: context.logRotateMs, pods: podLookup(() => (self.getSnapshot().context as Ctx).workers).all }),
        },
        { src: 'server', input: ({ context, self }) => ({ serve: context.serve, pods: podLookup(() => (self.getSnapshot().context as Ctx).workers) }) },
      ],
      on: {
        POD_SEEN: { actions: ['seePod', 'countPods'] },
        POD_GONE: { actions: 'podGone' },
      },
      initial: 'syncing',
      states: {
        syncing: {
          on: {
            PODS_LISTED: {
              target: 'running',
              actions: ['reapUnclaimed', ({ context }) => context.log.info('pods synced', { pods: Object.keys(context.workers).length })],
            },
          },
        },
        running: {},
      },
    },
    draining: {
      always: { guard: 'drained', target: 'settling' },
      entry: 'terminatePods',
      invoke: {
        src: 'stopLeftovers',
        input: ({ context }) => ({ records: leftovers(context), graceMs: context.drainTimeoutMs! }),
        onDone: { actions: assign({ unclaimed: {}, leftoversStopped: true }) },
        onError: { actions: assign({ unclaimed: {}, leftoversStopped: true }) },
      },
      after: { drainDeadline: 'settling' },
    },
    settling: {
      invoke: { src: 'settleStatuses', input: ({ context }) => context.kubelet, onDone: 'stopped', onError: 'stopped' },
    },
    stopped: {
      type: 'final',
      entry: ({ context }) => context.kubelet.watchdog.stop(),
    },
  },
});
