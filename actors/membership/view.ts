// One member's view of the group: every member it knows with its state, the probe order, and
// counts kept as members change so that nothing has to walk a thousand entries per message.
import { pickRandom, ProbeOrder, type Random } from './probe-order.ts';
import type { Member } from './state.ts';

export function isLive(m: Member | undefined): boolean {
  return m !== undefined && (m.state === 'alive' || m.state === 'suspect');
}

export class MemberView {
  private readonly byName = new Map<string, Member>();
  /** Everyone but ourselves, for random picks. */
  private readonly others: string[] = [];
  private live = 1;
  private readonly order: ProbeOrder;

  constructor(readonly selfName: string, self: Member, private readonly random: Random) {
    this.byName.set(selfName, self);
    this.order = new ProbeOrder(random);
  }

  get self(): Member {
    return this.byName.get(this.selfName)!;
  }

  get(name: string): Member | undefined {
    return this.byName.get(name);
  }

  all(): Member[] {
    return [...this.byName.values()];
  }

  /** Members alive or suspect, ourselves included. */
  get liveCount(): number {
    return this.live;
  }

  setSelf(m: Member): void {
    this.byName.set(this.selfName, m);
  }

  set(m: Member, previous: Member | undefined): void {
    this.byName.set(m.name, m);
    const was = isLive(previous);
    const is = isLive(m);
    if (is !== was) this.live += is ? 1 : -1;
    if (!previous) this.others.push(m.name);
    if (is && !was) this.order.add(m.name);
  }

  /** The next member to probe: round-robin over the live ones. */
  nextProbe(): string | undefined {
    return this.order.next((n) => isLive(this.byName.get(n)));
  }

  /** Up to `k` other members that pass `keep`, at random. */
  pick(k: number, keep: (m: Member) => boolean): string[] {
    return pickRandom(this.others, k, (n) => keep(this.byName.get(n)!), this.random);
  }

  /** Every other member alive or suspect. */
  liveOthers(): string[] {
    return this.others.filter((n) => isLive(this.byName.get(n)));
  }

  /** Whether no other member is alive. */
  alone(): boolean {
    return !this.others.some((n) => this.byName.get(n)!.state === 'alive');
  }

  /** Forgets members dead or departed since before `before`. */
  reap(before: number): void {
    for (let i = this.others.length - 1; i >= 0; i--) {
      const name = this.others[i];
      const m = this.byName.get(name)!;
      if ((m.state === 'dead' || m.state === 'left') && m.since < before) {
        this.byName.delete(name);
        this.order.remove(name);
        const last = this.others.pop()!;
        if (last !== name) this.others[i] = last;
      }
    }
  }
}
