// One member of a SWIM group with Lifeguard's refinements. It owns no sockets and no clock: the
// transport (NATS in production, in-memory in the benchmark) and the clock are given, so the
// benchmark runs exactly this code. The rules it applies live in the pure files beside it.
import { Awareness, failedProbeDelta } from './awareness.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast.ts';
import type { Message } from './messages.ts';
import type { Random } from './probe-order.ts';
import { applyNews, mergeNews, newsOf, refutedIncarnation, type Member, type MemberRole, type News } from './state.ts';
import { confirmationsWanted, Suspicion, suspicionTimeouts, unreachableVerdict } from './suspicion.ts';
import { MemberView } from './view.ts';
import { EAGER_GOSSIP_SPACING, GossipStats, pushPullInterval, REAP_EVERY_PERIODS, RELAY_NACK_SHARE, SYNC_TIMEOUT_PROBES, type SwimConfig } from './timing.ts';

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

type Probe = {
  kind: 'probe';
  target: string;
  start: number;
  timeoutMs: number;
  acked: boolean;
  direct: boolean;
  unreachable: boolean;
  nacks: number;
  expectedNacks: number;
  epoch: number;
  relaySeqs: number[];
  timers: Timer[];
};
type Pending<R> =
  | Probe
  | { kind: 'indirect'; probe: Probe }
  | { kind: 'relay'; replyTo: R; timer: Timer }
  | { kind: 'verify'; target: string; timer: Timer }
  | { kind: 'sync'; join: boolean; timer: Timer };

interface Suspected {
  suspicion: Suspicion;
  timer: Timer;
  /** When our own probe first met "nobody is there", awaiting the second probe that confirms it. */
  unreachableAt?: number;
  verifying?: boolean;
}

export class Swim<R = unknown> {
  private readonly view: MemberView;
  private readonly queue = new BroadcastQueue();
  readonly awareness: Awareness;
  private readonly suspected = new Map<string, Suspected>();
  private readonly pending = new Map<number, Pending<R>>();
  private seq = 0;
  private running = false;
  private leaving = false;
  private networkUp = true;
  private healthyAt = 0;
  private epoch = 0;
  private loops: Timer[] = [];
  private eager?: Timer;
  private lastEager = -Infinity;
  private joinAttempts = 0;
  readonly stats = new GossipStats();

  constructor(
    readonly name: string,
    role: MemberRole,
    private readonly cfg: SwimConfig,
    private readonly transport: Transport<R>,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly hooks: SwimHooks = {},
  ) {
    this.awareness = new Awareness(cfg.awarenessMax);
    this.view = new MemberView(name, { name, role, incarnation: 0, state: 'alive', since: clock.now() }, random);
  }

  get self(): Member {
    return this.view.self;
  }

  /** This member's view, itself included. */
  members(): Member[] {
    return this.view.all();
  }

  member(name: string): Member | undefined {
    return this.view.get(name);
  }

  /** Members alive or suspect, counting ourselves. */
  get size(): number {
    return this.view.liveCount;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [
      this.clock.after(this.random() * this.cfg.periodMs, () => this.probeTick()),
      this.every(this.cfg.gossipIntervalMs, () => this.gossipRound()),
      this.clock.after(this.random() * pushPullInterval(this.cfg.pushPullMs, this.view.liveCount), () => this.pushPullTick()),
      this.every(this.cfg.periodMs * REAP_EVERY_PERIODS, () => this.reap()),
    ];
  }

  stop(): void {
    this.running = false;
    for (const t of this.loops) t.cancel();
    this.loops = [];
    this.eager?.cancel();
    for (const s of this.suspected.values()) s.timer.cancel();
    this.suspected.clear();
    for (const p of this.pending.values()) this.cancelPending(p);
    this.pending.clear();
  }

  /**
   * Starts from a membership already agreed, without news to spread: how the benchmark starts a
   * converged group of a thousand without a thousand joins.
   */
  assume(members: readonly Member[]): void {
    for (const m of members) {
      if (m.name !== this.name && !this.view.get(m.name)) this.setMember({ ...m, since: this.clock.now() }, undefined);
    }
  }

