// A task that must never run twice at once (a lease renewal, a sweep, a monitor pass), run now and
// then every period, or on demand. A call while it runs asks for one more run after it, however
// many calls came: nothing overlaps, and nothing asked for is lost.

export class SerialTask {
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly task: () => Promise<void> | void, private readonly onError: (err: unknown) => void) {}

  /** Runs the task now, or once more after the current run; resolves when that run is over. */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop();
    return this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.task();
        } catch (err) {
          if (!this.stopped) this.onError(err);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = undefined;
    }
  }
}

/** Runs `task` now and every `periodMs`, never two at once; returns the way to stop it. */
export function every(periodMs: number, task: () => Promise<void> | void, onError: (err: unknown) => void): () => void {
  const serial = new SerialTask(task, onError);
  void serial.run();
  const timer = setInterval(() => void serial.run(), periodMs);
  return () => {
    clearInterval(timer);
    serial.stop();
  };
}
