// The news waiting to be piggybacked (memberlist's TransmitLimitedQueue): each item goes out
// λ·log10(n+1) times, the least-sent first, and newer news about a member replaces older news
// still queued, so that a stale verdict never overtakes a fresh one. Pure.
import type { News } from './state.ts';

/** How many times each piece of news is sent in a group of `n`. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

interface Item {
  news: News;
  sent: number;
}

export class BroadcastQueue {
  private readonly items = new Map<string, Item>();
  /** Names by times sent: news goes out least-sent first, in the order it came within a count. */
  private readonly bySent: Set<string>[] = [];

  get size(): number {
    return this.items.size;
  }

  enqueue(news: News): void {
    const old = this.items.get(news.name);
    if (old) this.bySent[old.sent].delete(news.name);
    this.items.set(news.name, { news, sent: 0 });
    this.bucket(0).add(news.name);
  }

  /**
   * Up to `max` items for one message, each counted as sent once more; those sent `limit` times
   * leave the queue. News about `first` (the recipient, say) goes out ahead of the rest.
   */
  take(max: number, limit: number, first?: string): News[] {
    const out: News[] = [];
    if (max <= 0 || this.items.size === 0) return out;
    const picked: string[] = [];
    if (first !== undefined && this.items.has(first)) picked.push(first);
    for (let s = 0; s < this.bySent.length && picked.length < max; s++) {
      for (const name of this.bySent[s]) {
        if (picked.length >= max) break;
        if (name !== first) picked.push(name);
      }
    }
    for (const name of picked) {
      const item = this.items.get(name)!;
      out.push(item.news);
      this.bySent[item.sent].delete(name);
      item.sent++;
      if (item.sent >= limit) this.items.delete(name);
      else this.bucket(item.sent).add(name);
    }
    return out;
  }

  clear(): void {
    this.items.clear();
    this.bySent.length = 0;
  }

  private bucket(sent: number): Set<string> {
    while (this.bySent.length <= sent) this.bySent.push(new Set());
    return this.bySent[sent];
  }
}
