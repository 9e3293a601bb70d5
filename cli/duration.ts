// Durations on the command line, as kubectl takes them; the grammar is protocol/duration.ts.
import { DELETE_WAIT_TIMEOUT_MS } from '../protocol/config.ts';
import { DurationError, parseDuration } from '../protocol/duration.ts';
import { UsageError } from './command.ts';

/** The flag's duration in milliseconds; `flag` names the option in the error, e.g. `--timeout`. */
export function flagDuration(text: string, flag: string): number {
  try {
    return parseDuration(text, flag);
  } catch (err) {
    if (err instanceof DurationError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

/** A --timeout where 0 (or none given) means wait for ever, as in kubectl's rollout status and drain. */
export function optionalTimeout(text: string | undefined, flag = '--timeout'): number | undefined {
  if (text === undefined) return undefined;
  const ms = flagDuration(text, flag);
  return ms === 0 ? undefined : ms;
}

/** `skiff delete`'s --timeout: DELETE_WAIT_TIMEOUT_MS unless given. */
export function parseTimeout(text: string | undefined): number {
  return text === undefined ? DELETE_WAIT_TIMEOUT_MS : flagDuration(text, '--timeout');
}

/** `90000` → `1m30s`: a duration as the user would have typed it. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [h ? `${h}h` : '', m ? `${m}m` : '', s % 60 || s === 0 ? `${s % 60}s` : ''].join('');
}
