// SWIM's failure detector, one probe a period: a direct ping; after the probe timeout a second
// ping and k indirect probes through other members (ping-req), whose relays answer with the ack or
// a nack; no ack by the end of the period, and the target is accused. Lifeguard counts the
// missing nacks against our own health. NATS's "no responders" is evidence of its own: a second
// one after the confirmation time is death. Also the relay's side of ping-req.
import type { Awareness } from './awareness.ts';
import { failedProbeDelta } from './awareness.ts';
import type { Clock, Timer } from './io.ts';
import type { Message } from './messages.ts';
import type { News } from './state.ts';
import { unreachableVerdict } from './suspicion.ts';
import { RELAY_NACK_SHARE, type GossipStats, type SwimConfig } from './timing.ts';

/** What the prober asks of the member it works for. */
export interface ProbeHost<R> {
  readonly name: string;
  readonly cfg: SwimConfig;
  readonly clock: Clock;
  readonly awareness: Awareness;
  readonly stats: GossipStats;
  send(to: string, msg: Message, replySeq?: number): void;
  answer(to: R, msg: Message): void;
  piggyback(to: string): News[];
  nextSeq(): number;
  /** Up to k alive members, other than the target, to probe through. */
  relays(target: string, k: number): string[];
  /** Changes whenever our own link goes down or comes back. */
  linkEpoch(): number;
  linkUp(): boolean;
  running(): boolean;
  canDeclareDead(): boolean;
  isSuspect(name: string): boolean;
  /** Our own probe failed: suspect the target, or confirm the suspicion. */
  accuse(target: string): void;
  /** The network found nobody at the target's address, twice: it is dead. */
  declareDead(target: string): void;
}

interface Probe {
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
}
type Pending<R> =
  | Probe
  | { kind: 'indirect'; probe: Probe }
  | { kind: 'relay'; replyTo: R; timer: Timer }
  | { kind: 'verify'; target: string; timer: Timer };

export class Prober<R> {
  private readonly pending = new Map<number, Pending<R>>();
  /** When our own probe first met "nobody is there", per target, awaiting the confirming second one. */
  private readonly unreachableAt = new Map<string, number>();
  private readonly verifying = new Set<string>();

  constructor(private readonly host: ProbeHost<R>) {}

  /** Probes `target`; the verdict falls at the end of `periodMs`. */
  probe(target: string, periodMs: number): void {
    const h = this.host;
    const seq = h.nextSeq();
    const timeoutMs = h.awareness.scale(h.cfg.probeTimeoutMs);
    const p: Probe = {
      kind: 'probe', target, start: h.clock.now(), timeoutMs, acked: false, direct: false, unreachable: false,
      nacks: 0, expectedNacks: 0, epoch: h.linkEpoch(), relaySeqs: [], timers: [],
    };
    this.pending.set(seq, p);
    h.stats.probes++;
    this.ping(target, seq);
    p.timers.push(h.clock.after(timeoutMs, () => this.indirect(seq, p)), h.clock.after(periodMs, () => this.finish(seq, p)));
  }

  /** Another member asks us to probe `target` for it. */
  relay(target: string, replyTo: R): void {
    const h = this.host;
    const seq = h.nextSeq();
    const timer = h.clock.after(h.awareness.scale(h.cfg.probeTimeoutMs) * RELAY_NACK_SHARE, () => {
      const p = this.pending.get(seq);
      if (p?.kind === 'relay') this.finishRelay(seq, p, { type: 'nack', from: h.name });
    });
    this.pending.set(seq, { kind: 'relay', replyTo, timer });
    this.ping(target, seq);
  }

  /** An answer to `seq`, if it was ours; false when it was not a probe's. */
  replied(seq: number, msg: Message): boolean {
    const p = this.pending.get(seq);
    if (!p) return false;
    if (msg.type === 'ack') {
      if (p.kind === 'probe') this.acked(p);
      else if (p.kind === 'indirect') this.acked(p.probe);
      else if (p.kind === 'relay') this.finishRelay(seq, p, { type: 'ack', from: this.host.name, news: [] });
      else this.finishVerify(seq, p, false);
    } else if (msg.type === 'nack' && p.kind === 'indirect') {
      p.probe.nacks++;
    }
    return true;
  }

  /** Nobody subscribes where `seq` went; false when it was not a probe's. */
  unreachable(seq: number): boolean {
    const p = this.pending.get(seq);
    if (!p) return false;
    if (p.kind === 'probe') {
      p.unreachable = true;
      if (!p.acked) this.noteUnreachable(p.target);
    } else if (p.kind === 'relay') {
      this.finishRelay(seq, p, { type: 'nack', from: this.host.name, unreachable: true });
    } else if (p.kind === 'verify') {
      this.finishVerify(seq, p, true);
    }
    return true;
  }

