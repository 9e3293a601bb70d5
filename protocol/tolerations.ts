// Whether a pod's tolerations let it onto, or keep it on, a tainted node, as Kubernetes decides:
// the scheduler asks before placing a pod, the node lifecycle controller before evicting one.
import type { Taint, Toleration } from './types.ts';

/**
 * Kubernetes' ToleratesTaint. An empty effect matches every effect; Exists matches any value, and
 * with no key every taint; Equal (the default) needs the key and the value to match.
 */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

export function toleratesTaint(tolerations: Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}

/**
 * How long a pod may stay on a node with this NoExecute taint, as Kubernetes' taint manager
 * reckons it: undefined when no toleration matches (evict now), 'forever' when none of those that
 * match gives tolerationSeconds, otherwise the least tolerationSeconds given, a negative one as 0.
 */
export function toleratedForMs(tolerations: Toleration[] | undefined, taint: Taint): number | 'forever' | undefined {
  const matching = (tolerations ?? []).filter((t) => tolerates(t, taint));
  if (matching.length === 0) return undefined;
  const seconds = matching.flatMap((t) => (t.tolerationSeconds === undefined ? [] : [Math.max(0, t.tolerationSeconds)]));
  return seconds.length === 0 ? 'forever' : Math.min(...seconds) * 1000;
}

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Taints as the kubelet's --register-with-taints spells them: `key=value:Effect,key:Effect`. */
export function formatTaints(taints: Taint[]): string {
  return taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',');
}

/** The inverse of formatTaints; throws naming the term that is not `key[=value]:Effect`. */
export function parseTaints(text: string | undefined): Taint[] {
  return (text ?? '').split(',').map((t) => t.trim()).filter(Boolean).map((term) => {
    const colon = term.lastIndexOf(':');
    const effect = term.slice(colon + 1);
    const [key, value, ...rest] = term.slice(0, Math.max(0, colon)).split('=');
    if (colon <= 0 || !key || rest.length || !EFFECTS.includes(effect)) throw new Error(`${JSON.stringify(term)} is not key[=value]:Effect with Effect one of ${EFFECTS.join(', ')}`);
    return { key, ...(value ? { value } : {}), effect: effect as Taint['effect'] };
  });
}
