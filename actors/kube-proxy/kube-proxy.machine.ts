// The kube-proxy actor: while it serves, it follows Services and Endpoints and holds their
// listeners, which close when it stops. RESYNC (a member that gossip declared dead, or that came
// back) has every service looked at again, before the Endpoints objects say so.
import { fromCallback, setup } from 'xstate';
import type { KubeProxy } from './kube-proxy.ts';

type Ev = { type: 'RESYNC' } | { type: 'STOP' };

export const kubeProxyMachine = setup({
  types: { input: {} as { proxy: KubeProxy }, context: {} as { proxy: KubeProxy }, events: {} as Ev },
  actors: {
    serve: fromCallback<Ev, KubeProxy>(({ input }) => {
      input.start();
      input.sync();
      return () => input.stop();
    }),
  },
}).createMachine({
  id: 'kubeProxy',
  context: ({ input }) => input,
  initial: 'serving',
  states: {
    serving: {
      invoke: { src: 'serve', input: ({ context }) => context.proxy },
      on: {
        RESYNC: { actions: ({ context }) => context.proxy.scheduleSync() },
        STOP: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
