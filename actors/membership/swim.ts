// One member of a SWIM group with Lifeguard's refinements. It owns no sockets and no clock: the
// transport (NATS in production, in-memory in the benchmark) and the clock are given, so the
// benchmark runs exactly this code. The rules it applies live in the pure files beside it.
import { Awareness } from './awareness.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast.ts';
import type { Clock, SwimHooks, Timer, Transport } from './io.ts';
import type { Message } from './messages.ts';
import { Prober } from './probe.ts';
import type { Random } from './probe-order.ts';
import { applyNews, mergeNews, newsOf, refutedIncarnation, type Member, type MemberRole, type News } from './state.ts';
import { confirmationsWanted, Suspicion, suspicionTimeouts } from './suspicion.ts';
import { EAGER_GOSSIP_SPACING, GossipStats, pushPullInterval, REAP_EVERY_PERIODS, SYNC_TIMEOUT_PROBES, type SwimConfig } from './timing.ts';
import { MemberView } from './view.ts';

export type { Clock, SwimHooks, Timer, Transport } from './io.ts';

/** Full-state syncs a joiner makes through the join subject, the first included. */
const JOIN_SYNCS = 3;

interface Sync {
  join: boolean;
  timer: Timer;
}

interface Suspected {
  suspicion: Suspicion;
  timer: Timer;
}

export class Swim<R = unknown> {
  private readonly view: MemberView;
  private readonly queue = new BroadcastQueue();
  readonly awareness: Awareness;
  private readonly suspected = new Map<string, Suspected>();
  private readonly syncs = new Map<number, Sync>();
  private readonly prober: Prober<R>;
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
  private joinSyncsLeft = 0;
  private pushPulls = 0;
  readonly stats = new GossipStats();

