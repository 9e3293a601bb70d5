// What every benchmark shares: a progress line on stderr, nearest-rank quantiles, and the result
// file, stamped alike.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
export const progress = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

/** The nearest-rank quantile `q` (0..1) of `xs`, which need not be sorted; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Writes bench/results/NAME.json: which benchmark, when and on what machine, then the body. */
export function writeResult(name: string, body: Record<string, unknown>): void {
  mkdirSync(RESULTS, { recursive: true });
  const result = { benchmark: name, date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, ...body };
  writeFileSync(`${RESULTS}${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote bench/results/${name}.json`);
}
