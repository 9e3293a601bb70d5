// skiff apply: create what is missing and bring the rest in line with the manifests. Every
// document is checked, locally and then by a server dry run, before anything is written.
import { Forbidden, Invalid, NotFound, SkiffError, formatFieldError } from '../../protocol/errors.ts';
import { kindInfo, type KindInfo } from '../../protocol/kinds.ts';
import { applyPatch, deepEqual } from '../../protocol/merge-patch.ts';
import { validateObject } from '../../protocol/validate.ts';
import { clusterIPOf, hasNodePorts } from '../../protocol/defaults.ts';
import type { KubeObject, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../../actors/client/client.ts';
import { listOption, NAMESPACE_OPTIONS, stringOption, UsageError, type CliContext, type Command, type Values } from '../command.ts';
import { ManifestError, formatProblem, readManifests, type ManifestDoc, type ManifestProblem } from '../manifest.ts';
import { objectRef } from '../resources.ts';

export const LAST_APPLIED = 'skiff.io/last-applied-configuration';
const SERVER_SET = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields'];

export interface Prepared {
  doc: ManifestDoc;
  info: KindInfo;
  /** The manifest as the user wrote it, less what the server sets, with its namespace filled in. */
  manifest: KubeObject;
}

export function describeDoc(p: { doc: ManifestDoc; manifest?: KubeObject }): string {
  const o = p.manifest ?? (p.doc.object as KubeObject);
  const name = (o.metadata as { name?: string } | undefined)?.name;
  return `${p.doc.source}, document ${p.doc.index}${o.kind ? ` (${String(o.kind)}${name ? ` ${JSON.stringify(name)}` : ''})` : ''}`;
}

/** Local checks of every document; returns all problems rather than stopping at the first. */
export function prepareDocs(docs: ManifestDoc[], opts: { namespace?: string; strict: boolean; forApply: boolean }): { prepared: Prepared[]; problems: string[] } {
  const prepared: Prepared[] = [];
  const problems: string[] = [];
  for (const doc of docs) {
    const manifest = structuredClone(doc.object) as KubeObject;
    delete manifest.status;
    const meta = (manifest.metadata ??= {});
    for (const f of SERVER_SET) delete (meta as Record<string, unknown>)[f];
    if (meta.annotations) delete meta.annotations[LAST_APPLIED];
    const info = kindInfo(String(manifest.kind));
    if (info?.namespaced && opts.namespace) {
      if (meta.namespace && meta.namespace !== opts.namespace) {
        problems.push(`${describeDoc({ doc, manifest })}: metadata.namespace ${JSON.stringify(meta.namespace)} does not match --namespace ${JSON.stringify(opts.namespace)}`);
        continue;
      }
      meta.namespace = opts.namespace;
    }
    if (opts.forApply && meta.generateName && !meta.name) {
      problems.push(`${describeDoc({ doc, manifest })}: metadata.generateName: apply needs a fixed metadata.name (use skiff create for generated names)`);
      continue;
    }
    try {
      const { info: checked } = validateObject(structuredClone(manifest), { strict: opts.strict, creating: true });
      if (checked.namespaced) meta.namespace ??= 'default';
      prepared.push({ doc, info: checked, manifest });
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      for (const f of err.fields) problems.push(`${describeDoc({ doc, manifest })}: ${formatFieldError(f)}`);
    }
  }
  return { prepared, problems };
}

/**
 * What the documents of one batch claim twice among themselves: the same object, a ClusterIP, a
 * node port. Each document passes the server's dry run on its own (the server sees only what is
 * stored), so without this the batch would write the first and be refused the second.
 */
export function batchConflicts(prepared: Prepared[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, Prepared>();
  /** `what` is claimed: a field's value; none, the object itself. */
  const claim = (key: string, p: Prepared, what?: string) => {
    const first = seen.get(key);
    if (!first) seen.set(key, p);
    else if (what === undefined) problems.push(`${describeDoc(p)}: the same object as ${describeDoc(first)}; one batch cannot write an object twice`);
    else problems.push(`${describeDoc(p)}: ${what} is also claimed by ${describeDoc(first)}; one batch cannot have it twice`);
  };
  for (const p of prepared) {
    const { metadata } = p.manifest;
    claim(`object ${p.info.resource} ${metadata.namespace ?? ''}/${metadata.name}`, p);
    if (p.info.kind !== 'Service') continue;
    const svc = p.manifest as Service;
    const ip = clusterIPOf(svc);
    if (ip) claim(`clusterIP ${ip}`, p, `spec.clusterIP ${ip}`);
    if (!hasNodePorts(svc)) continue;
    svc.spec.ports.forEach((port, i) => {
      if (port.nodePort) claim(`nodePort ${port.nodePort}`, p, `spec.ports[${i}].nodePort ${port.nodePort}`);
    });
  }
  return problems;
}

/** What a batch has written so far, so that a write refused part-way can be undone. */
export interface Written {
  p: Prepared;
  /** The object as it was before (undefined: this batch created it), and as it is now. */
  before?: KubeObject;
  after: KubeObject;
}

/**
 * Undoes a batch's writes, last first: objects it created are deleted, objects it changed are put
 * back as they were. Returns a line per object, saying what was done or why it could not be.
 */
export async function undoWrites(client: ApiClient, written: Written[]): Promise<string[]> {
  const lines: string[] = [];
  for (const w of [...written].reverse()) {
    const { info, manifest } = w.p;
    const ref = objectRef(info, manifest.metadata.name!);
    try {
      if (!w.before) {
        await client.delete(info.resource, manifest.metadata.name!, manifest.metadata.namespace, { gracePeriodSeconds: 0 });
        lines.push(`${ref} deleted again`);
      } else {
        await client.update({ ...w.before, metadata: { ...w.before.metadata, resourceVersion: w.after.metadata.resourceVersion } });
        lines.push(`${ref} put back as it was`);
      }
    } catch (err) {
      lines.push(`${ref} could not be undone: ${(err as Error).message}`);
    }
  }
  return lines;
}

export type ApplyResult = 'created' | 'configured' | 'unchanged';

export async function applyOne(client: ApiClient, p: Prepared, opts: { dryRun: boolean; strict: boolean; written?: Written[] }): Promise<ApplyResult> {
  const { info, manifest } = p;
  const name = manifest.metadata.name!;
  const ns = manifest.metadata.namespace;
  const lastApplied = JSON.stringify(manifest);
  const wo = { dryRun: opts.dryRun, fieldValidation: opts.strict ? 'Strict' as const : 'Ignore' as const };
  let existing: KubeObject;
  try {
    existing = await client.get(info.resource, name, ns);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    const annotated = structuredClone(manifest);
    annotated.metadata.annotations = { ...annotated.metadata.annotations, [LAST_APPLIED]: lastApplied };
    const created = await client.create(annotated, wo);
    opts.written?.push({ p, after: created });
    return 'created';
  }
  let last: unknown = {};
  try {
    last = JSON.parse(existing.metadata.annotations?.[LAST_APPLIED] ?? '{}');
  } catch {
    /* an unreadable annotation: treat as first apply */
  }
  const patch = applyPatch(last, manifest) as KubeObject;
  patch.metadata = { ...patch.metadata, annotations: { ...(patch.metadata?.annotations ?? {}), [LAST_APPLIED]: lastApplied } };
  const result = await client.patch(info.resource, name, ns, patch, wo);
  const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  if (deepEqual(strip(result), strip(existing))) return 'unchanged';
  opts.written?.push({ p, before: existing, after: result });
  return 'configured';
}

function serverError(err: unknown): string {
  if (err instanceof Invalid) return err.fields.map(formatFieldError).join('; ');
  if (err instanceof Forbidden) return `Forbidden: ${err.message}`;
  if (err instanceof SkiffError) return `${err.message}`;
  throw err;
}

/** Namespaces first, so that the objects in them can be created in the same apply. */
function ordered(prepared: Prepared[]): Prepared[] {
  return [...prepared.filter((p) => p.info.kind === 'Namespace'), ...prepared.filter((p) => p.info.kind !== 'Namespace')];
}

/** The manifests of -f, checked locally; `writes`: they are to be written, so claims made twice in the batch are refused too. */
export async function loadAndPrepare(values: Values, ctx: CliContext, forApply: boolean, writes = true): Promise<Prepared[] | number> {
  const files = listOption(values, 'filename');
  if (files.length === 0) throw new UsageError('-f FILE is required (a file, a directory, or - for stdin)');
  const validate = stringOption(values, 'validate') ?? 'true';
  if (!['true', 'false', 'strict', 'ignore'].includes(validate)) throw new UsageError(`--validate=${validate}: use true or false`);
  let docs: ManifestDoc[];
  try {
    docs = await readManifests(files, { recursive: values.recursive === true, readStdin: ctx.readStdin });
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    reportProblems(ctx, err.problems.map(formatProblem), err.problems.length);
    return 1;
  }
  if (docs.length === 0) {
    ctx.err('error: no objects passed (the files hold no documents)');
    return 1;
  }
  const strict = validate === 'true' || validate === 'strict';
  const { prepared, problems } = prepareDocs(docs, { namespace: stringOption(values, 'namespace'), strict, forApply });
  if (writes && problems.length === 0) problems.push(...batchConflicts(prepared));
  if (problems.length) {
    reportProblems(ctx, problems, new Set(problems.map((p) => p.split(':')[0])).size);
    return 1;
  }
  return ordered(prepared);
}

/** A batch refused part-way: the refusal, then what was undone. Returns the exit code. */
export function reportUndone(ctx: CliContext, refusal: string, undone: string[]): number {
  ctx.err(`error: ${refusal}`);
  if (undone.length) ctx.err(`undoing the ${undone.length} object${undone.length === 1 ? '' : 's'} this batch had written:`);
  for (const l of undone) ctx.err(`  ${l}`);
  return 1;
}

function reportProblems(ctx: CliContext, lines: string[], docCount: number): void {
  ctx.err(`error: ${lines.length} problem${lines.length === 1 ? '' : 's'} in ${docCount} document${docCount === 1 ? '' : 's'}; nothing was applied`);
  for (const l of lines) ctx.err(`  ${l}`);
}

/** The server's own dry run of every document, so that its refusals too stop the apply before any write. */
export async function serverDryRun(
  client: ApiClient, prepared: Prepared[], write: (c: ApiClient, p: Prepared) => Promise<unknown>,
): Promise<string[]> {
  const newNamespaces = new Set(prepared.filter((p) => p.info.kind === 'Namespace').map((p) => p.manifest.metadata.name));
  const problems: string[] = [];
  for (const p of prepared) {
    try {
      await write(client, p);
    } catch (err) {
      const pending = err instanceof NotFound && /^namespace /.test(err.message) && newNamespaces.has(p.manifest.metadata.namespace);
      if (!pending) problems.push(`${describeDoc(p)}: ${serverError(err)}`);
    }
  }
  return problems;
}

export const applyCommand: Command = {
  name: 'apply',
  help: `Create or update objects from YAML or JSON manifests.

Usage:
  skiff apply -f FILE|DIR|- [-f ...] [-R] [-n NAMESPACE] [--dry-run=server] [--validate=false]

Every document is validated first, locally and by the server, and the batch as a whole (no object,
ClusterIP or node port claimed twice); if any is invalid, every problem is listed with its file,
document number and field path, and nothing is applied. A write refused after that (the cluster
changed in between) undoes what the batch had written.

Options:
  -f, --filename FILE   A manifest file, a directory of .yaml/.yml/.json files, or - for stdin.
                        Multi-document YAML and kind: List are accepted. Repeatable.
  -R, --recursive       Also read subdirectories of a directory given with -f.
  -n, --namespace NS    Namespace for objects that do not name one (default: default).
      --dry-run=server  Have the server check everything; write nothing.
      --validate=false  Ignore unknown fields instead of refusing them.
  -o, --output name     Print only kind/name of each object.
  -h, --help            Show this help.

Examples:
  skiff apply -f examples/hello.yaml
  cat app.yaml | skiff apply -f -`,
  options: {
    filename: { type: 'string', short: 'f', multiple: true },
    recursive: { type: 'boolean', short: 'R' },
    'dry-run': { type: 'string' },
    validate: { type: 'string' },
    output: { type: 'string', short: 'o' },
    namespace: NAMESPACE_OPTIONS.namespace,
  },
  async run(values, positionals, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}; manifests are given with -f`);
    const dryRunFlag = stringOption(values, 'dry-run');
    if (dryRunFlag !== undefined && dryRunFlag !== 'server' && dryRunFlag !== 'none') throw new UsageError(`--dry-run=${dryRunFlag}: use --dry-run=server`);
    const output = stringOption(values, 'output');
    if (output !== undefined && output !== 'name') throw new UsageError(`-o ${output}: apply supports only -o name`);
    const prepared = await loadAndPrepare(values, ctx, true);
    if (typeof prepared === 'number') return prepared;
    const strict = (stringOption(values, 'validate') ?? 'true') !== 'false';
    const client = await ctx.client();
    const problems = await serverDryRun(client, prepared, (c, p) => applyOne(c, p, { dryRun: true, strict }));
    if (problems.length) {
      reportProblems(ctx, problems, problems.length);
      return 1;
    }
    const dryRun = dryRunFlag === 'server';
    const written: Written[] = [];
    for (const p of prepared) {
      const ref = objectRef(p.info, p.manifest.metadata.name!);
      if (dryRun) {
        ctx.out(output === 'name' ? ref : `${ref} checked (server dry run)`);
        continue;
      }
      try {
        const result = await applyOne(client, p, { dryRun: false, strict, written });
        ctx.out(output === 'name' ? ref : `${ref} ${result}`);
      } catch (err) {
        // Refused after the dry run passed (something changed in between): nothing half-written.
        return reportUndone(ctx, `${describeDoc(p)}: ${serverError(err)}`, await undoWrites(client, written));
      }
    }
    return 0;
  },
};
