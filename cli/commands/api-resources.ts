import { KINDS } from '../../protocol/kinds.ts';
import type { Command } from '../command.ts';
import { renderTable } from '../table.ts';

export const apiResourcesCommand: Command = {
  name: 'api-resources',
  help: `List the kinds of object skiff serves, with their short names.

Usage:
  skiff api-resources

Options:
  -h, --help   Show this help.`,
  options: {},
  async run(_values, _positionals, ctx) {
    const rows = KINDS.map((k) => [k.resource, k.shortNames.join(','), k.apiVersion, String(k.namespaced), k.kind]);
    ctx.out(renderTable(['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'], rows));
    return 0;
  },
};
