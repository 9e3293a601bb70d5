// Label selectors, equality-based (`app=web,tier!=db`) and set-based
// (`env in (prod,staging)`, `track notin (canary)`, `app`, `!legacy`), plus the small set of
// field selectors skiff serves (`spec.nodeName=node-1`).
import type { LabelSelector, LabelSelectorRequirement } from './types.ts';
import { labelValue, qualifiedName } from './names.ts';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms.map((t) => t.trim());
}

function checkKey(key: string, term: string): void {
  const errs = qualifiedName(key);
  if (errs.length) throw new SelectorError(`invalid selector term ${JSON.stringify(term)}: key ${errs[0]}`);
}

function checkValue(value: string, term: string): void {
  const errs = labelValue(value);
  if (errs.length) throw new SelectorError(`invalid selector term ${JSON.stringify(term)}: value ${errs[0]}`);
}

const SET_TERM = /^([^\s!=()]+)\s+(in|notin)\s*\(([^()]*)\)$/;
const EQ_TERM = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/;

export function parseSelector(text: string): Requirement[] {
  const s = text.trim();
  if (s === '') return [];
  return splitTerms(s).map((term) => {
    if (term === '') throw new SelectorError(`invalid selector ${JSON.stringify(text)}: empty term`);
    let m = SET_TERM.exec(term);
    if (m) {
      const values = m[3].split(',').map((v) => v.trim()).filter((v) => v !== '');
      checkKey(m[1], term);
      values.forEach((v) => checkValue(v, term));
      if (values.length === 0) throw new SelectorError(`invalid selector term ${JSON.stringify(term)}: '${m[2]}' needs at least one value`);
      return { key: m[1], operator: m[2] === 'in' ? 'In' : 'NotIn', values };
    }
    m = EQ_TERM.exec(term);
    if (m) {
      checkKey(m[1], term);
      checkValue(m[3], term);
      return { key: m[1], operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]] };
    }
    if (term.startsWith('!')) {
      const key = term.slice(1).trim();
      checkKey(key, term);
      return { key, operator: 'DoesNotExist', values: [] };
    }
    if (/^[^\s!=(),]+$/.test(term)) {
      checkKey(term, term);
      return { key: term, operator: 'Exists', values: [] };
    }
    throw new SelectorError(
      `invalid selector term ${JSON.stringify(term)} (use key=value, key!=value, key in (a,b), key notin (a,b), key or !key)`,
    );
  });
}

/** A LabelSelector object as requirements. An empty selector `{}` matches everything. */
export function fromLabelSelector(sel: LabelSelector): Requirement[] {
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, operator: 'In', values: [value] });
  for (const e of sel.matchExpressions ?? []) reqs.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  return reqs;
}

export function matches(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.operator) {
      case 'In': if (!has || !r.values.includes(l[r.key])) return false; break;
      case 'NotIn': if (has && r.values.includes(l[r.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
    }
  }
  return true;
}

export function labelSelectorMatches(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel) return false;
  return matches(fromLabelSelector(sel), labels);
}

export function formatSelector(reqs: Requirement[]): string {
  return reqs
    .map((r) => {
      switch (r.operator) {
        case 'In': return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
        case 'NotIn': return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`;
        case 'Exists': return r.key;
        case 'DoesNotExist': return `!${r.key}`;
      }
    })
    .join(',');
}

export function validateLabelSelectorRequirement(r: LabelSelectorRequirement): string[] {
  const errs: string[] = [];
  if ((r.operator === 'In' || r.operator === 'NotIn') && !(r.values && r.values.length > 0)) {
    errs.push(`values: required when operator is ${r.operator}`);
  }
  if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && r.values && r.values.length > 0) {
    errs.push(`values: must be empty when operator is ${r.operator}`);
  }
  return errs;
}

// --- field selectors -------------------------------------------------------------------------

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export const SUPPORTED_FIELDS = [
  'metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase', 'spec.unschedulable',
  'involvedObject.kind', 'involvedObject.name', 'involvedObject.uid',
];

export function parseFieldSelector(text: string): FieldRequirement[] {
  const s = text.trim();
  if (s === '') return [];
  return s.split(',').map((term) => {
    const m = /^\s*([A-Za-z.]+)\s*(==|=|!=)\s*([^,]*?)\s*$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector term ${JSON.stringify(term)} (use field=value or field!=value)`);
    if (!SUPPORTED_FIELDS.includes(m[1])) {
      throw new SelectorError(`field selector: ${JSON.stringify(m[1])} is not supported (supported: ${SUPPORTED_FIELDS.join(', ')})`);
    }
    return { field: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3] };
  });
}

function fieldValue(obj: Record<string, unknown>, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  return cur === undefined || cur === null ? '' : String(cur);
}

export function fieldsMatch(reqs: FieldRequirement[], obj: Record<string, unknown>): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === '='));
}