  /** The target's suspicion ended: its evidence goes with it. */
  forget(target: string): void {
    this.unreachableAt.delete(target);
  }

  stop(): void {
    for (const p of this.pending.values()) {
      if (p.kind === 'probe') for (const t of p.timers) t.cancel();
      else if (p.kind !== 'indirect') p.timer.cancel();
    }
    this.pending.clear();
    this.unreachableAt.clear();
    this.verifying.clear();
  }

  private ping(target: string, seq: number): void {
    this.host.send(target, { type: 'ping', from: this.host.name, target, news: this.host.piggyback(target) }, seq);
  }

  private acked(p: Probe): void {
    if (p.acked) return;
    p.acked = true;
    p.direct = this.host.clock.now() - p.start <= p.timeoutMs;
    this.unreachableAt.delete(p.target);
  }

  /**
   * No ack in time: ask k others to try, each of whom answers with the ack or a nack; and ping
   * once more ourselves, since on a lossy network most unanswered pings are one lost message
   * (memberlist retries over TCP for the same reason).
   */
  private indirect(seq: number, p: Probe): void {
    if (p.acked || p.unreachable) return;
    const h = this.host;
    this.ping(p.target, seq);
    const relays = h.relays(p.target, h.cfg.indirectChecks);
    p.expectedNacks = relays.length;
    for (const relay of relays) {
      const relaySeq = h.nextSeq();
      this.pending.set(relaySeq, { kind: 'indirect', probe: p });
      p.relaySeqs.push(relaySeq);
      h.send(relay, { type: 'ping-req', from: h.name, target: p.target, news: h.piggyback(relay) }, relaySeq);
    }
  }

  private finish(seq: number, p: Probe): void {
    const h = this.host;
    this.pending.delete(seq);
    for (const s of p.relaySeqs) this.pending.delete(s);
    for (const t of p.timers) t.cancel();
    if (p.acked) {
      if (p.direct) h.awareness.apply(-1);
      return;
    }
    // Unreachable is handled as it arrives; and a probe that spanned our own disconnection says
    // nothing about its target.
    if (p.unreachable || p.epoch !== h.linkEpoch() || !h.linkUp() || !h.running()) return;
    h.stats.failedProbes++;
    h.awareness.apply(failedProbeDelta(p.expectedNacks, p.nacks));
    h.accuse(p.target);
  }

  private finishRelay(seq: number, p: Extract<Pending<R>, { kind: 'relay' }>, answer: Message): void {
    this.pending.delete(seq);
    p.timer.cancel();
    this.host.answer(p.replyTo, answer);
  }

  private noteUnreachable(target: string): void {
    this.host.accuse(target);
    if (!this.host.isSuspect(target) || this.unreachableAt.has(target)) return;
    this.unreachableAt.set(target, this.host.clock.now());
    this.host.clock.after(this.host.cfg.unreachableConfirmMs, () => this.verify(target));
  }

  /** The second probe of an unreachable suspect: a second "nobody there" is death. */
  private verify(target: string): void {
    const h = this.host;
    if (!h.running() || !this.unreachableAt.has(target) || !h.isSuspect(target) || this.verifying.has(target)) return;
    this.verifying.add(target);
    const seq = h.nextSeq();
    const timer = h.clock.after(h.awareness.scale(h.cfg.probeTimeoutMs), () => {
      const p = this.pending.get(seq);
      if (p?.kind === 'verify') this.finishVerify(seq, p, false);
    });
    this.pending.set(seq, { kind: 'verify', target, timer });
    this.ping(target, seq);
  }

  private finishVerify(seq: number, p: Extract<Pending<R>, { kind: 'verify' }>, unreachable: boolean): void {
    const h = this.host;
    this.pending.delete(seq);
    p.timer.cancel();
    this.verifying.delete(p.target);
    const first = this.unreachableAt.get(p.target);
    if (!unreachable || first === undefined) {
      // Someone is subscribed there again: the ordinary suspicion timer decides.
      this.unreachableAt.delete(p.target);
      return;
    }
    if (!h.canDeclareDead()) {
      h.clock.after(h.cfg.periodMs, () => this.verify(p.target));
      return;
    }
    const now = h.clock.now();
    if (unreachableVerdict(first, now, h.cfg.unreachableConfirmMs)) h.declareDead(p.target);
    // A timer that fired a hair early: ask again once the confirm time is up, rather than keep the
    // first answer and never look again (noteUnreachable waits on it).
    else h.clock.after(first + h.cfg.unreachableConfirmMs - now, () => this.verify(p.target));
  }
}
