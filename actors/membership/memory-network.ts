// An in-process network for SWIM members, on a virtual clock: the benchmark runs a thousand
// members in one process, and the tests replay failures exactly. Messages are lost and delayed at
// the rates given; a killed member's address answers "nobody is there", as NATS does, and a paused
// one (SIGSTOP) holds its messages until it resumes.
import type { Message } from './messages.ts';
import type { Random } from './probe-order.ts';
export { seededRandom } from '../../protocol/random.ts';
import type { Clock, Swim, Timer, Transport } from './swim.ts';

interface Scheduled {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to, running what falls due in order. */
export class VirtualClock implements Clock {
  private time = 0;
  private order = 0;
  private readonly heap: Scheduled[] = [];

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): Timer {
    const item: Scheduled = { at: this.time + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.push(item);
    return { cancel: () => { item.cancelled = true; } };
  }

  /** Runs everything due up to `until`, then sets the time to it. */
  runUntil(until: number): void {
    while (this.heap.length && this.heap[0].at <= until) {
      const item = this.pop();
      if (item.cancelled) continue;
      this.time = item.at;
      item.fn();
    }
    this.time = Math.max(this.time, until);
  }

  advance(ms: number): void {
    this.runUntil(this.time + ms);
  }

  private less(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(item: Scheduled): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Scheduled {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export interface NetworkOptions {
  /** Share of messages lost, 0..1. */
  loss?: number;
  /** One-way delay, uniformly between the two (ms). */
  latencyMs?: [number, number];
  /** Where the join subject delivers a message from `from`; by default a random other member. */
  joinRoute?: (from: string, others: string[]) => string | undefined;
}

/** Where an answer goes: the asker and its sequence number. */
export interface MemoryReply {
  member: string;
  seq: number;
}

type Delivery = () => void;

export class MemoryNetwork {
  private readonly members = new Map<string, Swim<MemoryReply>>();
  private readonly paused = new Map<string, Delivery[]>();
  private readonly cut = new Set<string>();
  private readonly slow = new Map<string, number>();

  constructor(readonly clock: VirtualClock, private readonly random: Random, private readonly opts: NetworkOptions = {}) {}

  /** The transport for member `name`; register the member with `attach` once built. */
  transport(name: string): Transport<MemoryReply> {
    return {
      send: (to, msg, replySeq) => this.deliver(name, to, (m) => m.receive(msg, replySeq === undefined ? undefined : { member: name, seq: replySeq }), replySeq),
      reply: (to, msg) => this.deliver(name, to.member, (m) => m.replied(to.seq, msg)),
      join: (msg, replySeq) => {
        const live = [...this.members.keys()].filter((n) => n !== name);
        const to = this.opts.joinRoute ? this.opts.joinRoute(name, live) : live[Math.floor(this.random() * live.length)];
        if (to === undefined) this.deliver(name, name, (m) => m.unreachable(replySeq));
        else this.deliver(name, to, (m) => m.receive(msg, { member: name, seq: replySeq }), replySeq);
      },
    };
  }

  /** Member `name`'s view of the clock: its timers wait while it is paused, as a stopped process's do. */
  clockFor(name: string): Clock {
    return {
      now: () => this.clock.now(),
      after: (ms, fn) => {
        let cancelled = false;
        const t = this.clock.after(ms, () => this.hold(name, () => { if (!cancelled) fn(); }));
        return { cancel: () => { cancelled = true; t.cancel(); } };
      },
    };
  }

  attach(member: Swim<MemoryReply>): void {
    this.members.set(member.name, member);
  }

  /** SIGKILL: gone at once; its address now answers "nobody is there". */
  kill(name: string): void {
    this.members.get(name)?.stop();
    this.members.delete(name);
    this.paused.delete(name);
  }

  /** SIGSTOP: its timers and the messages to it wait until it resumes, then run in the order they fell due. */
  pause(name: string): void {
    if (this.members.has(name) && !this.paused.has(name)) this.paused.set(name, []);
  }

  resume(name: string): void {
    const held = this.paused.get(name);
    this.paused.delete(name);
    for (const d of held ?? []) d();
  }

  /** Cuts (or restores) a member's link: its messages, both ways, are lost without a word. */
  partition(name: string, cut = true): void {
    if (cut) this.cut.add(name);
    else this.cut.delete(name);
  }

  /** Adds `ms` to every message to or from a member, as an overloaded process would. */
  delay(name: string, ms: number): void {
    if (ms > 0) this.slow.set(name, ms);
    else this.slow.delete(name);
  }

  isPaused(name: string): boolean {
    return this.paused.has(name);
  }

  private deliver(from: string, to: string, apply: (m: Swim<MemoryReply>) => void, replySeq?: number): void {
    // A paused sender sends nothing: its process is not running.
    if (this.paused.has(from)) return;
    if (this.cut.has(from) || this.cut.has(to)) return;
    if (this.opts.loss && this.random() < this.opts.loss) return;
    const [lo, hi] = this.opts.latencyMs ?? [0, 0];
    const delay = lo + (hi - lo) * this.random() + (this.slow.get(from) ?? 0) + (this.slow.get(to) ?? 0);
    this.clock.after(delay, () => {
      const target = this.members.get(to);
      if (!target) {
        // As NATS does: the sender hears at once that nobody subscribes there.
        const sender = this.members.get(from);
        if (sender && replySeq !== undefined) this.clock.after(delay, () => this.hold(from, () => sender.unreachable(replySeq)));
        return;
      }
      this.hold(to, () => apply(target));
    });
  }

  private hold(name: string, d: Delivery): void {
    const q = this.paused.get(name);
    if (q) q.push(d);
    else d();
  }
}

