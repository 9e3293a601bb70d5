// Durations as Kubernetes spells them (Go's time.ParseDuration, which kubectl's --timeout flags
// use): one or more decimal numbers, each with a unit, such as `500ms`, `30s`, `1.5m` or `1m30s`.
// A bare `0` is zero; any other bare number is refused, since nothing says whether it meant
// seconds or milliseconds. The CLI's flags and the kubelet's backoff annotations both read them.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;

/** Not a duration; the message names the field and the bad text. */
export class DurationError extends Error { name = 'DurationError'; }

/** The duration in milliseconds; `field` names where `text` came from (a flag, an annotation) in the error. */
export function parseDuration(text: string, field: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  if (BARE_NUMBER.test(t)) throw new DurationError(`${field}=${text}: a duration needs a unit, such as ${t}s or ${t}ms`);
  if (!WHOLE.test(t)) throw new DurationError(`${field}=${text}: use a duration such as 30s, 2m or 1m30s`);
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}