  constructor(
    readonly name: string,
    role: MemberRole,
    readonly cfg: SwimConfig,
    private readonly transport: Transport<R>,
    readonly clock: Clock,
    private readonly random: Random,
    private readonly hooks: SwimHooks = {},
  ) {
    this.awareness = new Awareness(cfg.awarenessMax);
    this.view = new MemberView(name, { name, role, incarnation: 0, state: 'alive', since: clock.now() }, random);
    this.prober = new Prober<R>({
      name, cfg, clock, awareness: this.awareness, stats: this.stats,
      send: (to, msg, seq) => this.send(to, msg, seq),
      answer: (to, msg) => this.answer(to, msg),
      piggyback: (to) => this.piggyback(to),
      nextSeq: () => this.nextSeq(),
      relays: (target, k) => this.view.pick(k, (m) => m.name !== target && m.state === 'alive'),
      linkEpoch: () => this.epoch,
      linkUp: () => this.networkUp,
      running: () => this.running,
      canDeclareDead: () => this.canDeclareDead(),
      isSuspect: (n) => this.view.get(n)?.state === 'suspect',
      accuse: (target) => this.accuse(target),
      declareDead: (target) => this.declareDead(target, true),
    });
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
    this.eager = undefined;
    for (const s of this.suspected.values()) s.timer.cancel();
    this.suspected.clear();
    for (const s of this.syncs.values()) s.timer.cancel();
    this.syncs.clear();
    this.prober.stop();
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

  /**
   * Asks the group for its state; retried while this member knows no one else. The join subject
   * reaches one member at random, and members started together can pair off into groups that
   * know nothing of each other; so a joiner syncs through it JOIN_SYNCS times in all (see
   * afterJoin), and every other push-pull goes through it too, which merges groups that formed
   * apart (or were split by a partition) within a few push-pull rounds.
   */
  join(): void {
    this.joinSyncsLeft = JOIN_SYNCS - 1;
    this.syncThroughGroup(true);
  }

  private syncThroughGroup(join: boolean): void {
    const seq = this.nextSeq();
    const timer = this.clock.after(this.cfg.probeTimeoutMs * SYNC_TIMEOUT_PROBES, () => {
      this.syncs.delete(seq);
      if (join) this.joinLater(this.cfg.joinRetryMs);
    });
    this.syncs.set(seq, { join, timer });
    this.stats.count('push-pull');
    this.transport.join({ type: 'push-pull', from: this.name, join, members: this.members() }, seq);
  }

  /** The joiner's further syncs through the join subject, a period apart. */
  private afterJoin(): void {
    if (this.joinSyncsLeft <= 0) return;
    this.joinSyncsLeft--;
    this.clock.after(this.cfg.periodMs, () => {
      if (this.running) this.syncThroughGroup(false);
      this.afterJoin();
    });
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

  /** A message addressed to us; `replyTo` when its sender asked for an answer. */
  receive(msg: Message, replyTo?: R): void {
    if (!this.running) return;
    if ('news' in msg) this.takeNews(msg.news);
    switch (msg.type) {
      case 'ping':
        if (replyTo !== undefined && msg.target === this.name) this.answer(replyTo, { type: 'ack', from: this.name, news: this.piggyback(msg.from) });
        break;
      case 'ping-req':
        if (replyTo !== undefined) this.prober.relay(msg.target, replyTo);
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
    if ('news' in msg) this.takeNews(msg.news);
    if (this.prober.replied(seq, msg)) return;
    const sync = this.syncs.get(seq);
    if (!sync) return;
    if (msg.type === 'nack' && sync.join) {
      this.landedOnSelf(seq, sync);
    } else if (msg.type === 'state') {
      this.syncs.delete(seq);
      sync.timer.cancel();
      this.merge(msg.members, msg.from);
      if (sync.join) {
        this.joinAttempts = 0;
        this.hooks.joined?.();
        this.afterJoin();
      }
    }
  }

  /** The network says nobody is subscribed where we sent `seq`. */
  unreachable(seq: number): void {
    if (!this.running || this.prober.unreachable(seq)) return;
    const sync = this.syncs.get(seq);
    if (!sync) return;
    this.syncs.delete(seq);
    sync.timer.cancel();
    if (sync.join) this.joinLater(this.cfg.joinRetryMs);
  }

  private probeTick(): void {
    if (!this.running) return;
    const period = this.awareness.scale(this.cfg.periodMs);
    this.loops[0] = this.clock.after(period, () => this.probeTick());
    if (!this.networkUp) return;
    const target = this.view.nextProbe();
    if (target !== undefined) this.prober.probe(target, period);
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
    if (wasAlive && this.cfg.tellSuspect) this.send(target, { type: 'gossip', from: this.name, news: [news] });
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
    this.declareDead(name, false);
  }

  /** `unreachable`: the network found nobody at its address; otherwise a suspicion ran out. */
  private declareDead(name: string, unreachable: boolean): void {
    const m = this.view.get(name);
    if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
    this.stats.deaths++;
    this.handleNews({ type: 'dead', name, incarnation: m.incarnation, from: this.name, ...(unreachable ? { unreachable } : {}) });
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
      this.prober.forget(m.name);
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
    if (m && (m.state === 'dead' || m.state === 'left' || (m.state === 'suspect' && this.cfg.tellSuspect))) return [newsOf(m, this.name)];
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
    if (this.pushPulls++ % 2 === 1) return this.syncThroughGroup(false);
    const seq = this.nextSeq();
    const timer = this.clock.after(this.cfg.probeTimeoutMs * SYNC_TIMEOUT_PROBES, () => this.syncs.delete(seq));
    this.syncs.set(seq, { join: false, timer });
    this.send(peer, { type: 'push-pull', from: this.name, join: false, members: this.members() }, seq);
  }

  /** Our join reached ourselves (we are in the join group too): try again, then wait. */
  private landedOnSelf(seq: number, sync: Sync): void {
    this.syncs.delete(seq);
    sync.timer.cancel();
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
}
