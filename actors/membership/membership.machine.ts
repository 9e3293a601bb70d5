// The membership actor: it joins, follows its own NATS link (Lifeguard: no accusations while the
// link is down or just back), tells its parent of every change of a member's state
// (MEMBER_CHANGED), and on LEAVE announces the departure before it stops.
//
// The link is down when the client says it is disconnected, and also when its server has not
// answered a round trip (a PING) for LINK_SILENT_PERIODS gossip periods: a link that passes
// nothing (a partition, a cable pulled) looks connected to the client for up to two of its ping
// intervals (20 s), and meanwhile every probe fails and the cut-off member would declare the whole
// group dead, then tell them so when the link heals (its queued messages arrive all at once).
import { Events, type NatsConnection } from 'nats';
import { fromCallback, fromPromise, setup } from 'xstate';
import { toParent } from '../runtime/parent.ts';
import type { Membership } from './membership.ts';
import type { MemberState } from './state.ts';

export interface MembershipInput {
  membership: Membership;
  nc: NatsConnection;
}
/** Gossip periods without an answer to a round trip to the server after which our link counts as down. */
const LINK_SILENT_PERIODS = 2;
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
    followLink: fromCallback<MembershipEvent, { nc: NatsConnection; periodMs: number }>(({ input: { nc, periodMs }, sendBack }) => {
      let stopped = false;
      let disconnected = false;
      let silent = false;
      let up = true;
      const tell = () => {
        if (up === (!disconnected && !silent)) return;
        up = !up;
        sendBack({ type: 'NETWORK', up });
      };
      void (async () => {
        for await (const s of nc.status()) {
          if (stopped) break;
          if (s.type === Events.Disconnect) disconnected = true;
          else if (s.type === Events.Reconnect) disconnected = false;
          tell();
        }
      })().catch(() => {});
      // One round trip at a time (since when: `asked`); one unanswered for too long makes the link
      // silent until it is answered.
      let asked = 0;
      const roundTrips = setInterval(() => {
        if (nc.isClosed()) return;
        if (asked === 0) {
          asked = Date.now();
          nc.flush().then(() => {
            silent = false;
            tell();
          }, () => {}).finally(() => { asked = 0; });
        } else if (!silent && Date.now() - asked >= LINK_SILENT_PERIODS * periodMs) {
          silent = true;
          tell();
        }
      }, periodMs);
      return () => {
        stopped = true;
        clearInterval(roundTrips);
      };
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
        { src: 'followLink', input: ({ context }) => ({ nc: context.nc, periodMs: context.membership.periodMs }) },
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
