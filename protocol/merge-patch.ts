// JSON merge patch (RFC 7386), and the patch `skiff apply` sends: the new manifest, plus a null
// for every field the previous apply set and this one no longer does.
import { isPlainObject } from './schema.ts';

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** A merge patch taking `lastApplied` to `desired`, which also re-asserts every desired field. */
export function applyPatch(lastApplied: unknown, desired: unknown): unknown {
  if (!isPlainObject(desired)) return desired;
  const patch: Record<string, unknown> = {};
  const last = isPlainObject(lastApplied) ? lastApplied : {};
  for (const [k, v] of Object.entries(desired)) patch[k] = isPlainObject(v) ? applyPatch(last[k], v) : v;
  for (const k of Object.keys(last)) if (!(k in desired)) patch[k] = null;
  return patch;
}

/**
 * Structural equality of decoded JSON-like values, where a key holding `undefined` counts as
 * absent. Allocation-free: the apiserver runs it on every write.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  return sameEntries(a as Record<string, unknown>, b as Record<string, unknown>, NOTHING);
}

const NOTHING: ReadonlySet<string> = new Set();

/** deepEqual of two maps, ignoring the keys in `skip` on both sides. */
export function sameEntries(a: Record<string, unknown>, b: Record<string, unknown>, skip: ReadonlySet<string>): boolean {
  let na = 0;
  for (const k in a) {
    if (a[k] === undefined || skip.has(k)) continue;
    na++;
    if (!deepEqual(a[k], b[k])) return false;
  }
  let nb = 0;
  for (const k in b) if (b[k] !== undefined && !skip.has(k)) nb++;
  return na === nb;
}
