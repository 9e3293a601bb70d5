// skiff top: what nodes and pods use, from the apiservers' window of the kubelets' samples
// (protocol/metrics.ts), as `kubectl top` shows metrics-server's. No Prometheus needed.
import type { Node } from '../../protocol/types.ts';
import { cpuMillis, memoryBytes } from '../../protocol/quantity.ts';
import { NAMESPACE_OPTIONS, stringOption, UsageError, type Command } from '../command.ts';
import { renderTable } from '../table.ts';

const cores = (c: number) => `${Math.round(c * 1000)}m`;
const mebibytes = (b: number) => `${Math.round(b / 2 ** 20)}Mi`;
const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : '<unknown>');

export const topCommand: Command = {
  name: 'top',
  help: `Show what nodes and pods use: CPU (in millicores, over the last few seconds) and memory.

Usage:
  skiff top nodes
  skiff top pods [-n NAMESPACE | -A] [--containers] [--sort-by cpu|memory]

Each kubelet samples its node and its pods' process groups every second (SKIFF_METRICS_PUBLISH_MS)
and publishes them; the apiservers keep the latest, which this reads. A node whose last sample is
older than three periods is left out. CPU% and MEMORY% of a node are of its capacity.

Options:
  -n, --namespace NS     pods of this namespace (default: default)
  -A, --all-namespaces   pods of every namespace
      --containers       a line per container
      --sort-by FIELD    cpu or memory, the most first
  -h, --help             Show this help.`,
  options: { ...NAMESPACE_OPTIONS, containers: { type: 'boolean' }, 'sort-by': { type: 'string' } },
  async run(values, positionals, ctx) {
    const [what, extra] = positionals;
    if (extra) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
    const sortBy = stringOption(values, 'sort-by');
    if (sortBy !== undefined && sortBy !== 'cpu' && sortBy !== 'memory') throw new UsageError(`--sort-by ${sortBy}: use cpu or memory`);
    const client = await ctx.client();
    if (what === 'nodes' || what === 'node' || what === 'no') {
      const [usage, nodes] = await Promise.all([client.nodeMetrics(), client.list<Node>('nodes')]);
      const capacity = new Map(nodes.items.map((n) => [n.metadata.name!, n.status?.capacity ?? {}]));
      if (sortBy) usage.sort((a, b) => (sortBy === 'cpu' ? b.cpuCores - a.cpuCores : b.memoryBytes - a.memoryBytes));
      else usage.sort((a, b) => a.node.localeCompare(b.node));
      if (usage.length === 0) {
        ctx.err('error: no node has reported its usage yet (kubelets publish every few seconds)');
        return 1;
      }
      ctx.out(renderTable(['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%'], usage.map((u) => {
        const cap = capacity.get(u.node) ?? {};
        const cpu = cap.cpu ? cpuMillis(cap.cpu) / 1000 : 0;
        const mem = cap.memory ? memoryBytes(cap.memory) : 0;
        return [u.node, cores(u.cpuCores), percent(u.cpuCores, cpu), mebibytes(u.memoryBytes), percent(u.memoryBytes, mem)];
      })));
      return 0;
    }
    if (what !== 'pods' && what !== 'pod' && what !== 'po') throw new UsageError(what ? `skiff top ${what}: use nodes or pods` : 'give nodes or pods: skiff top pods -A');
    const all = values['all-namespaces'] === true;
    const namespace = all ? undefined : stringOption(values, 'namespace') ?? 'default';
    const pods = await client.podMetrics(namespace);
    const rows = (values.containers === true
      ? pods.flatMap((p) => p.containers.map((c) => ({ ns: p.namespace, pod: p.name, container: c.name, cpu: c.cpuCores, mem: c.memoryBytes })))
      : pods.map((p) => ({ ns: p.namespace, pod: p.name, container: '', cpu: p.containers.reduce((n, c) => n + c.cpuCores, 0), mem: p.containers.reduce((n, c) => n + c.memoryBytes, 0) })));
    rows.sort((a, b) => (sortBy === 'cpu' ? b.cpu - a.cpu : sortBy === 'memory' ? b.mem - a.mem : a.ns.localeCompare(b.ns) || a.pod.localeCompare(b.pod) || a.container.localeCompare(b.container)));
    if (rows.length === 0) {
      ctx.err(`No resources found${namespace ? ` in ${namespace} namespace` : ''}.`);
      return 0;
    }
    const headers = [...(all ? ['NAMESPACE'] : []), values.containers === true ? 'POD' : 'NAME', ...(values.containers === true ? ['NAME'] : []), 'CPU(cores)', 'MEMORY(bytes)'];
    ctx.out(renderTable(headers, rows.map((r) => [...(all ? [r.ns] : []), r.pod, ...(values.containers === true ? [r.container] : []), cores(r.cpu), mebibytes(r.mem)])));
    return 0;
  },
};
