// The test suite: every *.test.ts file runs in its own process group, one after another (the
// machine has two cores and the end-to-end tests start clusters). uvu prints totals per file;
// this adds them up into the final line `N passed, N failed`, and repeats the end of each failed
// file's output just above it.
// Usage: tsx test/run.ts [SUBSTRING...]  (only files whose path contains one of them)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './harness.ts';

const DIRS = ['protocol', 'actors', 'cli', 'infra', 'bench', 'test'];
const FILE_TIMEOUT_MS = Number(process.env.SKIFF_TEST_FILE_TIMEOUT_MS ?? 300_000);

function findTests(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') findTests(p, out);
    } else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  seconds: number;
  note?: string;
  /** The end of a failed file's output, stack frames left out. */
  excerpt?: string;
}

const EXCERPT_LINES = 20;

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    let timedOut = false;
    // SIGTERM first: the harness then stops the services the file started in groups of their own.
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      // Reap anything the file left in its group.
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* nothing left */ }
      const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
      const totals = [...clean.matchAll(/Total:\s+(\d+)\s+Passed:\s+(\d+)/g)];
      const total = totals.reduce((n, m) => n + Number(m[1]), 0);
      const passed = totals.reduce((n, m) => n + Number(m[2]), 0);
      let failed = total - passed;
      let note: string | undefined;
      if (timedOut) { failed++; note = `timed out after ${FILE_TIMEOUT_MS / 1000}s`; }
      else if (totals.length === 0) { failed++; note = `exited with code ${code} before uvu printed its totals`; }
      else if (code !== 0 && failed === 0) { failed++; note = `exited with code ${code}`; }
      const excerpt = failed ? clean.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(-EXCERPT_LINES).join('\n') : undefined;
      resolve({ file: relative(ROOT, file), passed, failed, seconds: (Date.now() - started) / 1000, note, excerpt });
    });
  });
}

const filters = process.argv.slice(2);
const files = DIRS.flatMap((d) => { try { return findTests(join(ROOT, d)); } catch { return []; } })
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

const results: FileResult[] = [];
for (const [i, file] of files.entries()) {
  console.log(`\n=== [${i + 1}/${files.length}] ${relative(ROOT, file)}`);
  results.push(await runFile(file));
}

console.log('\n=== summary');
for (const r of results) {
  console.log(`${r.failed ? 'FAIL' : 'ok  '}  ${r.file.padEnd(48)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${r.seconds.toFixed(1).padStart(6)}s${r.note ? `  (${r.note})` : ''}`);
}
// Where a log shows only its end, the failures are still in it.
for (const r of results.filter((x) => x.excerpt)) console.log(`\n=== the end of ${r.file}'s output\n${r.excerpt}`);
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
