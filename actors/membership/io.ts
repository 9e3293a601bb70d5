// What a SWIM member needs from outside: a clock and a transport. Production gives it real timers
// and NATS; the benchmark and the scenario tests give it a virtual clock and an in-memory network.
import type { Message } from './messages.ts';
import type { Member } from './state.ts';

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  after(ms: number, fn: () => void): Timer;
}

/** How messages leave a member. `R` is the transport's reply address. */
export interface Transport<R> {
  /** Sends; with `replySeq`, the answer comes back through `replied`, or `unreachable` when nobody is there. */
  send(to: string, msg: Message, replySeq?: number): void;
  reply(to: R, msg: Message): void;
  /** Sends a join to some member already in the group (a seed, or whoever the join subject reaches). */
  join(msg: Message, replySeq: number): void;
}

export interface SwimHooks {
  /** A member's state or incarnation changed in this view (`previous` undefined: first heard of). */
  change?(member: Member, previous: Member | undefined): void;
  /** The first full-state exchange after `join()` has completed. */
  joined?(): void;
}
