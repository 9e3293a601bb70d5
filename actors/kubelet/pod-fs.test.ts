// A pod's directories: made before it starts, removed when it is gone, without ever stopping the
// node over a directory that will not go.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../protocol/types.ts';
import { containerLogDir, podPaths, preparePodDirs, removePodDirs } from './pod-fs.ts';

const base = mkdtempSync(join(tmpdir(), 'skiff-pod-fs-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

const pod: Pod = {
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1' },
  spec: { containers: [{ name: 'c', command: ['true'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes: [{ name: 'data', emptyDir: {} }] },
};

test('pod dirs - made for the pod, removed whole', async () => {
  const paths = podPaths(join(base, 'a'), 'u1');
  preparePodDirs(pod, paths);
  assert.ok(existsSync(containerLogDir(paths, 'c')));
  writeFileSync(join(containerLogDir(paths, 'c'), '0.log'), 'hello\n');
  assert.is(await removePodDirs(paths), undefined);
  assert.not.ok(existsSync(paths.dir));
});

test('pod dirs - removed while a process still adds files to them (a shim writing its exit file)', async () => {
  const paths = podPaths(join(base, 'b'), 'u1');
  preparePodDirs(pod, paths);
  const logs = containerLogDir(paths, 'c');
  // A writer that keeps adding entries for a while, then stops, as a container's last process does.
  const writer = spawn('sh', ['-c', 'i=0; while [ $i -lt 300 ]; do : > "$0/$i.exit" 2>/dev/null; i=$((i+1)); done', logs], { stdio: 'ignore' });
  const done = new Promise((resolve) => writer.once('exit', resolve));
  // Resolves, with or without an error: it never rejects (the node's crash was a rejection).
  const first = await removePodDirs(paths);
  await done;
  // Whatever the writer added after the last retry goes with the next call, once it has stopped.
  if (first) assert.is(await removePodDirs(paths), undefined);
  assert.not.ok(existsSync(paths.dir));
});

test('pod dirs - a directory that cannot be removed is an error returned, never thrown', async () => {
  const file = join(base, 'a-file');
  writeFileSync(file, '');
  const err = await removePodDirs(podPaths(file, 'u1'));
  assert.is((err as NodeJS.ErrnoException | undefined)?.code, 'ENOTDIR');
});

test.run();
