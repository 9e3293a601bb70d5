// The node's memory watchdog, for hosts without a usable cgroup: one scan of /proc per period,
// summing the RSS of each watched container's process group, and a kill past its limit.
import { PAGE_SIZE, membersByGroup } from '../platform/procfs.ts';
import type { ProcessHandle } from './runtime.ts';

interface Watched {
  handle: ProcessHandle;
  limitBytes: number;
  onOverLimit: () => void;
}

export class MemoryWatchdog {
  private readonly watched = new Set<Watched>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly periodMs: number) {}

  watch(handle: ProcessHandle, limitBytes: number, onOverLimit: () => void): () => void {
    const w = { handle, limitBytes, onOverLimit };
    this.watched.add(w);
    this.timer ??= setInterval(() => this.scan(), this.periodMs);
    return () => {
      this.watched.delete(w);
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  scan(): void {
    const groups = membersByGroup();
    for (const w of [...this.watched]) {
      const rss = (groups.get(w.handle.pgid) ?? []).reduce((n, m) => n + m.stat.rssPages * PAGE_SIZE, 0);
      if (rss > w.limitBytes) {
        this.watched.delete(w);
        w.onOverLimit();
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.watched.clear();
  }
}
