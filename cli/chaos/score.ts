// The arithmetic of a run's result, pure, as Litmus reckons it: each probe's success percentage,
// whether it held, the verdict (Pass only if every probe held: the steady state before and after,
// and every probe during), and the resilience score: the experiments' weights times their probe
// success percentage (the share of their probes that passed), over the sum of the weights.

export interface ProbeOutcome {
  name: string;
  kind: 'http' | 'cmd' | 'object' | 'prom' | 'recovery' | 'consistency';
  /** The steady state before the method, probes during it, the steady state after. */
  phase: 'before' | 'during' | 'after';
  checks: number;
  passed: number;
  /** The share of checks that must pass, in percent (an object's steady state: 100). */
  threshold: number;
  /** recovery: the time each fault took to recover from, ms (undefined: it never did), and the most allowed. */
  recoveriesMs?: (number | undefined)[];
  withinMs?: number;
  /** Why it failed, in words, when it did. */
  detail?: string;
}

/** The share of checks that passed, in percent (0 with no checks). */
export function successPercent(o: ProbeOutcome): number {
  return o.checks === 0 ? 0 : (100 * o.passed) / o.checks;
}

export function probeHeld(o: ProbeOutcome): boolean {
  if (o.kind === 'recovery') return (o.recoveriesMs ?? []).every((ms) => ms !== undefined && ms <= (o.withinMs ?? Infinity));
  return o.checks > 0 && successPercent(o) >= o.threshold;
}

export interface Verdict {
  verdict: 'Pass' | 'Fail';
  /** The probes that did not hold, with why. */
  failed: string[];
  /** Percent of probes that held. */
  probeSuccessPercentage: number;
}

export function verdictOf(outcomes: ProbeOutcome[]): Verdict {
  const failed = outcomes.filter((o) => !probeHeld(o)).map((o) => `${o.name} (${o.phase}): ${o.detail ?? describe(o)}`);
  const held = outcomes.length - failed.length;
  return { verdict: failed.length === 0 && outcomes.length > 0 ? 'Pass' : 'Fail', failed, probeSuccessPercentage: outcomes.length ? (100 * held) / outcomes.length : 0 };
}

function describe(o: ProbeOutcome): string {
  if (o.kind === 'recovery') {
    const worst = (o.recoveriesMs ?? []).map((ms) => (ms === undefined ? 'never' : `${ms} ms`));
    return `recovered after ${worst.join(', ')}; at most ${o.withinMs} ms allowed`;
  }
  return `${successPercent(o).toFixed(2)}% of ${o.checks} checks passed; ${o.threshold}% needed`;
}

/** Litmus' resilience score over experiments: Σ(weight × probe success %) / Σ weight. */
export function resilienceScore(experiments: { weight: number; probeSuccessPercentage: number }[]): number {
  const total = experiments.reduce((n, e) => n + e.weight, 0);
  return total === 0 ? 0 : experiments.reduce((n, e) => n + e.weight * e.probeSuccessPercentage, 0) / total;
}
