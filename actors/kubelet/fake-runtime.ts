// A runtime with no processes: containers "run" as soon as they start and end when told to (or
// when signalled). The benchmark's hollow nodes run the real kubelet on it, as Kubernetes'
// kubemark does, and the pod-worker tests drive it step by step.
import type { ExitInfo, LaunchSpec, ProcessHandle, Runtime } from './runtime.ts';
import type { Prober } from './prober.ts';

interface FakeProcess {
  spec: LaunchSpec;
  exit?: ExitInfo;
  waiters: ((e: ExitInfo) => void)[];
  signals: NodeJS.Signals[];
  memoryBytes: number;
}

export class FakeRuntime implements Runtime {
  private next = 100_000;
  readonly processes = new Map<number, FakeProcess>();
  /** Whether SIGTERM ends a fake process (SIGKILL always does). */
  honourSigterm = true;
  /** When set, a start returns only once this resolves (the process exists from the call on, as after a spawn). */
  startGate?: Promise<void>;

  async start(spec: LaunchSpec): Promise<ProcessHandle> {
    const pgid = this.next++;
    this.processes.set(pgid, { spec, waiters: [], signals: [], memoryBytes: 0 });
    if (this.startGate) await this.startGate;
    return { pgid, startTicks: '0', startedAt: new Date().toISOString(), exitFile: spec.exitFile };
  }

  wait(h: ProcessHandle, signal: AbortSignal): Promise<ExitInfo> {
    const p = this.processes.get(h.pgid);
    if (!p) return Promise.resolve({ exitCode: 137 });
    if (p.exit) return Promise.resolve(p.exit);
    return new Promise((resolve, reject) => {
      p.waiters.push(resolve);
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }

  signal(h: ProcessHandle, sig: NodeJS.Signals): void {
    const p = this.processes.get(h.pgid);
    if (!p || p.exit) return;
    p.signals.push(sig);
    if (sig === 'SIGKILL') this.exit(h.pgid, 137, 'SIGKILL');
    else if (sig === 'SIGTERM' && this.honourSigterm) this.exit(h.pgid, 143);
  }

  alive(h: ProcessHandle): boolean {
    const p = this.processes.get(h.pgid);
    return !!p && !p.exit;
  }

  memoryBytes(h: ProcessHandle): number {
    return this.processes.get(h.pgid)?.memoryBytes ?? 0;
  }

  async exec(): Promise<number> {
    return 0;
  }

  /** Ends a fake process, as if its command exited with `exitCode`. */
  exit(pgid: number, exitCode: number, signal?: NodeJS.Signals): void {
    const p = this.processes.get(pgid);
    if (!p || p.exit) return;
    p.exit = { exitCode, ...(signal ? { signal } : {}) };
    for (const w of p.waiters.splice(0)) w(p.exit);
  }

  /** The live fake processes, in the order they started. */
  running(): number[] {
    return [...this.processes].filter(([, p]) => !p.exit).map(([pgid]) => pgid);
  }
}

/** Every probe passes at once. */
export const passingProber: Prober = async () => true;
