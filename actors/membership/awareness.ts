// Lifeguard's local health multiplier (memberlist's awareness.go): a member that misses its own
// acks and nacks is more likely slow itself than surrounded by failures, so it probes less often
// and waits longer for answers instead of accusing others. Pure.

export class Awareness {
  private value = 0;

  /** `max` is the largest multiplier: the score runs from 0 to max - 1. */
  constructor(private readonly max: number) {}

  get score(): number {
    return this.value;
  }

  /** +1 for each missed nack, each refutation of our own suspicion; -1 for a probe answered in time. */
  apply(delta: number): void {
    this.value = Math.min(Math.max(this.value + delta, 0), Math.max(0, this.max - 1));
  }

  /** A timeout or interval stretched by the current health: (score + 1) times. */
  scale(ms: number): number {
    return ms * (this.value + 1);
  }
}

/** How a probe that was not answered changes the score: missing nacks count against us. */
export function failedProbeDelta(expectedNacks: number, nacks: number): number {
  if (expectedNacks === 0) return 1;
  return Math.max(0, expectedNacks - nacks);
}
