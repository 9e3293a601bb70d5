// The kubelet with real processes: a real node process against a real apiserver and nats-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../actors/client/client.ts';
import { listPids, liveGroups, processCommandLine } from '../actors/platform/procfs.ts';
import { NotFound } from '../protocol/errors.ts';
import type { Container, Pod } from '../protocol/types.ts';
import { freePort, isAlive, setup, withLogsOnFailure, skiff, spawnProc, startInProcessApiserver, startNats, startNode, tempDir, waitFor, type InProcessApiserver, type Nats, type NodeProc } from './harness.ts';

interface Ctx {
  nats: Nats;
  api: InProcessApiserver;
  client: ApiClient;
  node: NodeProc;
  other: NodeProc;
}

const k = suite<Ctx>('kubelet');
const test = (name: string, body: (ctx: Ctx) => Promise<void>) => k(name, withLogsOnFailure((ctx) => [ctx.node, ctx.other], body));

k.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.api = await startInProcessApiserver(ctx.nats.url);
  ctx.client = ctx.api.client;
  ctx.node = await startNode(ctx.nats.url, 'node-a');
  ctx.other = await startNode(ctx.nats.url, 'node-b');
}));

k.after(async (ctx) => {
  await ctx.node?.stop();
  await ctx.other?.stop();
  await ctx.api?.stop();
  await ctx.nats?.stop();
});

