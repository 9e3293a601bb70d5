// Structured logs: one logfmt line per event that matters, its time first (RFC 3339 with
// milliseconds, in UTC), as Loki, Vector and journald read it. Debug lines only with SKIFF_DEBUG=1.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

const debugEnabled = process.env.SKIFF_DEBUG === '1';

function formatValue(v: unknown): string {
  if (v instanceof Error) v = v.message;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[\w.:/@-]+$/.test(s ?? '') ? s : JSON.stringify(s);
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export function createLogger(base: Fields, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), now: () => Date = () => new Date()): Logger {
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (level === 'debug' && !debugEnabled) return;
    const all = { time: now().toISOString(), level, ...base, msg, ...fields };
    write(Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${formatValue(v)}`).join(' '));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, write, now),
  };
}

/** For tests and benchmarks that want quiet actors. */
export const silentLogger: Logger = createLogger({}, () => {});