  /** Asks the group for its state; retried while this member knows no one else. */
  join(): void {
    const seq = this.nextSeq();
    const timer = this.clock.after(this.cfg.probeTimeoutMs * SYNC_TIMEOUT_PROBES, () => {
      this.pending.delete(seq);
      this.joinLater(this.cfg.joinRetryMs);
    });
    this.pending.set(seq, { kind: 'sync', join: true, timer });
    this.stats.count('push-pull');
    this.transport.join({ type: 'push-pull', from: this.name, join: true, members: this.members() }, seq);
  }

  /** Announces our departure to everyone we know, and stops. */
  leave(): void {
    if (this.leaving) return;
    this.leaving = true;
    const me = this.self;
    const news: News = { type: 'dead', name: this.name, incarnation: me.incarnation, from: this.name };
    this.view.setSelf({ ...me, state: 'left', since: this.clock.now() });
    for (const other of this.view.liveOthers()) this.send(other, { type: 'gossip', from: this.name, news: [news] });
    this.stop();
  }

  /** Lifeguard: while our own link is down, or just back, we accuse no one. */
  networkChanged(up: boolean): void {
    if (up === this.networkUp) return;
    this.networkUp = up;
    this.epoch++;
    if (up) this.healthyAt = this.clock.now() + this.cfg.settleMs;
  }

  canDeclareDead(): boolean {
    return this.networkUp && this.clock.now() >= this.healthyAt;
  }

  // ---- inbound -------------------------------------------------------------------------

  /** A message addressed to us; `replyTo` when its sender asked for an answer. */
  receive(msg: Message, replyTo?: R): void {
    if (!this.running) return;
    this.stats.received++;
    if ('news' in msg) this.takeNews(msg.news);
    switch (msg.type) {
      case 'ping':
        if (replyTo !== undefined && msg.target === this.name) this.answer(replyTo, { type: 'ack', from: this.name, news: this.piggyback(msg.from) });
        break;
      case 'ping-req':
        if (replyTo !== undefined) this.relay(msg.target, replyTo);
        break;
      case 'push-pull':
        if (replyTo === undefined) break;
        if (msg.from === this.name) {
          this.answer(replyTo, { type: 'nack', from: this.name });
          break;
        }
        this.merge(msg.members, msg.from);
        this.answer(replyTo, { type: 'state', from: this.name, members: this.members() });
        break;
      default:
        break;
    }
  }

  /** The answer to a message we sent with `seq`. */
  replied(seq: number, msg: Message): void {
    if (!this.running) return;
    this.stats.received++;
    if ('news' in msg) this.takeNews(msg.news);
    const p = this.pending.get(seq);
    if (!p) return;
    if (msg.type === 'ack') {
      if (p.kind === 'probe') this.acked(p);
      else if (p.kind === 'indirect') this.acked(p.probe);
      else if (p.kind === 'relay') this.finishRelay(seq, p, { type: 'ack', from: this.name, news: [] });
      else if (p.kind === 'verify') this.finishVerify(seq, p, false);
    } else if (msg.type === 'nack') {
      if (p.kind === 'indirect') p.probe.nacks++;
      else if (p.kind === 'sync' && p.join) this.landedOnSelf(seq, p);
    } else if (msg.type === 'state' && p.kind === 'sync') {
      this.pending.delete(seq);
      p.timer.cancel();
      this.merge(msg.members, msg.from);
      if (p.join) {
        this.joinAttempts = 0;
        this.hooks.joined?.();
      }
    }
  }

  /** The network says nobody is subscribed where we sent `seq`. */
  unreachable(seq: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    switch (p.kind) {
      case 'probe':
        p.unreachable = true;
        if (!p.acked) this.noteUnreachable(p.target);
        break;
      case 'relay':
        this.finishRelay(seq, p, { type: 'nack', from: this.name, unreachable: true });
        break;
      case 'verify':
        this.finishVerify(seq, p, true);
        break;
      case 'sync':
        this.pending.delete(seq);
        p.timer.cancel();
        if (p.join) this.joinLater(this.cfg.joinRetryMs);
        break;
      default:
        break;
    }
  }

  // ---- probing -------------------------------------------------------------------------

  private probeTick(): void {
    if (!this.running) return;
    const period = this.awareness.scale(this.cfg.periodMs);
    this.loops[0] = this.clock.after(period, () => this.probeTick());
    if (!this.networkUp) return;
    const target = this.view.nextProbe();
    if (target !== undefined) this.probe(target, period);
  }