let seq = 0;
function pod(node: string, containers: Container[], extra: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${++seq}`, ...meta }, spec: { nodeName: node, containers, ...extra } };
}
const sh = (name: string, script: string, extra: Partial<Container> = {}): Container => ({ name, command: ['sh', '-c', script], ...extra });

async function current(client: ApiClient, p: Pod): Promise<Pod> {
  return client.get<Pod>('pods', p.metadata.name!, 'default');
}
function rootOf(node: NodeProc, p: Pod): string {
  return join(node.dataDir, 'pods', p.metadata.uid!, 'root');
}
const cs = (p: Pod, name?: string) => (name ? p.status?.containerStatuses?.find((c) => c.name === name) : p.status?.containerStatuses?.[0]);
const condition = (p: Pod, type: string) => p.status?.conditions?.find((c) => c.type === type)?.status;

async function gone(client: ApiClient, p: Pod): Promise<boolean> {
  try {
    await current(client, p);
    return false;
  } catch (err) {
    return err instanceof NotFound;
  }
}

test('a pod runs with PORT, SKIFF_PORT_<NAME>, HOSTNAME and fieldRef env, and its status is right', async ({ client, node, nats }) => {
  const p = await client.create(pod('node-a', [{
    name: 'web', command: ['sh', '-c', 'env > env.txt; exec sleep 1000'], ports: [{ name: 'http', containerPort: 8080 }],
    env: [{ name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'GREETING', value: 'hi $(MY_NAME)' }],
  }]));
  const running = await waitFor('Running', async () => { const x = await current(client, p); return x.status?.phase === 'Running' && condition(x, 'Ready') === 'True' ? x : undefined; });
  const port = running.status!.hostPorts![0].hostPort;
  await waitFor('env.txt', () => existsSync(join(rootOf(node, running), 'env.txt')));
  const env = readFileSync(join(rootOf(node, running), 'env.txt'), 'utf8');
  for (const line of [`PORT=${port}`, `SKIFF_PORT_HTTP=${port}`, `HOSTNAME=${p.metadata.name}`, `MY_NAME=${p.metadata.name}`, 'MY_IP=127.0.0.1', `GREETING=hi ${p.metadata.name}`]) {
    assert.ok(env.split('\n').includes(line), `${line} in\n${env}`);
  }
  assert.is(running.status!.podIP, '127.0.0.1');
  assert.is(cs(running)!.restartCount, 0);
  assert.ok(cs(running)!.state.running?.startedAt);
  for (const c of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) assert.is(condition(running, c), 'True', c);
  const table = await skiff(['get', 'pod', p.metadata.name!, '-o', 'wide'], { url: nats.url });
  assert.match(table.stdout, new RegExp(`${p.metadata.name}\\s+1/1\\s+Running\\s+0\\s+\\d+s\\s+127\\.0\\.0\\.1\\s+node-a`));
  await client.delete('pods', p.metadata.name!, 'default');
});

test('a crashing container reaches CrashLoopBackOff, with growing delays', async ({ client, node }) => {
  const p = await client.create(pod('node-a', [sh('crash', 'date +%s%3N >> starts; exit 1')], {}, { annotations: { 'skiff.io/backoff-initial': '200ms', 'skiff.io/backoff-max': '5s' } }));
  const seen = await waitFor('CrashLoopBackOff with 4 restarts', async () => {
    const x = await current(client, p);
    return cs(x)?.state.waiting?.reason === 'CrashLoopBackOff' && cs(x)!.restartCount >= 4 ? x : undefined;
  }, 20_000, 50);
  assert.is(seen.status!.phase, 'Running', 'restartPolicy Always keeps the pod Running');
  assert.is(cs(seen)!.lastState?.terminated?.exitCode, 1);
  const starts = readFileSync(join(rootOf(node, seen), 'starts'), 'utf8').trim().split('\n').map(Number);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]);
  for (let i = 1; i < Math.min(gaps.length, 4); i++) assert.ok(gaps[i] > gaps[i - 1] * 1.5, `gaps grow: ${gaps.join(', ')} ms`);
  assert.ok(gaps[0] >= 180, `the first wait is the initial backoff: ${gaps[0]} ms`);
  await client.delete('pods', p.metadata.name!, 'default');
});

test('a failing liveness probe restarts the container', async ({ client, node }) => {
  const liveness = { exec: { command: ['sh', '-c', 'if [ -f sick ]; then rm sick; exit 1; fi'] }, periodSeconds: 1, failureThreshold: 1 };
  const p = await client.create(pod('node-a', [sh('app', 'exec sleep 1000', { livenessProbe: liveness })]));
  const x = await waitFor('running', async () => { const y = await current(client, p); return y.status?.phase === 'Running' ? y : undefined; });
  writeFileSync(join(rootOf(node, x), 'sick'), '');
  const after = await waitFor('a restart', async () => { const y = await current(client, p); return cs(y)?.restartCount === 1 && cs(y)!.state.running ? y : undefined; }, 15_000);
  assert.match(cs(after)!.lastState!.terminated!.message!, /liveness probe failed/);
  await client.delete('pods', p.metadata.name!, 'default');
});

test('readiness toggles Ready', async ({ client, node }) => {
  const readiness = { exec: { command: ['test', '-f', 'ready'] }, periodSeconds: 1, failureThreshold: 1 };
  const p = await client.create(pod('node-a', [sh('app', 'exec sleep 1000', { readinessProbe: readiness })]));
  const x = await waitFor('running', async () => { const y = await current(client, p); return y.status?.phase === 'Running' ? y : undefined; });
  assert.is(condition(x, 'Ready'), 'False');
  writeFileSync(join(rootOf(node, x), 'ready'), '');
  await waitFor('Ready', async () => condition(await current(client, p), 'Ready') === 'True', 10_000);
  rmSync(join(rootOf(node, x), 'ready'));
  await waitFor('not Ready', async () => condition(await current(client, p), 'Ready') === 'False', 10_000);
  await client.delete('pods', p.metadata.name!, 'default');
});

test('init containers run in order; an emptyDir is shared between two containers', async ({ client, node }) => {
  const p = await client.create(pod('node-a', [
    // Each file appears whole (written aside, then renamed), so a reader never sees it half-written.
    sh('writer', 'cat order > out/copy.tmp && mv out/copy.tmp out/copy; exec sleep 1000', { volumeMounts: [{ name: 'shared', mountPath: '/out' }] }),
    sh('reader', 'until [ -f in/copy ]; do sleep 0.1; done; cat in/copy > seen.tmp && mv seen.tmp seen; exec sleep 1000', { volumeMounts: [{ name: 'shared', mountPath: '/in' }] }),
  ], {
    initContainers: [sh('first', 'echo one >> order; sleep 0.3'), sh('second', 'echo two >> order')],
    volumes: [{ name: 'shared', emptyDir: {} }],
  }));
  const x = await waitFor('running', async () => { const y = await current(client, p); return y.status?.phase === 'Running' ? y : undefined; });
  assert.equal(x.status!.initContainerStatuses!.map((c) => c.state.terminated?.exitCode), [0, 0]);
  await waitFor('the reader saw the copy', () => existsSync(join(rootOf(node, x), 'seen')));
  assert.is(readFileSync(join(rootOf(node, x), 'seen'), 'utf8'), 'one\ntwo\n');
  assert.ok(existsSync(join(node.dataDir, 'pods', x.metadata.uid!, 'volumes', 'shared', 'copy')), 'the file lives in the volume');
  await client.delete('pods', p.metadata.name!, 'default');
});

test('a memory limit kills with OOMKilled', async ({ client }) => {
  const hog = "const a=[]; setInterval(()=>a.push(Buffer.alloc(8*1024*1024, 1)), 20)";
  const p = await client.create(pod('node-a', [{ name: 'hog', command: ['node', '-e', hog], resources: { limits: { memory: '96Mi' } } }], { restartPolicy: 'Never' }));
  const x = await waitFor('OOMKilled', async () => { const y = await current(client, p); return cs(y)?.state.terminated ? y : undefined; }, 20_000);
  assert.is(cs(x)!.state.terminated!.reason, 'OOMKilled');
  assert.is(cs(x)!.state.terminated!.exitCode, 137);
  assert.is(x.status!.phase, 'Failed');
  await client.delete('pods', p.metadata.name!, 'default');
});

test('a deleted pod\'s container ran once: the pod is not started again while its delete completes', async ({ client }) => {
  const starts = join(tempDir(), 'starts');
  const p = await client.create(pod('node-a', [sh('app', `echo started >> ${starts}; exec sleep 1000`)], { terminationGracePeriodSeconds: 1 }));
  await waitFor('running', async () => (await current(client, p)).status?.phase === 'Running');
  await client.delete('pods', p.metadata.name!, 'default');
  await waitFor('gone', () => gone(client, p));
  // Time for any start that should not happen (a second worker made for the pod's last status echo).
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(readFileSync(starts, 'utf8'), 'started\n');
});

test('a graceful stop: SIGTERM first, SIGKILL after the grace period', async ({ client }) => {
  const host = tempDir();
  const polite = await client.create(pod('node-a', [sh('polite', 'trap "echo TERM > host/polite; exit 0" TERM; while true; do sleep 0.1; done', { volumeMounts: [{ name: 'host', mountPath: '/host' }] })],
    { volumes: [{ name: 'host', hostPath: { path: host } }] }));
  const stubborn = await client.create(pod('node-a', [sh('stubborn', 'trap "" TERM; echo $$ > host/pid; while true; do sleep 0.1; done', { volumeMounts: [{ name: 'host', mountPath: '/host' }] })],
    { volumes: [{ name: 'host', hostPath: { path: host } }], terminationGracePeriodSeconds: 2 }));
  for (const p of [polite, stubborn]) await waitFor('running', async () => (await current(client, p)).status?.phase === 'Running');
  await waitFor('the pid file', () => existsSync(join(host, 'pid')));
  const pid = Number(readFileSync(join(host, 'pid'), 'utf8'));
  let began = Date.now();
  await client.delete('pods', polite.metadata.name!, 'default');
  await waitFor('the polite pod gone', () => gone(client, polite), 10_000);
  assert.ok(Date.now() - began < 3000, `stopped quickly: ${Date.now() - began} ms`);
  assert.is(readFileSync(join(host, 'polite'), 'utf8'), 'TERM\n', 'it got SIGTERM');
  began = Date.now();
  await client.delete('pods', stubborn.metadata.name!, 'default');
  await waitFor('the stubborn pod gone', () => gone(client, stubborn), 15_000);
  const took = Date.now() - began;
  assert.ok(took >= 1900 && took < 8000, `SIGKILL after the 2 s grace period: ${took} ms`);
  assert.not.ok(isAlive(pid), 'its process is gone');
});

test('skiff logs -f and skiff exec', async ({ client, nats }) => {
  const p = await client.create(pod('node-a', [sh('talker', 'i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done')]));
  await waitFor('running', async () => (await current(client, p)).status?.phase === 'Running');
  const url = nats.url;
  // It prints a line every 0.2 s: a compiled skiff can ask before the second.
  await waitFor('three lines printed', async () => (await skiff(['logs', p.metadata.name!], { url })).stdout.trim().split('\n').length >= 3);
  const logs = await skiff(['logs', p.metadata.name!, '--tail', '2'], { url });
  assert.is(logs.code, 0, logs.stderr);
  assert.is(logs.stdout.trim().split('\n').length, 2);
  const follow = await skiff(['logs', '-f', p.metadata.name!], { url, timeoutMs: 3000 });
  const lines = follow.stdout.trim().split('\n');
  const first = Number(lines[0].split(' ')[1]);
  const last = Number(lines[lines.length - 1].split(' ')[1]);
  assert.ok(last - first >= 4, `-f kept printing new lines: ${lines.length} lines, ${first}..${last}`);
  const exec = await skiff(['exec', p.metadata.name!, '--', 'sh', '-c', 'echo in $(basename $(dirname $PWD)) as $HOSTNAME; echo oops >&2; exit 3'], { url });
  assert.is(exec.code, 3, 'the exit code is the command\'s');
  assert.is(exec.stdout, `in ${p.metadata.uid} as ${p.metadata.name}\n`);
  assert.is(exec.stderr, 'oops\n');
  await client.delete('pods', p.metadata.name!, 'default');
});

test('per-node delivery: a node sees no other node\'s pod events', async ({ client, node, other }) => {
  const count = async (n: NodeProc) => [...(await n.metrics()).matchAll(/skiff_kubelet_pod_events_total\{type="[a-z]+"[^}]*\} (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  // node-a first settles: its own pods from earlier tests are gone and their events delivered.
  await waitFor('node-a to run no pods', async () => (await client.list('pods', { fieldSelector: 'spec.nodeName=node-a' })).items.length === 0, 15_000);
  let before = await count(node);
  await waitFor('node-a to be quiet', async () => { const now = await count(node); const quiet = now === before; before = now; return quiet; }, 10_000, 500);
  const beforeOther = await count(other);
  const mine = [];
  for (let i = 0; i < 3; i++) mine.push(await client.create(pod('node-b', [sh('c', 'exec sleep 1000')])));
  for (const p of mine) await waitFor('running on node-b', async () => (await current(client, p)).status?.phase === 'Running');
  for (const p of mine) await client.delete('pods', p.metadata.name!, 'default');
  for (const p of mine) await waitFor('gone', () => gone(client, p), 10_000);
  assert.ok((await count(other)) - beforeOther >= 9, 'node-b saw its pods come and go');
  assert.is(await count(node), before, 'node-a saw none of it');
});

k.run();

/** Live processes whose command line contains every one of `needles`. */
function processesNaming(...needles: string[]): number[] {
  return listPids().filter((p) => {
    const cmdline = processCommandLine(p);
    return cmdline !== undefined && needles.every((n) => cmdline.includes(n));
  });
}

const adopt = suite<Ctx>('kubelet restart');

adopt.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.api = await startInProcessApiserver(ctx.nats.url);
  ctx.client = ctx.api.client;
  ctx.node = await startNode(ctx.nats.url, 'node-r');
}));

adopt.after(async (ctx) => {
  await ctx.node?.stop();
  await ctx.api?.stop();
  await ctx.nats?.stop();
});

adopt('kill -9 the node and restart it: it re-adopts running containers and kills groups it no longer owns', async (ctx) => {
  const { client } = ctx;
  const pods: Pod[] = [];
  for (let i = 0; i < 5; i++) pods.push(await client.create(pod('node-r', [sh('c', 'exec sleep 1000')])));
  const running = [];
  for (const p of pods) running.push(await waitFor('running', async () => { const x = await current(client, p); return x.status?.phase === 'Running' ? x : undefined; }));
  const pids = running.map((x) => cs(x)!.pid!);
  assert.ok(pids.every(isAlive));
  ctx.node.proc.kill('SIGKILL');
  await ctx.node.proc.exited;
  assert.ok(pids.every(isAlive), 'the containers outlive their kubelet');
  // While it is down, one pod is removed for good: nobody owns its processes any more.
  const [orphan, ...kept] = running;
  await client.delete('pods', orphan.metadata.name!, 'default', { gracePeriodSeconds: 0 });
  ctx.node = await startNode(ctx.nats.url, 'node-r', { dataDir: ctx.node.dataDir });
  await waitFor('the orphan group killed', () => !isAlive(cs(orphan)!.pid!), 10_000);
  for (const x of kept) {
    const after = await waitFor('status after restart', async () => { const y = await current(client, x); return cs(y)?.state.running ? y : undefined; });
    assert.is(cs(after)!.pid, cs(x)!.pid, 'the same process');
    assert.is(cs(after)!.restartCount, 0, 'not restarted');
    assert.ok(isAlive(cs(x)!.pid!));
  }
  for (const x of kept) await client.delete('pods', x.metadata.name!, 'default');
  for (const x of kept) await waitFor('deleted', () => gone(client, x), 10_000);
  assert.equal([...liveGroups(pids)], [], 'no process of their groups remains');
});

adopt('SIGTERM stops the pods gracefully; with --keep-pods they stay for the next start', async (ctx) => {
  const { client } = ctx;
  const p = await client.create(pod('node-r', [sh('c', 'exec sleep 1000')]));
  const x = await waitFor('running', async () => { const y = await current(client, p); return y.status?.phase === 'Running' ? y : undefined; });
  const pid = cs(x)!.pid!;
  await ctx.node.stop();
  assert.not.ok(isAlive(pid), 'SIGTERM to the node stopped its pod');
  ctx.node = await startNode(ctx.nats.url, 'node-r', { dataDir: ctx.node.dataDir, args: ['--keep-pods'] });
  const restarted = await waitFor('running again', async () => { const y = await current(client, p); return cs(y)?.state.running && cs(y)!.pid !== pid ? y : undefined; });
  const kept = cs(restarted)!.pid!;
  assert.is(cs(restarted)!.restartCount, 1, 'it came back as a restart');
  await ctx.node.stop();
  assert.ok(isAlive(kept), '--keep-pods left it running');
  ctx.node = await startNode(ctx.nats.url, 'node-r', { dataDir: ctx.node.dataDir });
  const adopted = await waitFor('re-adopted', async () => { const y = await current(client, p); return cs(y)?.state.running ? y : undefined; });
  assert.is(cs(adopted)!.pid, kept);
  await client.delete('pods', p.metadata.name!, 'default');
  await waitFor('deleted', () => gone(client, p), 10_000);
  assert.not.ok(isAlive(kept));
});

adopt('a node stopped before its kubelet ran: --keep-pods leaves the last run\'s containers, without it they are stopped', async (ctx) => {
  const { client } = ctx;
  const p = await client.create(pod('node-r', [sh('c', 'exec sleep 1000')]));
  const runningPid = async (other?: number) => cs(await waitFor('running', async () => {
    const y = await current(client, p);
    return cs(y)?.state.running && cs(y)!.pid !== other ? y : undefined;
  }))!.pid!;
  let pid = await runningPid();
  const { dataDir } = ctx.node;
  const killNode = async () => {
    ctx.node.proc.kill('SIGKILL');
    await ctx.node.proc.exited;
  };
  // A node started on the directory, stopped with SIGTERM once it has claimed it, its reaper armed
  // with a short grace; returns once the node and its reaper are gone.
  const stopEarly = async (natsUrl: string, args: string[] = [], started?: RegExp) => {
    const proc = spawnProc(process.execPath, ['--import', 'tsx', 'actors/node/main.ts', '--name', 'node-r', ...args], {
      env: { SKIFF_NATS_URL: natsUrl, PORT: '0', SKIFF_NODE_DATA_DIR: dataDir, SKIFF_NODE_ORPHAN_GRACE_MS: '300' },
    });
    await waitFor('the directory claimed', () => readFileSync(join(dataDir, 'kubelet.pid'), 'utf8').includes(`"pid":${proc.pid}`), 20_000);
    if (started) await waitFor(`the node to say ${started}`, () => started.test(proc.output()), 20_000);
    proc.kill('SIGTERM');
    assert.is(await proc.exited, 0, proc.output());
    await waitFor('its reaper gone', () => processesNaming('reaper-main.ts', dataDir, `\0${proc.pid}`).length === 0, 10_000);
    return proc;
  };
  // Nothing listens on this port: the node waits in its connect.
  const unreachable = `nats://127.0.0.1:${await freePort()}`;
  await killNode();
  await stopEarly(unreachable, ['--keep-pods']);
  assert.ok(isAlive(pid), '--keep-pods kept it, and the reaper stood down');
  const early = await stopEarly(unreachable);
  assert.not.ok(isAlive(pid), 'stopped');
  assert.match(early.output(), /stopped before the kubelet ran: stopped the containers of the last run/);
  // Connected, but no apiserver answers: the kubelet runs, and has listed no pod yet.
  ctx.node = await startNode(ctx.nats.url, 'node-r', { dataDir });
  pid = await runningPid(pid);
  await killNode();
  const bare = await startNats();
  try {
    await stopEarly(bare.url, [], /joining the gossip group/);
  } finally {
    await bare.stop();
  }
  assert.not.ok(isAlive(pid), 'stopped with the node, though no pod listing had claimed it');
  ctx.node = await startNode(ctx.nats.url, 'node-r', { dataDir });
  await client.delete('pods', p.metadata.name!, 'default');
  await waitFor('deleted', () => gone(client, p), 10_000);
});

