// skiff cordon: keep new pods off a node; what already runs there stays.
import { type Command } from '../command.ts';
import { parseNodeName } from '../arguments.ts';
import { setUnschedulable } from '../schedulable.ts';

export const cordonCommand: Command = {
  name: 'cordon',
  help: `Mark a node unschedulable: the scheduler places no new pods on it. Pods already running there
keep running; to move them off, use skiff drain. Undo with skiff uncordon.

Usage:
  skiff cordon NODE

Options:
  -h, --help   Show this help.

Examples:
  skiff cordon node-1
  skiff get nodes        # STATUS shows Ready,SchedulingDisabled`,
  options: {},
  async run(_values, positionals, ctx) {
    const node = parseNodeName(positionals, 'cordon');
    const changed = await setUnschedulable(await ctx.client(), node, true);
    ctx.out(`node/${node} ${changed ? 'cordoned' : 'already cordoned'}`);
    return 0;
  },
};
