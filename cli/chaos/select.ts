// Choosing a fault's targets as Chaos Mesh's selector modes choose them, and a seeded random
// schedule, pure: the same seed picks the same targets and times, so a failing run can be
// repeated exactly.
import type { Mode } from './experiment.ts';

export { seededRandom } from '../../protocol/random.ts';

/**
 * The candidates a mode picks: one at random; all; a fixed number at random (all if fewer); a fixed
 * percentage, rounded down but at least one when any; a random number up to a percentage, at
 * least one. Candidates keep their order.
 */
export function selectTargets<T>(candidates: T[], mode: Mode, value: number | undefined, random: () => number): T[] {
  const n = candidates.length;
  if (n === 0) return [];
  const count = (() => {
    switch (mode) {
      case 'one': return 1;
      case 'all': return n;
      case 'fixed': return Math.min(n, Math.max(0, Math.floor(value ?? 1)));
      case 'fixed-percent': return Math.max(1, Math.floor((n * Math.min(100, Math.max(0, value ?? 0))) / 100));
      case 'random-max-percent': return 1 + Math.floor(random() * Math.max(1, Math.floor((n * Math.min(100, Math.max(0, value ?? 0))) / 100)));
    }
  })();
  // A partial Fisher-Yates over the indexes: `count` distinct ones.
  const idx = candidates.map((_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, count).sort((a, b) => a - b).map((i) => candidates[i]);
}

/** `count` times spread at random over [0, durationMs), sorted: a seeded-random schedule. */
export function randomTimes(count: number, durationMs: number, random: () => number): number[] {
  return Array.from({ length: count }, () => Math.floor(random() * durationMs)).sort((a, b) => a - b);
}