  private probe(target: string, period: number): void {
    const seq = this.nextSeq();
    const timeoutMs = this.awareness.scale(this.cfg.probeTimeoutMs);
    const p: Probe = {
      kind: 'probe', target, start: this.clock.now(), timeoutMs, acked: false, direct: false, unreachable: false,
      nacks: 0, expectedNacks: 0, epoch: this.epoch, relaySeqs: [], timers: [],
    };
    this.pending.set(seq, p);
    this.stats.probes++;
    this.send(target, { type: 'ping', from: this.name, target, news: this.piggyback(target) }, seq);
    p.timers.push(this.clock.after(timeoutMs, () => this.probeIndirect(p)), this.clock.after(period, () => this.finishProbe(seq, p)));
  }

  private acked(p: Probe): void {
    if (p.acked) return;
    p.acked = true;
    p.direct = this.clock.now() - p.start <= p.timeoutMs;
    const s = this.suspected.get(p.target);
    if (s) s.unreachableAt = undefined;
  }

  /** No ack in time: ask k others to try, each of whom answers with the ack or a nack. */
  private probeIndirect(p: Probe): void {
    if (p.acked || p.unreachable) return;
    const relays = this.view.pick(this.cfg.indirectChecks, (m) => m.name !== p.target && m.state === 'alive');
    p.expectedNacks = relays.length;
    for (const relay of relays) {
      const seq = this.nextSeq();
      this.pending.set(seq, { kind: 'indirect', probe: p });
      p.relaySeqs.push(seq);
      this.send(relay, { type: 'ping-req', from: this.name, target: p.target, news: this.piggyback(relay) }, seq);
    }
  }

  private finishProbe(seq: number, p: Probe): void {
    this.pending.delete(seq);
    for (const s of p.relaySeqs) this.pending.delete(s);
    for (const t of p.timers) t.cancel();
    if (p.acked) {
      if (p.direct) this.awareness.apply(-1);
      return;
    }
    // Unreachable is handled as it arrives; and a probe that spanned our own disconnection says
    // nothing about its target.
    if (p.unreachable || p.epoch !== this.epoch || !this.networkUp || !this.running) return;
    this.stats.failedProbes++;
    this.awareness.apply(failedProbeDelta(p.expectedNacks, p.nacks));
    this.accuse(p.target);
  }

  private relay(target: string, replyTo: R): void {
    const seq = this.nextSeq();
    const timer = this.clock.after(this.awareness.scale(this.cfg.probeTimeoutMs) * RELAY_NACK_SHARE, () => {
      const p = this.pending.get(seq);
      if (p?.kind === 'relay') this.finishRelay(seq, p, { type: 'nack', from: this.name });
    });
    this.pending.set(seq, { kind: 'relay', replyTo, timer });
    this.send(target, { type: 'ping', from: this.name, target, news: this.piggyback(target) }, seq);
  }

  private finishRelay(seq: number, p: Extract<Pending<R>, { kind: 'relay' }>, answer: Message): void {
    this.pending.delete(seq);
    p.timer.cancel();
    this.answer(p.replyTo, answer);
  }

  // ---- suspicion -----------------------------------------------------------------------

  /** Our own probe failed: suspect the target (or confirm an existing suspicion), and tell it so. */
  private accuse(target: string): void {
    const m = this.view.get(target);
    if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
    const news: News = { type: 'suspect', name: target, incarnation: m.incarnation, from: this.name };
    const wasAlive = m.state === 'alive';
    this.handleNews(news);
    // Lifeguard: the suspect hears of it at once, so that it can refute before its time is up.
    if (wasAlive) this.send(target, { type: 'gossip', from: this.name, news: [news] });
  }

  private noteUnreachable(target: string): void {
    this.accuse(target);
    const s = this.suspected.get(target);
    if (!s || s.unreachableAt !== undefined) return;
    s.unreachableAt = this.clock.now();
    this.clock.after(this.cfg.unreachableConfirmMs, () => this.verify(target));
  }

  /** The second probe of an unreachable suspect: a second "nobody there" is death. */
  private verify(target: string): void {
    const s = this.suspected.get(target);
    if (!this.running || !s || s.unreachableAt === undefined || s.verifying) return;
    s.verifying = true;
    const seq = this.nextSeq();
    const timer = this.clock.after(this.awareness.scale(this.cfg.probeTimeoutMs), () => {
      const p = this.pending.get(seq);
      if (p?.kind === 'verify') this.finishVerify(seq, p, false);
    });
    this.pending.set(seq, { kind: 'verify', target, timer });
    this.send(target, { type: 'ping', from: this.name, target, news: this.piggyback(target) }, seq);
  }

