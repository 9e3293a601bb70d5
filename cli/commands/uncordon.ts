// skiff uncordon: let the scheduler place pods on a node again.
import { type Command } from '../command.ts';
import { parseNodeName } from '../arguments.ts';
import { setUnschedulable } from '../schedulable.ts';

export const uncordonCommand: Command = {
  name: 'uncordon',
  help: `Mark a node schedulable again: the scheduler may place new pods on it. Pods that drain moved
away are not moved back; new pods (a scale-up, a rollout) may land here.

Usage:
  skiff uncordon NODE

Options:
  -h, --help   Show this help.

Examples:
  skiff uncordon node-1`,
  options: {},
  async run(_values, positionals, ctx) {
    const node = parseNodeName(positionals, 'uncordon');
    const changed = await setUnschedulable(await ctx.client(), node, false);
    ctx.out(`node/${node} ${changed ? 'uncordoned' : 'already uncordoned'}`);
    return 0;
  },
};
