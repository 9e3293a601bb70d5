// The kubelet's own record of each pod on this node: its ports and, per container, the process
// group it runs in and how it last ended. Written on every start and exit, read after a kubelet
// restart to re-adopt what still runs and to kill what no pod owns any more.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ContainerState } from '../../protocol/types.ts';
import type { AllocatedPort } from './pod-env.ts';
import type { PodPaths } from './pod-fs.ts';
import type { ProcessHandle } from './runtime.ts';

export interface ContainerSaved {
  restartCount: number;
  handle?: ProcessHandle;
  lastState?: ContainerState;
}

export interface PodState {
  uid: string;
  namespace: string;
  name: string;
  ports: AllocatedPort[];
  startTime: string;
  initDone: boolean;
  containers: Record<string, ContainerSaved>;
}

/** Atomically: a crash mid-write leaves the previous record, never half of one. */
export function savePodState(paths: PodPaths, state: PodState): void {
  mkdirSync(dirname(paths.state), { recursive: true });
  const tmp = `${paths.state}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, paths.state);
}

/** Every pod record under the node's data directory; unreadable ones are skipped. */
export function loadPodStates(dataDir: string): PodState[] {
  const dir = join(dataDir, 'pods');
  let uids: string[];
  try {
    uids = readdirSync(dir);
  } catch {
    return [];
  }
  const out: PodState[] = [];
  for (const uid of uids) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, uid, 'state.json'), 'utf8')) as PodState);
    } catch {
      /* a pod directory without a readable record */
    }
  }
  return out;
}

/** Every process group a record names. */
export function recordedGroups(state: PodState): ProcessHandle[] {
  return Object.values(state.containers).flatMap((c) => (c.handle ? [c.handle] : []));
}
