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

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
