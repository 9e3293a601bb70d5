// The membership actor: it joins, follows its own NATS link (Lifeguard: no accusations while the
// link is down or just back), and on LEAVE announces the departure before it stops.
import { Events, type NatsConnection } from 'nats';
import { createActor, fromCallback, fromPromise, setup, waitFor } from 'xstate';
import { Membership, type MembershipOptions } from './membership.ts';

export interface MembershipInput {
  membership: Membership;
  nc: NatsConnection;
}
type MembershipEvent = { type: 'JOINED' } | { type: 'NETWORK'; up: boolean } | { type: 'LEAVE' };

export const membershipMachine = setup({
  types: { input: {} as MembershipInput, context: {} as MembershipInput, events: {} as MembershipEvent },
  actors: {
    run: fromCallback<MembershipEvent, Membership>(({ input, sendBack }) => {
      input.start(() => sendBack({ type: 'JOINED' }));
      return () => input.stop();
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

/** Joins the gossip group as `opts.name`; `leave()` announces the departure and waits (2 s at most) for it to go out. */
export function joinGossip(opts: MembershipOptions): { membership: Membership; leave(): Promise<void> } {
  const membership = new Membership(opts);
  const member = createActor(membershipMachine, { input: { membership, nc: opts.nc } }).start();
  return {
    membership,
    async leave() {
      member.send({ type: 'LEAVE' });
      await waitFor(member, (s) => s.status === 'done', { timeout: 2000 }).catch(() => {});
    },
  };
}
