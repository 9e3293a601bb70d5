// The SWIM state rules, as memberlist's state.go keeps them: what one piece of news about a member
// does to this member's view. Every rule looks at the incarnation first. Only a member raises its
// own incarnation (to refute), so news about it carrying an older incarnation is old news. Pure.

import type { MemberRole, MemberState } from '../../protocol/types.ts';

export type { MemberRole, MemberState };

export interface Member {
  name: string;
  role: MemberRole;
  incarnation: number;
  state: MemberState;
  /** When this view last saw the state change (ms, this member's clock). */
  since: number;
  /** Dead because the network found nobody at its address (its process is gone), not because a suspicion ran out. */
  unreachable?: boolean;
}

export interface AliveNews {
  type: 'alive';
  name: string;
  incarnation: number;
  role: MemberRole;
}
export interface SuspectNews {
  type: 'suspect';
  name: string;
  incarnation: number;
  /** Who suspects it: confirmations from distinct members shorten the suspicion. */
  from: string;
}
/** Declared dead; a member that announces its own death (from === name) has left. */
export interface DeadNews {
  type: 'dead';
  name: string;
  incarnation: number;
  from: string;
  /**
   * The network said nobody holds its subject (NATS' "no responders"): its process is gone. A
   * death without it is a suspicion that ran out unrefuted, which a link that is only slow or
   * lossy can also cause: weaker evidence (the node lifecycle waits for the lease to agree).
   */
  unreachable?: boolean;
}
export type News = AliveNews | SuspectNews | DeadNews;

export type Outcome =
  /** Old or redundant news: nothing changes and nothing is passed on. */
  | { kind: 'ignore' }
  /** News that this member is suspect or dead, while it is alive: it must refute. */
  | { kind: 'refute' }
  /** A member seen for the first time. */
  | { kind: 'join'; member: Member }
  /** The member's state or incarnation changed; the news is passed on. */
  | { kind: 'change'; member: Member }
  /** Another member also suspects one already suspected. */
  | { kind: 'confirm' };

const IGNORE: Outcome = { kind: 'ignore' };
const REFUTE: Outcome = { kind: 'refute' };
const CONFIRM: Outcome = { kind: 'confirm' };

export interface Self {
  name: string;
  incarnation: number;
  /** A member that is leaving lets news of its departure stand. */
  leaving: boolean;
}

/** What `news` does to a view that holds `current` (undefined: never heard of) about its subject. */
export function applyNews(current: Member | undefined, news: News, self: Self, now: number): Outcome {
  if (news.name === self.name) return aboutSelf(news, self);
  switch (news.type) {
    case 'alive':
      if (!current) return { kind: 'join', member: { name: news.name, role: news.role, incarnation: news.incarnation, state: 'alive', since: now } };
      // Equal incarnation is not enough: an alive at the incarnation that was suspected would
      // undo the suspicion without the member having refuted it.
      if (news.incarnation <= current.incarnation) return IGNORE;
      return { kind: 'change', member: { ...living(current), role: news.role, incarnation: news.incarnation, state: 'alive', since: now } };
    case 'suspect':
      if (!current || news.incarnation < current.incarnation) return IGNORE;
      if (current.state === 'dead' || current.state === 'left') return IGNORE;
      if (current.state === 'suspect' && news.incarnation === current.incarnation) return CONFIRM;
      return { kind: 'change', member: { ...living(current), incarnation: news.incarnation, state: 'suspect', since: current.state === 'suspect' ? current.since : now } };
    case 'dead': {
      if (!current || news.incarnation < current.incarnation) return IGNORE;
      if (current.state === 'dead' || current.state === 'left') return IGNORE;
      const state = news.from === news.name ? 'left' : 'dead';
      return { kind: 'change', member: { ...current, incarnation: news.incarnation, state, since: now, ...(state === 'dead' && news.unreachable ? { unreachable: true } : {}) } };
    }
  }
}

/** A member's record without what only a dead one has. */
function living(m: Member): Member {
  const { unreachable: _, ...rest } = m;
  return rest;
}

function aboutSelf(news: News, self: Self): Outcome {
  if (news.type === 'alive') {
    // Someone speaks for a newer incarnation of us (an earlier run of this process that got
    // further): out-bid it, or the others will believe it.
    return news.incarnation > self.incarnation && !self.leaving ? REFUTE : IGNORE;
  }
  if (news.incarnation < self.incarnation) return IGNORE;
  if (self.leaving) return IGNORE;
  return REFUTE;
}

/** The incarnation a member takes to refute an accusation made at `accused`. */
export function refutedIncarnation(own: number, accused: number): number {
  return Math.max(own, accused) + 1;
}

/** The news that states `m`'s current state, as told by `from`: what a suspect or dead member is told about itself. */
export function newsOf(m: Member, from: string): News {
  switch (m.state) {
    case 'alive':
      return { type: 'alive', name: m.name, incarnation: m.incarnation, role: m.role };
    case 'suspect':
      return { type: 'suspect', name: m.name, incarnation: m.incarnation, from };
    case 'dead':
      return { type: 'dead', name: m.name, incarnation: m.incarnation, from, ...(m.unreachable ? { unreachable: true } : {}) };
    case 'left':
      return { type: 'dead', name: m.name, incarnation: m.incarnation, from: m.name };
  }
}

/**
 * The news to take from another member's full state (push-pull). Its death verdicts arrive as
 * suspicion: the sender may have decided on evidence this member never saw, so the suspect gets
 * its chance to refute here too (memberlist's mergeState does the same). Departures stand.
 */
export function mergeNews(remote: readonly Member[], from: string): News[] {
  const out: News[] = [];
  for (const m of remote) {
    switch (m.state) {
      case 'alive':
        out.push({ type: 'alive', name: m.name, incarnation: m.incarnation, role: m.role });
        break;
      case 'suspect':
      case 'dead':
        out.push({ type: 'alive', name: m.name, incarnation: m.incarnation, role: m.role }, { type: 'suspect', name: m.name, incarnation: m.incarnation, from });
        break;
      case 'left':
        out.push({ type: 'alive', name: m.name, incarnation: m.incarnation, role: m.role }, { type: 'dead', name: m.name, incarnation: m.incarnation, from: m.name });
        break;
    }
  }
  return out;
}
