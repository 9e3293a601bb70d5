// skiff create: create from manifests (failing if an object exists), or a namespace by name.
import { Invalid, formatFieldError } from '../../protocol/errors.ts';
import { validateObject } from '../../protocol/validate.ts';
import { NAMESPACE_OPTIONS, stringOption, UsageError, type Command } from '../command.ts';
import { objectRef } from '../resources.ts';
import { describeDoc, loadAndPrepare, reportUndone, serverDryRun, undoWrites, type Written } from './apply.ts';

export const createCommand: Command = {
  name: 'create',
  help: `Create objects; unlike apply, an object that already exists is an error.

Usage:
  skiff create -f FILE|DIR|- [-n NAMESPACE] [--validate=false]
  skiff create namespace NAME

Every document is checked before anything is written, as with apply; metadata.generateName works.

Options:
  -f, --filename FILE   A manifest file, a directory, or - for stdin. Repeatable.
  -R, --recursive       Also read subdirectories of a directory given with -f.
  -n, --namespace NS    Namespace for objects that do not name one (default: default).
      --validate=false  Ignore unknown fields instead of refusing them.
  -h, --help            Show this help.`,
  options: {
    filename: { type: 'string', short: 'f', multiple: true },
    recursive: { type: 'boolean', short: 'R' },
    validate: { type: 'string' },
    namespace: NAMESPACE_OPTIONS.namespace,
  },
  async run(values, positionals, ctx) {
    if (positionals.length) {
      const [what, name, ...rest] = positionals;
      if (!['namespace', 'ns'].includes(what) || !name || rest.length) {
        throw new UsageError('create takes -f FILE, or: namespace NAME');
      }
      const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
      try {
        validateObject(structuredClone(ns));
      } catch (err) {
        if (err instanceof Invalid) throw new UsageError(`namespace name: ${err.fields.map(formatFieldError).join('; ')}`);
        throw err;
      }
      await (await ctx.client()).create(ns);
      ctx.out(`namespace/${name} created`);
      return 0;
    }
    const prepared = await loadAndPrepare(values, ctx, false);
    if (typeof prepared === 'number') return prepared;
    const strict = (stringOption(values, 'validate') ?? 'true') !== 'false';
    const fieldValidation = strict ? 'Strict' as const : 'Ignore' as const;
    const client = await ctx.client();
    const problems = await serverDryRun(client, prepared, (c, p) => c.create(p.manifest, { dryRun: true, fieldValidation }));
    if (problems.length) {
      ctx.err(`error: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was created`);
      for (const p of problems) ctx.err(`  ${p}`);
      return 1;
    }
    const written: Written[] = [];
    for (const p of prepared) {
      try {
        const o = await client.create(p.manifest, { fieldValidation });
        written.push({ p, after: o });
        ctx.out(`${objectRef(p.info, o.metadata.name!)} created`);
      } catch (err) {
        // Refused after the dry run passed (something changed in between): nothing half-written.
        return reportUndone(ctx, `${describeDoc(p)}: ${(err as Error).message}`, await undoWrites(client, written));
      }
    }
    return 0;
  },
};
