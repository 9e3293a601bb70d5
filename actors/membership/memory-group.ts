// A whole SWIM group in one process, on the in-memory network: what the benchmark and the
// scenario tests drive. Every member runs the production `Swim` code.
import { MemoryNetwork, seededRandom, VirtualClock, type MemoryReply, type NetworkOptions } from './memory-network.ts';
import type { Member, MemberState } from './state.ts';
import { Swim } from './swim.ts';
import type { SwimConfig } from './timing.ts';

export interface GroupOptions extends NetworkOptions {
  cfg: SwimConfig;
  seed?: number;
  /** Called whenever any member's view changes: who saw it, what it saw, and when. */
  onChange?: (observer: string, member: Member, previous: Member | undefined, at: number) => void;
}

export class MemoryGroup {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly members = new Map<string, Swim<MemoryReply>>();
  private readonly random: () => number;

  constructor(private readonly opts: GroupOptions) {
    this.random = seededRandom(opts.seed ?? 1);
    this.net = new MemoryNetwork(this.clock, this.random, opts);
  }

  /** Adds a member and starts it; it joins through the group unless `converged` members are given. */
  add(name: string, converged?: readonly Member[]): Swim<MemoryReply> {
    const m: Swim<MemoryReply> = new Swim(name, 'node', this.opts.cfg, this.net.transport(name), this.net.clockFor(name), this.random, {
      change: (member, previous) => this.opts.onChange?.(name, member, previous, this.clock.now()),
    });
    this.members.set(name, m);
    this.net.attach(m);
    m.start();
    if (converged) m.assume(converged);
    else m.join();
    return m;
  }

  /** `n` members named m0..m(n-1) that already know each other. */
  static converged(n: number, opts: GroupOptions): MemoryGroup {
    const g = new MemoryGroup(opts);
    const names = Array.from({ length: n }, (_, i) => `m${i}`);
    const all: Member[] = names.map((name) => ({ name, role: 'node', incarnation: 0, state: 'alive', since: 0 }));
    for (const name of names) g.add(name, all);
    return g;
  }

  kill(name: string): void {
    this.net.kill(name);
    this.members.delete(name);
  }

  /** A graceful leave, as on SIGTERM. */
  leave(name: string): void {
    this.members.get(name)?.leave();
    this.net.kill(name);
    this.members.delete(name);
  }

  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** How every running member other than `name` sees it. */
  viewsOf(name: string): (MemberState | 'unknown')[] {
    const out: (MemberState | 'unknown')[] = [];
    for (const [observer, m] of this.members) {
      if (observer !== name && !this.net.isPaused(observer)) out.push(m.member(name)?.state ?? 'unknown');
    }
    return out;
  }
}
