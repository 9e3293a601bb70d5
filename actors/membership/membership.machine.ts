// The membership actor: it joins, follows its own NATS link (Lifeguard: no accusations while the
// link is down or just back), tells its parent of every change of a member's state
// (MEMBER_CHANGED), and on LEAVE announces the departure before it stops.
import { Events, type NatsConnection } from 'nats';
import { fromCallback, fromPromise, setup } from 'xstate';
import { toParent } from '../runtime/parent.ts';
import type { Membership } from './membership.ts';
import type { MemberState } from './state.ts';

export interface MembershipInput {
  membership: Membership;
  nc: NatsConnection;
}
/** What the membership actor tells its parent. */
export interface MemberChanged {
  type: 'MEMBER_CHANGED';
  name: string;
  role: string;
  state: MemberState;
  previous?: MemberState;
}

type MembershipEvent = { type: 'JOINED' } | { type: 'NETWORK'; up: boolean } | { type: 'LEAVE' } | MemberChanged;

export const membershipMachine = setup({
  types: { input: {} as MembershipInput, context: {} as MembershipInput, events: {} as MembershipEvent },
  actors: {
    run: fromCallback<MembershipEvent, Membership>(({ input, sendBack }) => {
      const unsubscribe = input.onChange((m, previous) => sendBack({ type: 'MEMBER_CHANGED', name: m.name, role: m.role, state: m.state, previous: previous?.state }));
      input.start(() => sendBack({ type: 'JOINED' }));
      return () => {
        unsubscribe();
        input.stop();
      };
    }),
    followLink: fromCallback<MembershipEvent, NatsConnection>(({ input, sendBack }) => {
      let stopped = false;
      void (async () => {
        for await (const s of input.status()) {
          if (stopped) break;
          if (s.type === Events.Disconnect) sendBack({ type: 'NETWORK', up: false });
          else if (s.type === Events.Reconnect) sendBack({ type: 'NETWORK', up: true });
        }
      })().catch(() => {});
      return () => { stopped = true; };
    }),
    leave: fromPromise<void, Membership>(({ input }) => input.leave()),
  },
}).createMachine({
  id: 'membership',
  context: ({ input }) => input,
  initial: 'active',
  states: {
    active: {
      invoke: [
        { src: 'run', input: ({ context }) => context.membership },
        { src: 'followLink', input: ({ context }) => context.nc },
      ],
      on: {
        NETWORK: { actions: ({ context, event }) => context.membership.networkChanged(event.up) },
        MEMBER_CHANGED: { actions: ({ event, self }) => toParent(self, event) },
        LEAVE: 'leaving',
      },
      initial: 'joining',
      states: {
        joining: { on: { JOINED: 'joined' } },
        joined: {},
      },
    },
    leaving: {
      invoke: { src: 'leave', input: ({ context }) => context.membership, onDone: 'left', onError: 'left' },
    },
    left: { type: 'final' },
  },
});