  private finishVerify(seq: number, p: Extract<Pending<R>, { kind: 'verify' }>, unreachable: boolean): void {
    this.pending.delete(seq);
    p.timer.cancel();
    const s = this.suspected.get(p.target);
    if (!s) return;
    s.verifying = false;
    if (!unreachable || s.unreachableAt === undefined) {
      // Someone is subscribed there again: the ordinary suspicion timer decides.
      s.unreachableAt = undefined;
      return;
    }
    if (!this.canDeclareDead()) {
      this.clock.after(this.cfg.periodMs, () => this.verify(p.target));
      return;
    }
    if (unreachableVerdict(s.unreachableAt, this.clock.now(), this.cfg.unreachableConfirmMs)) this.declareDead(p.target);
  }

  private startSuspicion(m: Member, from: string): void {
    this.suspected.get(m.name)?.timer.cancel();
    const n = this.view.liveCount;
    const { minMs, maxMs } = suspicionTimeouts(n, this.cfg);
    const suspicion = new Suspicion(m.incarnation, this.clock.now(), from, confirmationsWanted(n, this.cfg), minMs, maxMs);
    const entry: Suspected = { suspicion, timer: this.clock.after(maxMs, () => this.suspicionExpired(m.name, suspicion)) };
    this.suspected.set(m.name, entry);
    if (from === this.name) this.stats.suspicions++;
  }

  private rearm(name: string, entry: Suspected): void {
    entry.timer.cancel();
    const wait = Math.max(0, entry.suspicion.deadline() - this.clock.now());
    entry.timer = this.clock.after(wait, () => this.suspicionExpired(name, entry.suspicion));
  }

  private suspicionExpired(name: string, suspicion: Suspicion): void {
    const entry = this.suspected.get(name);
    const m = this.view.get(name);
    if (!entry || entry.suspicion !== suspicion || m?.state !== 'suspect' || m.incarnation !== suspicion.incarnation) return;
    if (!this.canDeclareDead()) {
      entry.timer = this.clock.after(this.cfg.periodMs, () => this.suspicionExpired(name, suspicion));
      return;
    }
    this.declareDead(name);
  }

  private declareDead(name: string): void {
    const m = this.view.get(name);
    if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
    this.stats.deaths++;
    this.handleNews({ type: 'dead', name, incarnation: m.incarnation, from: this.name });
  }

  // ---- news ----------------------------------------------------------------------------

  private takeNews(news: readonly News[]): void {
    for (const n of news) this.handleNews(n);
  }

  private handleNews(news: News): void {
    const current = this.view.get(news.name);
    const me = this.self;
    const outcome = applyNews(current, news, { name: this.name, incarnation: me.incarnation, leaving: this.leaving }, this.clock.now());
    switch (outcome.kind) {
      case 'ignore':
        return;
      case 'refute':
        this.refute(news.incarnation);
        return;
      case 'confirm': {
        const entry = this.suspected.get(news.name);
        if (news.type === 'suspect' && entry?.suspicion.confirm(news.from)) {
          this.rearm(news.name, entry);
          this.queue.enqueue(news);
        }
        return;
      }
      case 'join':
      case 'change':
        this.setMember(outcome.member, current);
        if (outcome.member.state === 'suspect') this.startSuspicion(outcome.member, news.type === 'suspect' ? news.from : this.name);
        this.queue.enqueue(news);
        if (outcome.member.state === 'dead' || outcome.member.state === 'left') this.gossipSoon();
        this.hooks.change?.(outcome.member, current);
    }
  }

  private refute(accused: number): void {
    const me = this.self;
    const incarnation = refutedIncarnation(me.incarnation, accused);
    this.view.setSelf({ ...me, incarnation });
    this.stats.refutes++;
    this.awareness.apply(1);
    this.queue.enqueue({ type: 'alive', name: this.name, incarnation, role: me.role });
    this.gossipSoon();
  }

