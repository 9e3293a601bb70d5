// Work done a slice at a time: at most `budgetMs` of it per turn of the event loop, the rest on
// the turns after, in the order it was queued. A node bound thousands of pods at once (or a
// process of many hollow kubelets) would otherwise start them all in one turn, holding its timers
// and its writes (lease renewals, pod status) for seconds, and then send those writes in one burst.
export class Pacer {
  private queue: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  /** What `run` is given must catch and report its own errors, as any timer callback must. */
  constructor(private readonly budgetMs: number) {}

  run(fn: () => void): void {
    this.queue.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Resolves once everything queued before it has run. */
  after(): Promise<void> {
    return new Promise((resolve) => this.run(resolve));
  }

  private drain(): void {
    this.scheduled = false;
    const end = performance.now() + this.budgetMs;
    while (this.head < this.queue.length) {
      this.queue[this.head++]();
      if (performance.now() >= end) break;
    }
    if (this.head < this.queue.length) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    } else {
      this.queue = [];
      this.head = 0;
    }
  }
}
