// How long a suspect has to refute before it is declared dead (Lifeguard's dynamic suspicion, as
// memberlist's suspicion.go): the timer starts long and shrinks, on a log scale, as independent
// members confirm the suspicion, down to a minimum that grows with log10 of the group size. Pure.

export interface SuspicionConfig {
  periodMs: number;
  /** Minimum timeout, in protocol periods, for groups of up to ten. */
  suspicionMult: number;
  /** Maximum timeout, as a multiple of the minimum. */
  suspicionMaxMult: number;
  /** Confirmations wanted to reach the minimum. */
  confirmations: number;
}

export function suspicionTimeouts(n: number, cfg: SuspicionConfig): { minMs: number; maxMs: number } {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  const minMs = Math.round(cfg.suspicionMult * scale * cfg.periodMs);
  return { minMs, maxMs: minMs * Math.max(1, cfg.suspicionMaxMult) };
}

/** Confirmations wanted: no more than the members that could give them (all but self and suspect). */
export function confirmationsWanted(n: number, cfg: SuspicionConfig): number {
  return Math.max(0, Math.min(cfg.confirmations, n - 2));
}

/** The whole timeout after `confirmations` of the `wanted`: max with none, min with all. */
export function suspicionTimeout(confirmations: number, wanted: number, minMs: number, maxMs: number): number {
  if (wanted <= 0) return minMs;
  const frac = Math.log(Math.min(confirmations, wanted) + 1) / Math.log(wanted + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

/** One suspicion: who has confirmed it, and when it runs out. */
export class Suspicion {
  private readonly confirmers = new Set<string>();

  constructor(
    readonly incarnation: number,
    readonly startedAt: number,
    from: string,
    private readonly wanted: number,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    // The first accuser is not a confirmation: its own news may come back to it through gossip.
    this.confirmers.add(from);
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** Counts `from` once; true when that shortened the timeout. */
  confirm(from: string): boolean {
    if (this.confirmations >= this.wanted || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  deadline(): number {
    return this.startedAt + suspicionTimeout(this.confirmations, this.wanted, this.minMs, this.maxMs);
  }
}

/**
 * NATS answers a message for a subject nobody subscribes to with "no responders": the suspect's
 * process holds no connection. That is the network's word, not a timing guess, but a live process
 * can lose its connection for a moment and reconnect; so it counts only when a second probe,
 * `confirmMs` after the first, meets the same answer.
 */
export function unreachableVerdict(firstAt: number, againAt: number, confirmMs: number): boolean {
  return againAt - firstAt >= confirmMs;
}
