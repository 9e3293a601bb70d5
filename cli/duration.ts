// Durations on the command line, as kubectl takes them: `500ms`, `30s`, `2m`, `1h`, `1m30s`; a
// bare number is seconds.
import { UsageError } from './command.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** How long `skiff delete` waits for objects to be gone when no --timeout is given. */
export const DELETE_WAIT_TIMEOUT_MS = 60_000;

/** The duration in milliseconds; `flag` names the option in the error, e.g. `--timeout`. */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  if (!WHOLE.test(t)) throw new UsageError(`${flag}=${text}: use a duration such as 30s, 2m or 1m30s`);
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

/** A --timeout where 0 (or none given) means wait for ever, as in kubectl's rollout status and drain. */
export function optionalTimeout(text: string | undefined, flag = '--timeout'): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text, flag);
  return ms === 0 ? undefined : ms;
}

/** `skiff delete`'s --timeout: 60s unless given. */
export function parseTimeout(text: string | undefined): number {
  return text === undefined ? DELETE_WAIT_TIMEOUT_MS : parseDuration(text, '--timeout');
}

/** `90000` → `1m30s`: a duration as the user would have typed it. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [h ? `${h}h` : '', m ? `${m}m` : '', s % 60 || s === 0 ? `${s % 60}s` : ''].join('');
}
