// Where a fault finds its processes: in what `skiff up` recorded (.skiff/up/<runner>.json: each
// instance's process group, named as the Procfile names it, node.2 being the node node-2), what the
// local cloud provider recorded (.skiff/cloud/instances), and, for a pod's containers, what its
// node's kubelet recorded (<data dir>/pods/<uid>/state.json). Never by a process's name: a pid is
// taken only with the start time that proves it is still the process recorded.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadPodStates, recordedGroups } from '../../actors/kubelet/state.ts';
import { isRunning } from '../../actors/platform/procfs.ts';
import { readStateFile } from '../up/groups.ts';
import { runningInstanceGroups } from '../../actors/cloud/local/instances.ts';

export interface ProcessTarget {
  /** As the cluster names it: node-2, master-1, nats-1, pool-a-1f3c2. */
  name: string;
  role: 'node' | 'master' | 'nats' | 'other';
  pgid: number;
  startTime: string;
  /** A node's data directory, where its kubelet records its pods. */
  dataDir?: string;
}

/** Every recorded process of the cluster run from `dir` that still runs. */
export function clusterProcesses(dir: string): ProcessTarget[] {
  const out: ProcessTarget[] = [];
  const upDir = join(dir, '.skiff', 'up');
  let files: string[] = [];
  try {
    files = readdirSync(upDir).filter((f) => f.endsWith('.json'));
  } catch {
    // no skiff up here
  }
  for (const f of files) {
    let state;
    try {
      state = readStateFile(join(upDir, f));
    } catch {
      continue;
    }
    if (!isRunning(state.runner.pid, state.runner.startTime)) continue;
    for (const g of state.groups) {
      if (!isRunning(g.pgid, g.startTime, g.pgid)) continue;
      const [proc, n] = g.name.split('.');
      const role = proc === 'node' || proc === 'master' || proc === 'nats' ? proc : 'other';
      const name = `${proc}-${n}`;
      out.push({ name, role, pgid: g.pgid, startTime: g.startTime, ...(role === 'node' ? { dataDir: join(dir, '.skiff', 'nodes', name) } : {}) });
    }
  }
  for (const g of runningInstanceGroups(join(dir, '.skiff', 'cloud'))) out.push({ ...g, role: 'node' });
  return out.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** The process groups of a pod's containers, as its node's kubelet recorded them, that still run. */
export function podGroups(nodes: ProcessTarget[], podUid: string): { pgid: number; startTime: string }[] {
  for (const n of nodes) {
    if (!n.dataDir) continue;
    const state = loadPodStates(n.dataDir).find((s) => s.uid === podUid);
    if (state) return recordedGroups(state).filter((h) => isRunning(h.pgid, h.startTicks, h.pgid)).map((h) => ({ pgid: h.pgid, startTime: h.startTicks }));
  }
  return [];
}
