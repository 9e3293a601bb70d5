// The pure half of `skiff up`: Procfile, .env and formation parsing and the foreman PORT rule (the
// restart backoff is protocol/backoff.ts, shared with the kubelet).
// No I/O here, so every rule is checked table-driven in procfile.test.ts.

/** One `name: command` line. `index` counts processes only (not comments), as foreman does. */
export interface ProcfileEntry {
  name: string;
  command: string;
  /** 1-based line number in the file, for error messages. */
  line: number;
  index: number;
}

/** One process to run: `node.2` is instance 2 of the Procfile entry `node`. */
export interface Instance {
  /** `<process>.<number>`, also given to the process as PS. */
  name: string;
  process: string;
  number: number;
  port: number;
  command: string;
  line: number;
  index: number;
}

/** Instances per Procfile name. */
export type Formation = Record<string, number>;

/** The Procfile is malformed: a startup failure. */
export class ProcfileError extends Error { name = 'ProcfileError'; }
/** The .env file is malformed: a startup failure. */
export class DotenvError extends Error { name = 'DotenvError'; }
/** A bad formation, process name or port: a usage error. */
export class UsageError extends Error { name = 'UsageError'; }

/** Ports between two Procfile lines (foreman's rule), so also the most instances one line may have. */
export const PORT_STRIDE = 100;
export const MAX_PORT = 65535;
const NAME = /^[A-Za-z0-9_-]+$/;

export function parseProcfile(text: string): ProcfileEntry[] {
  const entries: ProcfileEntry[] = [];
  const lineOf = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    if (colon < 0) throw new ProcfileError(`line ${line}: expected "name: command", got ${JSON.stringify(trimmed)}`);
    const name = trimmed.slice(0, colon).trim();
    const command = trimmed.slice(colon + 1).trim();
    if (!NAME.test(name)) {
      throw new ProcfileError(`line ${line}: process name ${JSON.stringify(name)} may only contain letters, digits, "_" and "-"`);
    }
    if (command === '') throw new ProcfileError(`line ${line}: process "${name}" has no command`);
    const earlier = lineOf.get(name);
    if (earlier !== undefined) throw new ProcfileError(`line ${line}: process "${name}" is already defined on line ${earlier}`);
    lineOf.set(name, line);
    entries.push({ name, command, line, index: entries.length });
  });
  if (entries.length === 0) throw new ProcfileError('defines no processes; add lines like "web: node server.js"');
  return entries;
}

/** KEY=VALUE lines, with an optional `export `, quotes, and `#` comments. Later keys win. */
export function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!m) throw new DotenvError(`line ${line}: expected KEY=VALUE, got ${JSON.stringify(trimmed)}`);
    vars[m[1]] = dotenvValue(m[2], line);
  });
  return vars;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

function dotenvValue(raw: string, line: number): string {
  const quote = raw[0];
  if (quote !== '"' && quote !== "'") {
    // A `#` starts a comment only at the start or after a space, so `http://host/#x` survives.
    const comment = raw.search(/(^|\s)#/);
    return (comment < 0 ? raw : raw.slice(0, comment)).trim();
  }
  let value = '';
  let i = 1;
  for (; i < raw.length && raw[i] !== quote; i++) {
    if (quote === '"' && raw[i] === '\\' && i + 1 < raw.length) {
      i++;
      value += ESCAPES[raw[i]] ?? `\\${raw[i]}`;
    } else {
      value += raw[i];
    }
  }
  if (i >= raw.length) throw new DotenvError(`line ${line}: the value has no closing ${quote} (values span one line)`);
  const after = raw.slice(i + 1);
  if (!/^\s*(#.*)?$/.test(after)) throw new DotenvError(`line ${line}: unexpected ${JSON.stringify(after.trim())} after the closing ${quote}`);
  return value;
}

/** `all=1,master=2,node=3` over the Procfile's names. Each name defaults to 1, or to `all=N`. */
export function parseFormation(spec: string | undefined, names: string[]): Formation {
  const counts: Formation = {};
  let all = 1;
  for (const term of (spec ?? '').trim() === '' ? [] : spec!.split(',')) {
    const t = term.trim();
    const m = /^([A-Za-z0-9_-]+)=(\d+)$/.exec(t);
    if (!m) throw new UsageError(`formation term ${JSON.stringify(t)}: expected name=count, e.g. node=3`);
    const [, name, digits] = m;
    const count = Number(digits);
    if (count > PORT_STRIDE) {
      throw new UsageError(`formation term "${t}": at most ${PORT_STRIDE} instances per process, or their PORTs would overlap the next Procfile line`);
    }
    if (name === 'all') all = count;
    else if (!names.includes(name)) throw new UsageError(`formation term "${t}": the Procfile has no process "${name}" (it has ${names.join(', ')})`);
    else counts[name] = count;
  }
  return Object.fromEntries(names.map((name) => [name, counts[name] ?? all]));
}

/** Foreman's rule: base + 100 × the process's position in the Procfile + (instance − 1). */
export function portFor(base: number, index: number, instance: number): number {
  return base + PORT_STRIDE * index + (instance - 1);
}

/** The instances to run, in Procfile order; `only` (process names) narrows it, as `foreman start web`. */
export function planInstances(entries: ProcfileEntry[], formation: Formation, base: number, only: string[] = []): Instance[] {
  const names = entries.map((e) => e.name);
  for (const name of only) {
    if (!names.includes(name)) throw new UsageError(`the Procfile has no process "${name}" (it has ${names.join(', ')})`);
  }
  const instances: Instance[] = [];
  for (const entry of entries) {
    if (only.length > 0 && !only.includes(entry.name)) continue;
    for (let n = 1; n <= (formation[entry.name] ?? 1); n++) {
      const port = portFor(base, entry.index, n);
      if (port > MAX_PORT) throw new UsageError(`PORT for ${entry.name}.${n} would be ${port}, above ${MAX_PORT}; choose a lower base port with -p`);
      instances.push({ name: `${entry.name}.${n}`, process: entry.name, number: n, port, command: entry.command, line: entry.line, index: entry.index });
    }
  }
  return instances;
}

/** A comma-separated list of names (`--ready nats,master`); empty means none. */
export function parseNameList(spec: string): string[] {
  return spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
