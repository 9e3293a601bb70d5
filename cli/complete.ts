// `skiff __complete WORD...`: what the shell scripts of `skiff completion` call at each Tab, with
// the words typed after `skiff` (the last one the word being completed, maybe empty). Prints the
// candidates, one a line: verbs, flags, kinds and their short names, and the names of live
// objects, as kubectl's completion offers them. What to offer is decided by `completionFor`, which
// does no I/O; names are then listed from the cluster, quickly or not at all.
import { KINDS, resolveResource, type KindInfo } from '../protocol/kinds.ts';
import type { Options } from './command.ts';
import { FILES_DIRECTIVE } from './commands/completion.ts';
import { VERBS, findVerb } from './commands/index.ts';

/** What to offer for the word being completed. */
export type Completion =
  | { type: 'words'; words: string[] }
  /** Names of live objects of a kind, each written after `prefix` (`deployment/` in the KIND/NAME form). */
  | { type: 'names'; info: KindInfo; namespace?: string; prefix: string }
  /** Paths: left to the shell's own completion. */
  | { type: 'files' };

const OUTPUT_FORMATS = ['json', 'yaml', 'wide', 'name'];
const ROLLOUT_SUBCOMMANDS = ['status', 'history', 'undo', 'restart', 'pause', 'resume'];
const SHELLS = ['bash', 'zsh'];

/** The positional arguments of each verb, in order; the last one repeats. */
const POSITIONALS: Record<string, Array<'kind' | 'names' | 'pods' | 'nodes' | 'rollout' | 'workload' | 'deployment' | 'shell'>> = {
  get: ['kind', 'names'],
  describe: ['kind', 'names'],
  delete: ['kind', 'names'],
  logs: ['pods'],
  exec: ['pods'],
  cordon: ['nodes'],
  uncordon: ['nodes'],
  drain: ['nodes'],
  scale: ['workload', 'names'],
  rollout: ['rollout', 'deployment', 'names'],
  completion: ['shell'],
};

function kindWords(infos: readonly KindInfo[]): string[] {
  return [...new Set(infos.flatMap((k) => [k.resource, k.singular, ...k.shortNames]))];
}

const WORKLOADS = ['deployments', 'replicasets'];

/**
 * `words`: what follows `skiff`, the last one being completed. `options`: the verb's flags
 * (undefined before the verb is known).
 */
