// Probe bookkeeping, as the kubelet's prober keeps it: consecutive successes and failures against
// the thresholds decide the verdict. Pure; the runner in probe-runner.ts does the I/O.
import type { Probe } from '../../protocol/types.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type Verdict = 'success' | 'failure' | 'unknown';

export interface ProbeState {
  verdict: Verdict;
  successes: number;
  failures: number;
}

/** Before any result: readiness starts as failure, liveness and startup as unknown (not acted on). */
export function initialProbeState(kind: ProbeKind): ProbeState {
  return { verdict: kind === 'readiness' ? 'failure' : 'unknown', successes: 0, failures: 0 };
}

/** Folds one probe result into the state; the verdict flips only at a threshold. */
export function recordProbe(state: ProbeState, ok: boolean, probe: Pick<Probe, 'successThreshold' | 'failureThreshold'>): ProbeState {
  const successThreshold = probe.successThreshold ?? 1;
  const failureThreshold = probe.failureThreshold ?? 3;
  if (ok) {
    const successes = state.successes + 1;
    return { verdict: successes >= successThreshold ? 'success' : state.verdict, successes, failures: 0 };
  }
  const failures = state.failures + 1;
  return { verdict: failures >= failureThreshold ? 'failure' : state.verdict, successes: 0, failures };
}

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
}

export function probeTiming(p: Probe): ProbeTiming {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
  };
}

/** A port given by name resolves through the container's ports to the host port allocated for it. */
export function resolveProbePort(port: number | string, ports: { name?: string; containerPort: number; hostPort: number }[]): number | undefined {
  const p = typeof port === 'number' ? ports.find((x) => x.containerPort === port) : ports.find((x) => x.name === port);
  if (p) return p.hostPort;
  return typeof port === 'number' ? port : undefined;
}
