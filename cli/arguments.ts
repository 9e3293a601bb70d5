// The arguments the single-object verbs (scale, rollout, cordon, drain) share: one object named in
// any of kubectl's ways (`deployment/web`, `deploy/web`, `deployment web`, a bare `NODE`), and numbers.
import type { KindInfo } from '../protocol/kinds.ts';
import { stringOption, UsageError, type Values } from './command.ts';
import { parseTargets, resolveKind } from './resources.ts';

export interface ObjectName {
  info: KindInfo;
  name: string;
}

/**
 * The objects `words` name, each of one of the `allowed` kinds (by resource name, e.g.
 * `deployments`). `example` shows the user a correct form, e.g. `deployment/web`.
 */
export function parseObjectNames(words: string[], allowed: string[], example: string): ObjectName[] {
  if (words.length === 0) throw new UsageError(`say which object, e.g. ${example}`);
  const names: ObjectName[] = [];
  for (const t of parseTargets(words)) {
    if (!allowed.includes(t.info.resource)) {
      throw new UsageError(`${t.info.resource} are not supported here; use ${allowed.join(' or ')}, e.g. ${example}`);
    }
    if (t.names.length === 0) throw new UsageError(`name the ${t.info.singular}, e.g. ${example}`);
    names.push(...t.names.map((name) => ({ info: t.info, name })));
  }
  return names;
}

/** Exactly one object, for verbs that act on one at a time. */
export function parseObjectName(words: string[], allowed: string[], example: string): ObjectName {
  const names = parseObjectNames(words, allowed, example);
  if (names.length > 1) throw new UsageError(`name one object at a time, e.g. ${example}`);
  return names[0];
}

/** `NODE` or `node/NODE`. */
export function parseNodeName(words: string[], verb: string): string {
  if (words.length === 0) throw new UsageError(`name the node to ${verb}, e.g. skiff ${verb} node-1`);
  if (words.length > 1) throw new UsageError(`name one node at a time (got ${words.length}: ${words.join(' ')})`);
  const [kind, name, ...rest] = words[0].split('/');
  if (name === undefined) return kind;
  if (rest.length || !name || resolveKind(kind).kind !== 'Node') {
    throw new UsageError(`${JSON.stringify(words[0])}: expected a node name, e.g. skiff ${verb} node-1`);
  }
  return name;
}

export function namespaceOption(values: Values): string {
  return stringOption(values, 'namespace') ?? 'default';
}

/** A whole number option, at least `min`, or undefined if not given; `allowed` says what is, for the error. */
export function integerOption(values: Values, flag: string, min: number, allowed = min === 0 ? '0 or more' : `at least ${min}`): number | undefined {
  const text = stringOption(values, flag);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${flag}=${text}: must be a whole number (${allowed})`);
  return n;
}