export function completionFor(words: string[], options: Options | undefined): Completion {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  if (before.length === 0) return { type: 'words', words: [...VERBS.map((v) => v.name), 'up'] };
  const verb = before[0];
  const flags: Options = { ...options, help: { type: 'boolean', short: 'h' } };
  /** The flag's name, if `word` is a flag whose value is the next word. */
  const takesValue = (word: string | undefined): string | undefined => {
    let name: string | undefined;
    if (word?.startsWith('--') && !word.includes('=')) name = word.slice(2);
    else if (word && /^-[a-zA-Z]$/.test(word)) name = Object.keys(flags).find((k) => flags[k].short === word[1]);
    return name && flags[name]?.type === 'string' ? name : undefined;
  };
  // Where a value is read: -n NAMESPACE, -A.
  let namespace: string | undefined = 'default';
  const positionals: string[] = [];
  for (let i = 1; i < before.length; i++) {
    const w = before[i];
    if (w === '--') break;
    const valued = takesValue(w);
    if (valued) {
      if (valued === 'namespace') namespace = before[i + 1];
      i++;
    } else if (w === '-A' || w === '--all-namespaces') namespace = undefined;
    else if (w.startsWith('--namespace=')) namespace = w.slice('--namespace='.length);
    else if (!w.startsWith('-')) positionals.push(w);
  }
  if (before.includes('--')) return { type: 'files' };
  const valueOf = takesValue(before[before.length - 1]);
  if (valueOf === 'namespace') return { type: 'names', info: resolveResource('namespaces')!, prefix: '' };
  if (valueOf === 'output') return { type: 'words', words: OUTPUT_FORMATS };
  if (valueOf === 'filename' || valueOf === 'procfile' || valueOf === 'env') return { type: 'files' };
  if (valueOf) return { type: 'words', words: [] };
  if (current.startsWith('-')) {
    return { type: 'words', words: Object.keys(flags).map((f) => `--${f}`) };
  }
  const slash = current.indexOf('/');
  if (slash > 0) {
    const info = resolveResource(current.slice(0, slash));
    return info ? { type: 'names', info, namespace: info.namespaced ? namespace : undefined, prefix: current.slice(0, slash + 1) } : { type: 'words', words: [] };
  }
  const slots = POSITIONALS[verb];
  if (!slots) return verb === 'apply' || verb === 'create' || verb === 'up' ? { type: 'files' } : { type: 'words', words: [] };
  const slot = slots[Math.min(positionals.length, slots.length - 1)];
  const named = (info: KindInfo | undefined): Completion => (info ? { type: 'names', info, namespace: info.namespaced ? namespace : undefined, prefix: '' } : { type: 'words', words: [] });
  switch (slot) {
    case 'kind':
      return { type: 'words', words: [...kindWords(KINDS), ...(verb === 'get' ? ['all'] : [])] };
    case 'workload':
      return { type: 'words', words: kindWords(WORKLOADS.map((r) => resolveResource(r)!)) };
    case 'deployment':
      return { type: 'words', words: kindWords([resolveResource('deployments')!]) };
    case 'rollout':
      return { type: 'words', words: ROLLOUT_SUBCOMMANDS };
    case 'shell':
      return { type: 'words', words: SHELLS };
    case 'pods':
      return named(resolveResource('pods'));
    case 'nodes':
      return named(resolveResource('nodes'));
    case 'names': {
      // The kind is the positional before the names (rollout's comes after its subcommand).
      const kindWord = positionals[slots.indexOf('names') - 1];
      if (!kindWord || kindWord.includes('/') || kindWord.includes(',')) return { type: 'words', words: [] };
      return named(resolveResource(kindWord));
    }
  }
}

async function liveNames(c: Extract<Completion, { type: 'names' }>): Promise<string[]> {
  const { loadConfig } = await import('../protocol/config.ts');
  const { connectNats } = await import('../actors/platform/nats.ts');
  const { ApiClient } = await import('../actors/client/client.ts');
  const cfg = loadConfig();
  const { findCredentials } = await import('../actors/platform/credentials.ts');
  const credentials = findCredentials(undefined, { localAdmin: true });
  const nc = await connectNats({ url: cfg.natsUrl, name: 'skiff completion', persistent: false, timeoutMs: cfg.completionTimeoutMs, credentials });
  try {
    const list = await new ApiClient(nc, { timeoutMs: cfg.completionTimeoutMs, attemptTimeoutMs: cfg.completionTimeoutMs }).list(c.info.resource, { namespace: c.namespace });
    return [...new Set(list.items.map((o) => `${c.prefix}${o.metadata.name}`))];
  } finally {
    await nc.close().catch(() => {});
  }
}

/** `skiff __complete`: prints the candidates that start with the word being completed. */
export async function printCompletions(words: string[]): Promise<number> {
  const verb = words.length > 1 ? findVerb(words[0]) : undefined;
  const options = verb ? (await verb.load()).options : words[0] === 'up' && words.length > 1 ? (await import('./up/index.ts')).UP_OPTIONS as Options : undefined;
  const c = completionFor(words, options);
  if (c.type === 'files') {
    console.log(FILES_DIRECTIVE);
    return 0;
  }
  let candidates: string[] = [];
  if (c.type === 'words') candidates = c.words;
  else if (c.type === 'names') candidates = await liveNames(c).catch(() => []); // no cluster: nothing to offer
  const current = words[words.length - 1] ?? '';
  const out = candidates.filter((w) => w.startsWith(current)).sort();
  if (out.length) console.log(out.join('\n'));
  return 0;
}
