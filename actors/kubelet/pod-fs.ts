// A pod on disk. Its containers share one working directory (`root`); an emptyDir volume is a
// directory beside it, and each volumeMount is a symlink inside `root` at the mount path (taken
// relative to `root`, as processes have no mount namespace of their own). Logs and the kubelet's
// record of the pod's process groups live beside them.
import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { POD_DIR_REMOVE_RETRY_STEP_MS } from '../../protocol/config.ts';
import type { Container, Pod } from '../../protocol/types.ts';

export interface PodPaths {
  dir: string;
  root: string;
  volumes: string;
  logs: string;
  state: string;
}

export function podPaths(dataDir: string, uid: string): PodPaths {
  // One join (normalizing the data directory); the rest are plain names under it.
  const dir = join(dataDir, 'pods', uid);
  return { dir, root: `${dir}/root`, volumes: `${dir}/volumes`, logs: `${dir}/logs`, state: `${dir}/state.json` };
}

export function containerLogDir(paths: PodPaths, container: string): string {
  return join(paths.logs, container);
}

/** A mount path or working directory inside the pod's root; `..` cannot climb out of it. */
export function inRoot(paths: PodPaths, p: string): string {
  const rel = normalize(p.replace(/^\/+/, '')).replace(/^(\.\.(\/|$))+/, '');
  return join(paths.root, rel);
}

export function containerCwd(paths: PodPaths, c: Container): string {
  if (!c.workingDir) return paths.root;
  return isAbsolute(c.workingDir) ? c.workingDir : inRoot(paths, c.workingDir);
}

function volumeTarget(pod: Pod, paths: PodPaths, name: string): string | undefined {
  const v = pod.spec.volumes?.find((x) => x.name === name);
  if (!v) return undefined;
  return v.hostPath ? v.hostPath.path : join(paths.volumes, name);
}

function ensureLink(link: string, target: string): void {
  try {
    const st = lstatSync(link);
    if (st.isSymbolicLink() && readlinkSync(link) === target) return;
    rmSync(link, { recursive: true, force: true });
  } catch {
    /* absent */
  }
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link);
}

/** Creates the pod's directories, volumes and mount links; safe to run again on re-adoption. */
export function preparePodDirs(pod: Pod, paths: PodPaths): void {
  // `logs` comes with each container's log directory, `volumes` with each emptyDir: fewer calls.
  mkdirSync(paths.root, { recursive: true });
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir) mkdirSync(join(paths.volumes, v.name), { recursive: true });
    if (v.hostPath && (v.hostPath.type === 'DirectoryOrCreate' || v.hostPath.type === undefined)) mkdirSync(v.hostPath.path, { recursive: true });
  }
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    mkdirSync(containerLogDir(paths, c.name), { recursive: true });
    for (const m of c.volumeMounts ?? []) {
      const target = volumeTarget(pod, paths, m.name);
      if (target) ensureLink(inRoot(paths, m.mountPath), target);
    }
    if (c.workingDir && !isAbsolute(c.workingDir)) mkdirSync(inRoot(paths, c.workingDir), { recursive: true });
  }
}

/** Five tries more, POD_DIR_REMOVE_RETRY_STEP_MS (0.1 s) further apart each time: 1.5 s in all. */
const REMOVE_RETRIES = 5;

/**
 * Removes a pod's directories. Retried a few times, without blocking: a process of the pod that
 * has not quite ended (a container's shim writing its exit file) can add an entry while the tree
 * is walked, and the removal then fails with ENOTEMPTY. Resolves to the error that remains, if any;
 * never rejects, as a directory left behind is no reason to stop a node.
 */
export async function removePodDirs(paths: PodPaths): Promise<Error | undefined> {
  try {
    await rm(paths.dir, { recursive: true, force: true, maxRetries: REMOVE_RETRIES, retryDelay: POD_DIR_REMOVE_RETRY_STEP_MS });
    return undefined;
  } catch (err) {
    return err as Error;
  }
}
