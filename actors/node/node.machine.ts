// A worker node's root actor. It keeps the Services and Endpoints informers that the kubelet (for
// pods' environment) and kube-proxy share, and runs the kubelet, kube-proxy and the gossip member.
// A node that gossip declares dead, or that comes back, has kube-proxy look at every service again
// at once, before the Endpoints objects say so. The kubelet or kube-proxy failing stops the node,
// with the reason: its pods are drained first. On STOP: the member announces that it leaves, then
// kube-proxy and the informers stop, then the kubelet drains (or leaves the pods running).
import type { NatsConnection } from 'nats';
import { assign, fromCallback, sendTo, setup } from 'xstate';
import { NODE_STOP_SLACK_MS } from '../../protocol/config.ts';
import type { Endpoints, Service } from '../../protocol/types.ts';
import type { Informer } from '../client/informer.ts';
import { kubeProxyMachine, type KubeProxy } from '../kube-proxy/index.ts';
import { kubeletMachine, type KubeletInput } from '../kubelet/index.ts';
import { membershipMachine, type MemberChanged, type Membership } from '../membership/index.ts';
import type { Logger } from '../platform/log.ts';
import { partFailed } from '../runtime/failure.ts';

export interface NodeInput {
  nc: NatsConnection;
  log: Logger;
  membership: Membership;
  informers: { services: Informer<Service>; endpoints: Informer<Endpoints> };
  kubelet: KubeletInput;
  proxy: KubeProxy;
  keepPods: boolean;
  /** The longest pods get to stop; the kubelet is waited for this long and NODE_STOP_SLACK_MS more. */
  shutdownGraceMs: number;
  leaveTimeoutMs: number;
}

interface Context extends NodeInput {
  /** Whether the kubelet finished its drain (else the reaper cleans up after its grace). */
  kubeletStopped: boolean;
  failure?: string;
}

type Events = { type: 'STOP' } | MemberChanged;

const gone = (state: string | undefined) => state === 'dead' || state === 'left';

export const nodeMachine = setup({
  types: { input: {} as NodeInput, context: {} as Context, events: {} as Events, output: {} as { kubeletStopped: boolean; failure?: string } },
  actors: {
    kubelet: kubeletMachine,
    kubeProxy: kubeProxyMachine,
    membership: membershipMachine,
    informers: fromCallback<Events, NodeInput['informers']>(({ input }) => {
      input.services.start();
      input.endpoints.start();
      return () => {
        input.services.stop();
        input.endpoints.stop();
      };
    }),
  },
  guards: {
    nodeGoneOrBack: ({ event }) => event.type === 'MEMBER_CHANGED' && event.role === 'node' && (gone(event.state) || gone(event.previous)),
  },
  actions: {
    fail: assign(({ context, event }, { component }: { component: string }) => ({
      failure: partFailed(context.log, 'node', component, (event as { error?: unknown }).error),
    })),
  },
  delays: {
    leaveTimeout: ({ context }) => context.leaveTimeoutMs,
    drainTimeout: ({ context }) => context.shutdownGraceMs + NODE_STOP_SLACK_MS,
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({ ...input, kubeletStopped: false }),
  // The kubelet and the member live until the end: the member's leave goes out first, and the
  // kubelet drains last.
  invoke: [
    {
      id: 'kubelet', src: 'kubelet', input: ({ context }: { context: Context }) => context.kubelet,
      onDone: { target: '.stopped', actions: assign({ kubeletStopped: true }) },
      onError: { target: '.stopped', actions: { type: 'fail', params: { component: 'kubelet' } } },
    },
    {
      id: 'membership', src: 'membership', input: ({ context }: { context: Context }) => ({ membership: context.membership, nc: context.nc }),
      onDone: '.draining',
      onError: { target: '.draining', actions: { type: 'fail', params: { component: 'membership' } } },
    },
  ],
  initial: 'serving',
  states: {
    serving: {
      invoke: [
        { src: 'informers', input: ({ context }) => context.informers },
        {
          id: 'kubeProxy', src: 'kubeProxy', input: ({ context }) => ({ proxy: context.proxy }),
          onError: { target: 'draining', actions: { type: 'fail', params: { component: 'kube-proxy' } } },
        },
      ],
      on: { MEMBER_CHANGED: { guard: 'nodeGoneOrBack', actions: sendTo('kubeProxy', { type: 'RESYNC' }) } },
      initial: 'running',
      states: {
        running: { on: { STOP: 'leaving' } },
        leaving: {
          entry: sendTo('membership', { type: 'LEAVE' }),
          after: { leaveTimeout: '#node.draining' },
        },
      },
    },
    draining: {
      entry: sendTo('kubelet', ({ context }) => ({ type: 'STOP' as const, keepPods: context.keepPods, timeoutMs: context.shutdownGraceMs })),
      after: { drainTimeout: 'stopped' },
    },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ kubeletStopped: context.kubeletStopped, failure: context.failure }),
});
