// -o yaml | json | name | wide, and the plain table.
import { stringify } from 'yaml';
import type { KindInfo } from '../protocol/kinds.ts';
import type { KubeObject } from '../protocol/types.ts';
import { UsageError } from './command.ts';
import { objectRef } from './resources.ts';
import { columnsFor, renderTable, tableRows } from './table.ts';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined) return 'table';
  if (['wide', 'yaml', 'json', 'name'].includes(value)) return value as OutputFormat;
  throw new UsageError(`-o ${value}: unsupported output format (use wide, yaml, json or name)`);
}

export function formatObjects(objs: KubeObject[], info: KindInfo, format: OutputFormat, opts: { allNamespaces: boolean; single: boolean; header?: boolean }): string {
  switch (format) {
    case 'yaml':
      return stringify(opts.single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs }, { lineWidth: 0 }).trimEnd();
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