adopt('a node killed and never started again has its containers killed after the orphan grace; one started within it keeps them', async (ctx) => {
  const { client } = ctx;
  const env = { SKIFF_NODE_ORPHAN_GRACE_MS: '3000' };
  let node = await startNode(ctx.nats.url, 'node-g', { env });
  const reaperLog = join(node.dataDir, 'reaper.log');
  const reaperSaid = () => (existsSync(reaperLog) ? readFileSync(reaperLog, 'utf8') : '');
  const p = await client.create(pod('node-g', [sh('c', 'exec sleep 1000')]));
  const x = await waitFor('running', async () => { const y = await current(client, p); return cs(y)?.state.running ? y : undefined; });
  const pid = cs(x)!.pid!;
  // Killed and started again within the grace: the old node's reaper finds the directory claimed.
  node.proc.kill('SIGKILL');
  await node.proc.exited;
  node = await startNode(ctx.nats.url, 'node-g', { dataDir: node.dataDir, env });
  await waitFor('the first reaper done', () => reaperSaid().includes('nothing to reap'), 15_000);
  assert.ok(isAlive(pid), 'the re-adopted container still runs');
  // A second node on the same directory is refused while this one runs.
  const twin = spawnProc(process.execPath, ['--import', 'tsx', 'actors/node/main.ts', '--name', 'node-g'], { env: { SKIFF_NATS_URL: ctx.nats.url, PORT: '0', SKIFF_NODE_DATA_DIR: node.dataDir } });
  assert.is(await twin.exited, 2);
  assert.match(twin.output(), /data directory .* is in use by another node process \(pid \d+\)/);
  // Killed for good: nothing claims the directory, and after the grace its containers are killed.
  node.proc.kill('SIGKILL');
  await node.proc.exited;
  assert.ok(isAlive(pid), 'not before the grace');
  await waitFor('the container killed by the reaper', () => !isAlive(pid), 15_000);
  // The reaper says so once its kills are done, a moment after the container is gone.
  await waitFor('the reaper to report', () => /the kubelet did not come back: killed its containers/.test(reaperSaid()), 5000).catch(() => {});
  assert.match(reaperSaid(), /the kubelet did not come back: killed its containers/);
  await client.delete('pods', p.metadata.name!, 'default', { gracePeriodSeconds: 0 });
});

adopt.run();
