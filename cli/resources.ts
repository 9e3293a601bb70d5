// Turning command-line words into kinds and names: `pods`, `po x y`, `pod/x`, `pods,svc`, `all`.
import { closest } from '../protocol/schema.ts';
import { KINDS, resolveResource, type KindInfo } from '../protocol/kinds.ts';
import type { KubeObject } from '../protocol/types.ts';
import { UsageError } from './command.ts';

export interface Target {
  info: KindInfo;
  names: string[];
}

const ALL = ['pods', 'services', 'deployments', 'replicasets', 'horizontalpodautoscalers'];

export function resolveKind(word: string): KindInfo {
  const info = resolveResource(word);
  if (info) return info;
  const known = KINDS.flatMap((k) => [k.resource, k.singular, ...k.shortNames]);
  const guess = closest(word.toLowerCase(), known);
  throw new UsageError(`the server doesn't have a resource type ${JSON.stringify(word)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}; see: skiff api-resources`);
}

/** `KIND [NAME...]`, `KIND/NAME...` or `KIND1,KIND2`. */
export function parseTargets(words: string[]): Target[] {
  if (words.length === 0) throw new UsageError('you must say what kind of resource, e.g. pods, deployments, services (see: skiff api-resources)');
  if (words.some((w) => w.includes('/'))) {
    return words.map((w) => {
      const [kind, name, ...rest] = w.split('/');
      if (!kind || !name || rest.length) throw new UsageError(`${JSON.stringify(w)}: expected KIND/NAME, e.g. deployment/web`);
      return { info: resolveKind(kind), names: [name] };
    });
  }
  const [kinds, ...names] = words;
  const infos = kinds.split(',').flatMap((k) => (k === 'all' ? ALL.map(resolveKind) : [resolveKind(k)]));
  if (names.length && infos.length > 1) throw new UsageError('names can only be given with a single kind (or use KIND/NAME)');
  return infos.map((info) => ({ info, names }));
}

/** `deployment.apps/web`, `pod/web-1`: how kubectl names an object in its output. */
export function objectRef(info: KindInfo, name: string): string {
  const group = info.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${info.singular}${group}/${name}`;
}

export function quotedRef(info: KindInfo, name: string): string {
  const group = info.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${info.singular}${group} ${JSON.stringify(name)}`;
}

export function nameOf(o: KubeObject): string {
  return o.metadata.name ?? '';
}
