// -o yaml | json | name | wide, and the plain table.
import type { KindInfo } from '../protocol/kinds.ts';
import type { KubeObject } from '../protocol/types.ts';
import { UsageError } from './command.ts';
import { objectRef } from './resources.ts';
import { columnsFor, renderTable, tableRows } from './table.ts';
import { loadYaml } from './yaml.ts';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';

/** Loaded only for -o yaml. */
let yaml: Awaited<ReturnType<typeof loadYaml>> | undefined;

/** The format `-o` names; readies what formatObjects needs for it. */
export async function parseOutput(value: string | undefined): Promise<OutputFormat> {
  if (value === undefined) return 'table';
  if (value === 'yaml') yaml ??= await loadYaml();
  if (['wide', 'yaml', 'json', 'name'].includes(value)) return value as OutputFormat;
  throw new UsageError(`-o ${value}: unsupported output format (use wide, yaml, json or name)`);
}

export function formatObjects(objs: KubeObject[], info: KindInfo, format: OutputFormat, opts: { allNamespaces: boolean; single: boolean; header?: boolean }): string {
  switch (format) {
    case 'yaml':
      return yaml!.stringify(opts.single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs }, { lineWidth: 0 }).trimEnd();
    case 'json':
      return JSON.stringify(opts.single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs }, null, 2);
    case 'name':
      return objs.map((o) => objectRef(info, o.metadata.name ?? '')).join('\n');
    default: {
      const cols = columnsFor(info.kind, { wide: format === 'wide', allNamespaces: opts.allNamespaces });
      const table = renderTable(cols.map((c) => c.header), tableRows(objs, cols));
      return opts.header === false ? table.split('\n').slice(1).join('\n') : table;
    }
  }
}
