// Kubernetes resource quantities, parsed exactly: `100m`, `0.5`, `2`, `64Mi`, `1G`, `1e6`.
// The value is kept as an integer count of thousandths (bigint), rounded up as Kubernetes'
// MilliValue does, so `0.1` cpu is exactly 100 millicores and no float rounding creeps in.

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n,
};
const DECIMAL_EXP: Record<string, number> = { m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

export class QuantityError extends Error {}

/** Parsed quantities by their text: a cluster uses few distinct ones, and every write validates them. */
const parsed = new Map<string, bigint>();
const PARSED_LIMIT = 4096;

/** Thousandths of the unit, rounded up (towards +infinity). */
export function parseQuantity(text: string | number): bigint {
  const key = typeof text === 'number' ? String(text) : text;
  let q = parsed.get(key);
  if (q === undefined) {
    q = parseQuantityText(key, text);
    if (parsed.size >= PARSED_LIMIT) parsed.clear();
    parsed.set(key, q);
  }
  return q;
}

function parseQuantityText(key: string, text: string | number): bigint {
  const s = key.trim();
  const m = QUANTITY.exec(s);
  if (!m) {
    throw new QuantityError(
      `${JSON.stringify(text)} is not a quantity (use a number with an optional suffix: 100m, 0.5, 64Mi, 1G, 1e6)`,
    );
  }
  const [, sign, number, suffix, exponent] = m;
  const [whole, frac = ''] = number.split('.');
  let mantissa = BigInt((whole || '0') + frac);
  let exp10 = -frac.length + 3; // +3: thousandths
  if (suffix && suffix in BINARY) mantissa *= BINARY[suffix];
  else if (suffix) exp10 += DECIMAL_EXP[suffix];
  else if (exponent) exp10 += Number(exponent);
  if (Math.abs(exp10) > 400) throw new QuantityError(`${JSON.stringify(text)} is out of range`);
  let milli: bigint;
  if (exp10 >= 0) milli = mantissa * 10n ** BigInt(exp10);
  else {
    const div = 10n ** BigInt(-exp10);
    milli = mantissa / div + (mantissa % div === 0n ? 0n : 1n);
  }
  return sign === '-' ? -milli : milli;
}

export function isQuantity(text: unknown): boolean {
  if (typeof text !== 'string' && typeof text !== 'number') return false;
  try {
    parseQuantity(text);
    return true;
  } catch {
    return false;
  }
}

/** CPU in millicores: `100m` → 100, `0.5` → 500, `2` → 2000. */
export function cpuMillis(text: string | number): number {
  return Number(parseQuantity(text));
}

/** Memory in bytes, rounded up: `64Mi` → 67108864, `1G` → 1e9. */
export function memoryBytes(text: string | number): number {
  const milli = parseQuantity(text);
  return Number(milli / 1000n + (milli % 1000n > 0n ? 1n : 0n));
}

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

export function formatMemory(bytes: number): string {
  for (const [suffix, size] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}
