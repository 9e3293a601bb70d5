// The apiserver actor: open the buckets, load the watch caches, create the standard namespaces,
// then serve. Any failure goes back through a backoff to the start; while serving, the request
// subscription, the watch heartbeats and the namespace sweep live exactly as long as the state.
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { APISERVER_RETRY_MAX_MS } from '../../protocol/config.ts';
import type { Logger } from '../platform/log.ts';
import { tellParent } from '../runtime/parent.ts';
import type { ApiServer } from './server.ts';

export interface ApiserverInput {
  server: ApiServer;
  log: Logger;
  retryMs: number;
  sweepMs: number;
}

type Events = { type: 'CACHES_READY' } | { type: 'FAILED'; error: unknown } | { type: 'STOP' };

export const apiserverMachine = setup({
  types: {
    input: {} as ApiserverInput,
    context: {} as ApiserverInput & { failures: number },
    events: {} as Events,
  },
  actors: {
    openStore: fromPromise<void, ApiServer>(({ input }) => input.openStore()),
    bootstrap: fromPromise<void, ApiServer>(({ input }) => input.bootstrap()),
    feedCaches: fromCallback<Events, ApiServer>(({ input, sendBack }) =>
      input.feedCaches(() => sendBack({ type: 'CACHES_READY' }), (error) => sendBack({ type: 'FAILED', error }))),
    // A watch is opened by a request, so the watches end with the requests' subscription.
    serveRequests: fromCallback<Events, ApiServer>(({ input }) => {
      const stop = input.serveRequests();
      return () => {
        stop();
        input.stopWatches();
      };
    }),
    heartbeats: fromCallback<Events, ApiServer>(({ input }) => input.runHeartbeats()),
    namespaceSweep: fromCallback<Events, { server: ApiServer; periodMs: number }>(({ input }) => input.server.runNamespaceSweep(input.periodMs)),
  },
  actions: {
    // Both FAILED and an invoked actor's error event carry `error`.
    logFailure: ({ context, event }) => {
      context.log.error('apiserver failed; retrying', { err: (event as { error?: unknown }).error });
    },
    countFailure: assign({ failures: ({ context }) => context.failures + 1 }),
    logServing: ({ context }) => context.log.info('serving'),
    reportServing: tellParent({ type: 'APISERVER_SERVING' }),
  },
  delays: {
    retry: ({ context }) => Math.min(context.retryMs * 2 ** Math.min(context.failures, 5), APISERVER_RETRY_MAX_MS),
  },
}).createMachine({
  id: 'apiserver',
  context: ({ input }) => ({ ...input, failures: 0 }),
  initial: 'opening',
  on: { STOP: '.stopped' },
  states: {
    opening: {
      invoke: {
        src: 'openStore',
        input: ({ context }) => context.server,
        onDone: 'running',
        onError: { target: '#apiserver.backoff', actions: ['logFailure', 'countFailure'] },
      },
    },
    backoff: { after: { retry: 'opening' } },
    running: {
      invoke: { src: 'feedCaches', input: ({ context }) => context.server },
      on: {
        FAILED: { target: '#apiserver.backoff', actions: ['logFailure', 'countFailure'] },
      },
      initial: 'syncing',
      states: {
        syncing: { on: { CACHES_READY: 'bootstrapping' } },
        bootstrapping: {
          invoke: {
            src: 'bootstrap',
            input: ({ context }) => context.server,
            onDone: 'serving',
            onError: { target: '#apiserver.backoff', actions: ['logFailure', 'countFailure'] },
          },
        },
        serving: {
          entry: ['logServing', 'reportServing', assign({ failures: 0 })],
          invoke: [
            { src: 'serveRequests', input: ({ context }) => context.server },
            { src: 'heartbeats', input: ({ context }) => context.server },
            { src: 'namespaceSweep', input: ({ context }) => ({ server: context.server, periodMs: context.sweepMs }) },
          ],
        },
      },
    },
    stopped: { type: 'final' },
  },
});
