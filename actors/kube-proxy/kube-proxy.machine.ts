// The kube-proxy actor: it serves while it runs, and its listeners close when it stops.
import { fromCallback, setup } from 'xstate';
import type { KubeProxy } from './kube-proxy.ts';

export const kubeProxyMachine = setup({
  types: { input: {} as { proxy: KubeProxy }, context: {} as { proxy: KubeProxy }, events: {} as { type: 'STOP' } },
  actors: {
    serve: fromCallback<{ type: 'STOP' }, KubeProxy>(({ input }) => {
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
      on: { STOP: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
