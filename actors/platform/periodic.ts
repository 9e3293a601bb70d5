// A task that must never run twice at once (a lease renewal, a sweep, a monitor pass). On demand
// (SerialTask.run), a call while it runs asks for one more run after it, however many calls came:
// nothing overlaps, and nothing asked for is lost. On a period (every), a tick that finds it
// running is skipped: a slow apiserver must not get back-to-back renewals, one per missed tick.

export class SerialTask {
  private current?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly task: () => Promise<void> | void, private readonly onError: (err: unknown) => void) {}

  /** Runs the task now, or once more after the current run; resolves when that run is over. */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.current) {
      this.again = true;
      return this.current;
    }
    this.current = this.loop();
    return this.current;
  }

  stop(): void {
    this.stopped = true;
  }

  get running(): boolean {
    return this.current !== undefined;
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
      this.current = undefined;
    }
  }
}

/** Runs `task` now and every `periodMs`, never two at once (a tick during a run is skipped); returns the way to stop it. */
export function every(periodMs: number, task: () => Promise<void> | void, onError: (err: unknown) => void): () => void {
  const serial = new SerialTask(task, onError);
  void serial.run();
  const timer = setInterval(() => { if (!serial.running) void serial.run(); }, periodMs);
  return () => {
    clearInterval(timer);
    serial.stop();
  };
}
