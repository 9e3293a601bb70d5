// The kubelet actor: register the Node (retrying until the apiserver answers), then, while active,
// renew the Lease, report node status, follow this node's pods, rotate logs and serve logs and
// exec; on STOP, drain the pods (or keep them running) and finish.
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Logger } from '../platform/log.ts';
import type { Kubelet } from './kubelet.ts';

export interface KubeletInput {
  kubelet: Kubelet;
  log: Logger;
  retryMs: number;
  logRotateMs: number;
  /** Serves logs and exec for this node; returns its cleanup. */
  serve: () => () => void;
}

type Ev = { type: 'SYNCED' } | { type: 'STOP'; keepPods: boolean; timeoutMs: number };

/** Runs `task` now and then every `periodMs`, never two at once; failures are logged and retried next time. */
function periodic(name: string, periodMs: (k: Kubelet) => number, task: (k: Kubelet) => Promise<void> | void) {
  return fromCallback<Ev, { kubelet: Kubelet; log: Logger }>(({ input }) => {
    let busy = false;
    let failing = false;
    const run = async () => {
      if (busy) return;
      busy = true;
      try {
        await task(input.kubelet);
        if (failing) input.log.info(`${name} recovered`);
        failing = false;
      } catch (err) {
        if (!failing) input.log.warn(`${name} failed; retrying`, { err });
        failing = true;
      } finally {
        busy = false;
      }
    };
    void run();
    const t = setInterval(run, periodMs(input.kubelet));
    return () => clearInterval(t);
  });
}

export const kubeletMachine = setup({
  types: { input: {} as KubeletInput, context: {} as KubeletInput & { stop?: { keepPods: boolean; timeoutMs: number } }, events: {} as Ev },
  actors: {
    register: fromPromise<void, Kubelet>(({ input }) => input.register()),
    leaseRenewer: periodic('lease renewal', (k) => k.cfg.leaseRenewMs, (k) => k.renewLease()),
    nodeStatus: periodic('node status', (k) => k.cfg.nodeStatusMs, (k) => k.reportNodeStatus()),
    logRotator: periodic('log rotation', () => 10_000, (k) => k.rotateLogs()),
    podSync: fromCallback<Ev, Kubelet>(({ input, sendBack }) => {
      const { stop, synced } = input.startPodSync();
      void synced.then(() => sendBack({ type: 'SYNCED' }));
      return stop;
    }),
    server: fromCallback<Ev, () => () => void>(({ input }) => input()),
    drain: fromPromise<void, { kubelet: Kubelet; keepPods: boolean; timeoutMs: number }>(({ input }) => input.kubelet.drain(input.keepPods, input.timeoutMs)),
  },
  delays: { retry: ({ context }) => context.retryMs },
}).createMachine({
  id: 'kubelet',
  context: ({ input }) => input,
  initial: 'registering',
  on: { STOP: { target: '.draining', actions: assign({ stop: ({ event }) => ({ keepPods: event.keepPods, timeoutMs: event.timeoutMs }) }) } },
  states: {
    registering: {
      invoke: {
        src: 'register',
        input: ({ context }) => context.kubelet,
        onDone: 'active',
        onError: { target: 'waitingToRegister', actions: ({ context, event }) => context.log.warn('node registration failed; retrying', { err: event.error }) },
      },
    },
    waitingToRegister: { after: { retry: 'registering' } },
    active: {
      invoke: [
        { src: 'podSync', input: ({ context }) => context.kubelet },
        { src: 'leaseRenewer', input: ({ context }) => ({ kubelet: context.kubelet, log: context.log }) },
        { src: 'nodeStatus', input: ({ context }) => ({ kubelet: context.kubelet, log: context.log }) },
        { src: 'logRotator', input: ({ context }) => ({ kubelet: context.kubelet, log: context.log }) },
        { src: 'server', input: ({ context }) => context.serve },
      ],
      initial: 'syncing',
      states: {
        syncing: { on: { SYNCED: { target: 'running', actions: ({ context }) => context.log.info('pods synced', { pods: context.kubelet.workers.size }) } } },
        running: {},
      },
    },
    draining: {
      invoke: {
        src: 'drain',
        input: ({ context }) => ({ kubelet: context.kubelet, keepPods: context.stop?.keepPods ?? false, timeoutMs: context.stop?.timeoutMs ?? 35_000 }),
        onDone: 'stopped',
        onError: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
