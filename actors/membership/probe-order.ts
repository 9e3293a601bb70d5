// Which member to probe next: SWIM's round-robin over a shuffled list, so every member is probed
// within a bounded number of periods, in an order no one can predict. New members go in at a
// random place. Unlike memberlist, the list is not reshuffled after each round: a reshuffle can
// put a member last in one round and first in the next or the other way round, so the gap between
// two probes of it varies up to twice the round; without one, each member probes each other
// exactly once a round, and the first probe of a member that just died comes sooner in the worst
// case. Pure, given the random source.

import type { Random } from '../../protocol/random.ts';

export type { Random };

/** Up to `k` distinct items that pass `keep`, chosen at random, without copying the array. */
export function pickRandom<T>(items: readonly T[], k: number, keep: (item: T) => boolean, random: Random): T[] {
  const out: T[] = [];
  const n = items.length;
  if (k <= 0 || n === 0) return out;
  // Random draws find them quickly in a large group; a scan from a random place finishes a
  // small or mostly unsuitable one.
  for (let tries = 0; tries < 4 * k + 8 && out.length < k; tries++) {
    const item = items[Math.floor(random() * n)];
    if (keep(item) && !out.includes(item)) out.push(item);
  }
  const start = Math.floor(random() * n);
  for (let i = 0; i < n && out.length < k; i++) {
    const item = items[(start + i) % n];
    if (keep(item) && !out.includes(item)) out.push(item);
  }
  return out;
}

export class ProbeOrder {
  private list: string[] = [];
  private index = 0;

  constructor(private readonly random: Random) {}

  add(name: string): void {
    if (this.list.includes(name)) return;
    const at = Math.floor(this.random() * (this.list.length + 1));
    this.list.splice(at, 0, name);
    if (at < this.index) this.index++;
  }

  remove(name: string): void {
    const at = this.list.indexOf(name);
    if (at < 0) return;
    this.list.splice(at, 1);
    if (at < this.index) this.index--;
  }

  /** The next member that `probeable` allows, or undefined when there is none. */
  next(probeable: (name: string) => boolean): string | undefined {
    for (let tried = 0; tried <= this.list.length; tried++) {
      if (this.index >= this.list.length) this.index = 0;
      const name = this.list[this.index++];
      if (name !== undefined && probeable(name)) return name;
    }
    return undefined;
  }

  get size(): number {
    return this.list.length;
  }
}
