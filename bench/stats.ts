// What every benchmark shares: a progress line on stderr and nearest-rank quantiles.
export const progress = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

/** The nearest-rank quantile `q` (0..1) of `xs`, which need not be sorted; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