  private setMember(m: Member, previous: Member | undefined): void {
    this.view.set(m, previous);
    if (m.state !== 'suspect' && previous?.state === 'suspect') {
      this.suspected.get(m.name)?.timer.cancel();
      this.suspected.delete(m.name);
    }
  }

  private merge(members: readonly Member[], from: string): void {
    this.takeNews(mergeNews(members, from));
  }

  /**
   * News for one message to `to`. A suspect or dead member gets only the news about itself (a
   * suspect learns it is suspected, Lifeguard's buddy system): other news sent to a member that
   * may be gone would use up retransmissions that live members need.
   */
  private piggyback(to: string): News[] {
    const m = this.view.get(to);
    if (m && m.state !== 'alive') return [newsOf(m, this.name)];
    return this.queue.take(this.cfg.maxPiggyback, retransmitLimit(this.cfg.retransmitMult, this.view.liveCount), to);
  }

  // ---- dissemination and anti-entropy ---------------------------------------------------

  private gossipRound(): void {
    if (this.queue.size === 0 || !this.networkUp) return;
    const now = this.clock.now();
    // The fanout goes to members that answer; one more goes to a member recently declared dead, so
    // that one declared wrongly hears of it and refutes, without taking a live member's place.
    const targets = this.view.pick(this.cfg.gossipFanout, (m) => m.state === 'alive');
    targets.push(...this.view.pick(1, (m) => (m.state === 'dead' || m.state === 'left') && now - m.since < this.cfg.gossipToDeadMs));
    for (const t of targets) {
      const news = this.piggyback(t);
      if (news.length) this.send(t, { type: 'gossip', from: this.name, news });
    }
  }

  /** Deaths and refutations go out now rather than at the next gossip tick. */
  private gossipSoon(): void {
    if (this.eager || !this.running) return;
    const wait = Math.max(0, this.lastEager + this.cfg.gossipIntervalMs * EAGER_GOSSIP_SPACING - this.clock.now());
    this.eager = this.clock.after(wait, () => {
      this.eager = undefined;
      this.lastEager = this.clock.now();
      this.gossipRound();
    });
  }

  private pushPullTick(): void {
    if (!this.running) return;
    this.loops[2] = this.clock.after(pushPullInterval(this.cfg.pushPullMs, this.view.liveCount), () => this.pushPullTick());
    const [peer] = this.view.pick(1, (m) => m.state === 'alive');
    if (peer === undefined) {
      if (this.networkUp) this.join();
      return;
    }
    const seq = this.nextSeq();
    const timer = this.clock.after(this.cfg.probeTimeoutMs * SYNC_TIMEOUT_PROBES, () => this.pending.delete(seq));
    this.pending.set(seq, { kind: 'sync', join: false, timer });
    this.send(peer, { type: 'push-pull', from: this.name, join: false, members: this.members() }, seq);
  }

  /** Our join reached ourselves (we are in the join group too): try again, then wait. */
  private landedOnSelf(seq: number, p: Extract<Pending<R>, { kind: 'sync' }>): void {
    this.pending.delete(seq);
    p.timer.cancel();
    this.joinAttempts++;
    this.joinLater(this.joinAttempts < 5 ? 0 : this.cfg.joinRetryMs);
  }

  private joinLater(ms: number): void {
    if (!this.running) return;
    if (!this.view.alone()) return;
    this.clock.after(ms, () => {
      if (this.running && this.view.alone()) this.join();
    });
  }

  private reap(): void {
    this.view.reap(this.clock.now() - this.cfg.reapMs);
  }

  // ---- plumbing ------------------------------------------------------------------------

  private send(to: string, msg: Message, replySeq?: number): void {
    this.stats.count(msg.type);
    this.transport.send(to, msg, replySeq);
  }

  private answer(to: R, msg: Message): void {
    this.stats.count(msg.type);
    this.transport.reply(to, msg);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 0x7fffffff || 1;
    return this.seq;
  }

  private every(ms: number, fn: () => void): Timer {
    let t: Timer;
    const tick = () => {
      if (!this.running) return;
      fn();
      t = this.clock.after(ms, tick);
    };
    t = this.clock.after(ms, tick);
    return { cancel: () => t.cancel() };
  }

  private cancelPending(p: Pending<R>): void {
    if (p.kind === 'probe') for (const t of p.timers) t.cancel();
    else if (p.kind !== 'indirect') p.timer.cancel();
  }
}
