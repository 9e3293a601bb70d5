// A small structural schema: enough to catch a wrong type or a misspelt field in a manifest,
// and to name the field and the fix. Semantic rules (names, ranges that depend on other fields)
// live in validate.ts.
import type { FieldError } from './errors.ts';
import { isQuantity } from './quantity.ts';

export type Schema =
  | { type: 'string'; enum?: readonly string[] }
  | { type: 'integer'; min?: number; max?: number }
  | { type: 'number'; min?: number }
  | { type: 'boolean' }
  | { type: 'quantity' }
  | { type: 'intOrString' }
  | { type: 'object'; fields: Record<string, Schema>; required?: Record<string, string> }
  | { type: 'map'; values: Schema }
  | { type: 'array'; items: Schema }
  | { type: 'any' };

export const str = (values?: readonly string[]): Schema => (values ? { type: 'string', enum: values } : { type: 'string' });
export const int = (min?: number, max?: number): Schema => ({ type: 'integer', min, max });
export const num = (min?: number): Schema => ({ type: 'number', min });
export const bool: Schema = { type: 'boolean' };
export const quantity: Schema = { type: 'quantity' };
export const intOrString: Schema = { type: 'intOrString' };
export const any: Schema = { type: 'any' };
export const arr = (items: Schema): Schema => ({ type: 'array', items });
export const map = (values: Schema): Schema => ({ type: 'map', values });
/** `required` maps a field to a hint shown after "required", or '' for none. */
export const obj = (fields: Record<string, Schema>, required?: Record<string, string>): Schema => ({ type: 'object', fields, required });

export function joinPath(path: string, field: string | number): string {
  if (typeof field === 'number') return `${path}[${field}]`;
  return path ? `${path}.${field}` : field;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known field closest to a misspelt one, if any is close enough to be a likely typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export interface CheckOptions {
  /** Unknown fields are errors (the default); when false they are dropped silently. */
  strict: boolean;
}

/**
 * Checks `value` against `schema`, appending every problem to `errors`. Returns the value with
 * nulls removed and, when not strict, unknown fields dropped.
 */
export function check(value: unknown, schema: Schema, path: string, errors: FieldError[], opts: CheckOptions): unknown {
  return new Walker(errors, opts.strict, path).walk(value, schema);
}

/**
 * The walk behind `check`. It is on the apiserver's hot path, so the field path is kept as a
 * stack of parts and only joined into a string when there is an error to report.
 */
class Walker {
  private readonly parts: (string | number)[] = [];

  constructor(private readonly errors: FieldError[], private readonly strict: boolean, private readonly root: string) {}

  private path(extra?: string): string {
    let p = this.root;
    for (const part of this.parts) p = typeof part === 'number' ? `${p}[${part}]` : part.startsWith('[') ? `${p}${part}` : joinPath(p, part);
    return extra === undefined ? p : joinPath(p, extra);
  }

  private fail(value: unknown, message: string): unknown {
    this.errors.push({ path: this.path(), message });
    return value;
  }

  walk(value: unknown, schema: Schema): unknown {
    switch (schema.type) {
      case 'any':
        return value;
      case 'string':
        if (typeof value !== 'string') return this.fail(value, `must be a string (got ${typeName(value)})`);
        if (schema.enum && !schema.enum.includes(value)) {
          return this.fail(value, `unsupported value ${JSON.stringify(value)} (supported: ${schema.enum.map((e) => JSON.stringify(e)).join(', ')})`);
        }
        return value;
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value)) return this.fail(value, `must be an integer (got ${typeName(value)})`);
        if (schema.min !== undefined && value < schema.min) return this.fail(value, `must be at least ${schema.min} (got ${value})`);
        if (schema.max !== undefined && value > schema.max) return this.fail(value, `must be at most ${schema.max} (got ${value})`);
        return value;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) return this.fail(value, `must be a number (got ${typeName(value)})`);
        if (schema.min !== undefined && value < schema.min) return this.fail(value, `must be at least ${schema.min} (got ${value})`);
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') return this.fail(value, `must be true or false (got ${typeName(value)})`);
        return value;
      case 'quantity':
        if (!isQuantity(value)) return this.fail(value, `${JSON.stringify(value)} is not a quantity (e.g. cpu: 100m or 0.5; memory: 64Mi or 1G)`);
        return typeof value === 'number' ? String(value) : value;
      case 'intOrString':
        if (typeof value === 'number' && Number.isInteger(value)) return value;
        if (typeof value === 'string' && value !== '') return value;
        return this.fail(value, `must be an integer or a string (got ${typeName(value)})`);
      case 'array': {
        if (!Array.isArray(value)) return this.fail(value, `must be a list (got ${typeName(value)})`);
        const out = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          this.parts.push(i);
          out[i] = this.walk(value[i], schema.items);
          this.parts.pop();
        }
        return out;
      }
      case 'map': {
        if (!isPlainObject(value)) return this.fail(value, `must be a map (got ${typeName(value)})`);
        const out: Record<string, unknown> = {};
        for (const k in value) {
          const v = value[k];
          if (v === null || v === undefined) continue;
          this.parts.push(`[${k}]`);
          out[k] = this.walk(v, schema.values);
          this.parts.pop();
        }
        return out;
      }
      case 'object': {
        if (!isPlainObject(value)) return this.fail(value, `must be a map (got ${typeName(value)})`);
        const out: Record<string, unknown> = {};
        for (const k in value) {
          const v = value[k];
          const sub = schema.fields[k];
          if (!sub) {
            if (this.strict) {
              const guess = closest(k, Object.keys(schema.fields));
              this.errors.push({
                path: this.path(k),
                message: `unknown field${guess ? ` (did you mean "${guess}"?)` : ''}; remove it, or pass --validate=false to ignore unknown fields`,
              });
            }
            continue;
          }
          if (v === null || v === undefined) continue;
          this.parts.push(k);
          out[k] = this.walk(v, sub);
          this.parts.pop();
        }
        if (schema.required) {
          for (const field in schema.required) {
            if (out[field] === undefined) {
              const hint = schema.required[field];
              this.errors.push({ path: this.path(field), message: hint ? `required (${hint})` : 'required' });
            }
          }
        }
        return out;
      }
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
