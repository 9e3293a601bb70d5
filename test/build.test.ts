// The compiled programs in dist/ (infra/build.ts) behave as the sources do: the same output and
// exit code for the same commands, against the same cluster; the bin runs dist/ only while it is
// current; and compiled processes start their helpers (reaper, guardian) compiled too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { programArgs } from '../actors/platform/entry.ts';
import { listPids, processCommandLine, processStat } from '../actors/platform/procfs.ts';
import { ensureDist } from '../infra/build.ts';
import { apiserverForTests, ROOT, skiff, spawnProc, startNode, tempDir, waitFor } from './harness.ts';

/** The CLI straight from its sources (tsx) or from dist/, without the bin's choice. */
const run = (compiled: boolean, args: string[], url: string, input = '') => skiff(args, { url, input, via: compiled ? 'dist' : 'sources' });

/** What a command prints on stdout, once it has exited. */
function stdoutOf(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.once('exit', () => resolve(out));
  });
}

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, command: ["sleep", "3600"] }]
`;

const same = suite('build - compiled and sources alike');
const ctx = apiserverForTests(same);
same.before(async () => {
  await ensureDist();
});

same('build - the same output and exit code for the same commands', async () => {
  const url = ctx.nats.url;
  const applied = await run(false, ['apply', '-f', '-'], url, MANIFEST);
  assert.is(applied.code, 0, applied.stderr);
  const commands = [
    ['--help'], ['get', '--help'], ['version', '--client'], ['completion', 'bash'], ['completion', 'zsh'],
    ['get', 'deployments', '-o', 'yaml'], ['get', 'deploy', 'web', '-o', 'json'], ['get', 'namespaces', '-o', 'name'],
    ['get', 'podz'], ['get', 'deploy', 'nothere'], ['scale', 'deploy/web'], ['completion', 'fish'],
    ['__complete', 'get', 'deploy', ''], ['__complete', 'get', '-n', ''], ['__complete', 'rollout', 'status', 'deployment/'],
    ['apply', '-f', '-', '--dry-run=server'],
  ];
  for (const args of commands) {
    const input = args.includes('apply') ? MANIFEST.replace('replicas: 2', 'replicas: two') : '';
    const [src, dist] = await Promise.all([run(false, args, url, input), run(true, args, url, input)]);
    assert.equal(dist, src, `skiff ${args.join(' ')}`);
  }
  // Commands that do reach the cluster did, in both.
  const names = await run(true, ['__complete', 'get', 'deploy', ''], url);
  assert.is(names.stdout.trim(), 'web');
  const version = await run(true, ['version'], url);
  assert.is(version.code, 0, version.stderr);
  assert.match(version.stdout, /^Client Version: \d+\.\d+\.\d+ \(protocol v\d+\)\nServer Version: \d+\.\d+\.\d+ \(protocol v\d+\), apiserver /);
});

same('completion - the bash script completes verbs, kinds and live names through skiff __complete', async () => {
  const dir = tempDir('skiff-completion-');
  const bin = join(dir, 'skiff');
  writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${join(ROOT, 'cli', 'skiff.js')} "$@"\n`, { mode: 0o755 });
  const complete = async (...words: string[]) => {
    const script = `source <("$SKIFF" completion bash); COMP_WORDS=("$SKIFF" ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _skiff; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return (await stdoutOf('bash', ['-c', script], { SKIFF: bin, SKIFF_NATS_URL: ctx.nats.url })).trim();
  };
  assert.is(await complete('rollo'), 'rollout');
  assert.is(await complete('get', 'deploym'), 'deployment\ndeployments');
  assert.is(await complete('get', 'deploy', ''), 'web');
  assert.is(await complete('scale', 'deploy/w'), 'deploy/web');
});

same('build - the bin runs dist/ while it is current, and the sources once one is newer', async () => {
  const current = await skiff(['version', '--client']);
  assert.is(current.code, 0);
  assert.is(current.stderr, '');
  const marker = join(ROOT, 'dist', 'built');
  const { atime, mtime } = statSync(marker);
  utimesSync(marker, new Date(0), new Date(0));
  try {
    const stale = await skiff(['version', '--client']);
    assert.is(stale.code, 0);
    assert.is(stale.stdout, current.stdout);
    assert.is(stale.stderr, '', 'nothing said to a pipe');
    // At a terminal (script(1) makes one), it says which it runs and why.
    const atTerminal = await stdoutOf('script', ['-qc', `${process.execPath} ${join(ROOT, 'cli', 'skiff.js')} version --client`, '/dev/null']);
    assert.match(atTerminal, /skiff: \S+ is newer than dist\/; running the sources through tsx \(npm run build/);
    assert.match(atTerminal, /Client Version: /);
  } finally {
    utimesSync(marker, atime, mtime);
  }
});

same('build - a compiled node registers and arms its reaper from dist/', async () => {
  const node = await startNode(ctx.nats.url, 'node-c', { compiled: true });
  try {
    await waitFor('node-c registered', async () => (await ctx.api.client.list('nodes')).items.some((n) => n.metadata.name === 'node-c'));
    const reapers = listPids().filter((pid) => processCommandLine(pid)?.includes(node.dataDir) && processCommandLine(pid)?.includes('reaper-main'));
    assert.is(reapers.length, 1);
    const cmdline = processCommandLine(reapers[0])!.split('\0');
    assert.ok(cmdline.includes(join(ROOT, 'dist', 'actors', 'kubelet', 'reaper-main.js')), cmdline.join(' '));
    assert.not.ok(cmdline.some((w) => w.includes('tsx')), cmdline.join(' '));
  } finally {
    await node.stop();
  }
});

same('build - a compiled skiff up starts its guardian from dist/', async () => {
  const dir = tempDir('skiff-build-up-');
  writeFileSync(join(dir, 'Procfile'), 'sleeper: sleep 30\n');
  const up = spawnProc(process.execPath, [...programArgs('cli/main', true), 'up', '-f', join(dir, 'Procfile')], { cwd: dir });
  try {
    const guardian = await waitFor('the guardian', () => listPids().find((pid) => processStat(pid)?.ppid === up.pid && processCommandLine(pid)?.includes('guardian-main')));
    const cmdline = processCommandLine(guardian)!.split('\0');
    assert.ok(cmdline.includes(join(ROOT, 'dist', 'cli', 'up', 'guardian-main.js')), cmdline.join(' '));
    assert.not.ok(cmdline.some((w) => w.includes('tsx')), cmdline.join(' '));
  } finally {
    await up.stop();
  }
});

same.run();
