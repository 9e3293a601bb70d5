// The process runtime on real processes: the exit code a container's shim records, and a wait
// that is not fooled by an exit recorded under a process number the kernel has handed out again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime, type LaunchSpec } from './runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'skiff-runtime-'));
// The runtime unrefs its children (a node must not wait for them to exit); this keeps the test alive.
const keepAlive = setInterval(() => {}, 1000);
test.after(() => {
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
});

const spec = (name: string, script: string): LaunchSpec => ({
  argv: ['sh', '-c', script], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: dir,
  logFile: join(dir, `${name}.log`), exitFile: join(dir, `${name}.exit`),
});

test('runtime - the exit code is the command\'s, recorded by the shim, and its output is logged', async () => {
  const rt = new ProcessRuntime();
  const h = await rt.start(spec('three', 'echo hello; exit 3'));
  const exit = await rt.wait(h, new AbortController().signal);
  assert.is(exit.exitCode, 3);
  assert.is(readFileSync(join(dir, 'three.exit'), 'utf8').trim(), '3');
  assert.is(readFileSync(join(dir, 'three.log'), 'utf8'), 'hello\n');
});

test('runtime - an exit recorded under a reused process number does not end the wait of the live process', async () => {
  const rt = new ProcessRuntime();
  const h = await rt.start(spec('long', 'exec sleep 30'));
  // As if an earlier process with this number had exited while nobody waited for it.
  (rt as unknown as { exits: Map<number, { exitCode: number }> }).exits.set(h.pgid, { exitCode: 0 });
  const waiting = rt.wait(h, new AbortController().signal);
  const early = await Promise.race([waiting.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still running'), 300))]);
  assert.is(early, 'still running');
  assert.ok(rt.alive(h));
  rt.signal(h, 'SIGTERM');
  const exit = await waiting;
  assert.is(exit.exitCode, 143, 'the live process\'s own exit: killed by SIGTERM');
});

test.run();
