// skiff chaos end to end, against `skiff up -m nats=3,master=2,node=3` running the README's hello
// app: the node-kill experiment passes (the service above 99%, recovery within its 10 s, the store
// linearizable with nothing lost); a partition of a node from the control plane passes, with no
// member but the cut-off node declared dead; the short forms of the other examples run (leader-kill and
// nats-kill pass; node-pause and bad-day are held to their recoveries and store); a probe that cannot
// hold fails the run with exit code 1 and is named; with the hello app deleted, node-kill fails at
// its steady-state check and injects nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDist } from '../infra/build.ts';
import type { Deployment, Node } from '../protocol/types.ts';
import type { RunResult } from '../cli/chaos/run.ts';
import { ROOT, setup, skiff, startHello, startUp, tempDir, waitFor, type UpCluster } from './harness.ts';

const s = suite<{ up: UpCluster }>('skiff chaos');

s.before(setup(async (ctx) => {
  await ensureDist();
  ctx.up = await startUp('nats=3,master=2,node=3,prometheus=0', 3);
  await startHello(ctx.up.client);
}));

s.after(async (ctx) => {
  await ctx.up?.stop();
});

async function chaos(ctx: { up: UpCluster }, file: string, ...args: string[]): Promise<{ code: number | null; result?: RunResult; stderr: string }> {
  const r = await skiff(['chaos', 'run', file, '-o', 'json', '--dir', ctx.up.dir, ...args], { url: ctx.up.url, timeoutMs: 180_000 });
  let result: RunResult | undefined;
  try {
    result = JSON.parse(r.stdout) as RunResult;
  } catch {
    // reported below
  }
  return { code: r.code, result, stderr: r.stderr };
}

const during = (r: RunResult, name: string) => r.probes.find((p) => p.name === name && p.phase === 'during')!;

s('node-kill passes: the service answers above 99% while a node is killed, hello is back within 10 s, the store stays linearizable', async (ctx) => {
  const { code, result, stderr } = await chaos(ctx, join(ROOT, 'infra/chaos/node-kill.yaml'));
  assert.ok(result, stderr);
  console.log(`  node-kill: ${result.verdict}, service ${during(result, 'hello-service-during').successPercent}%, recovered in ${during(result, 'hello-recovered').recoveriesMs} ms, ${during(result, 'store').checks} store operations`);
  assert.is(result.verdict, 'Pass', result.failed.join('\n'));
  assert.is(code, 0);
  assert.is(result.resilienceScore, 100);
  assert.ok(during(result, 'hello-service-during').successPercent > 99);
  assert.ok(during(result, 'hello-recovered').recoveriesMs!.every((ms) => ms !== undefined && ms <= 10_000));
  assert.ok(result.consistency?.ok, result.consistency?.problems.join('\n'));
  assert.is(result.faults.length, 1);
  assert.match(result.faults[0].targets[0], /^node-\d$/);
});

s('a partition from the control plane: the service holds, the pod runs elsewhere, no member that kept its link is declared dead, and the node comes back', async (ctx) => {
  const logFrom = ctx.up.up.output().length;
  // The fault lasts 15 s; the short form's rollback heals the link when the method ends, at 14 s.
  const { code, result, stderr } = await chaos(ctx, join(ROOT, 'infra/chaos/partition.yaml'), '--duration', '14s');
  assert.ok(result, stderr);
  const cut = result.faults[0]?.targets[0];
  console.log(`  partition (14s): ${result.verdict}, ${cut} cut off, service ${during(result, 'hello-service-during').successPercent}%, recovered in ${during(result, 'hello-recovered').recoveriesMs} ms`);
  assert.is(result.verdict, 'Pass', result.failed.join('\n'));
  assert.is(code, 0);
  assert.match(cut ?? '', /^node-\d$/);
  const log = ctx.up.up.output().slice(logFrom);
  const declaredDead = [...log.matchAll(/msg="member is dead" member=(\S+)/g)].map((m) => m[1]);
  assert.ok(declaredDead.includes(cut!), 'the cut-off node was declared dead by the rest');
  assert.equal([...new Set(declaredDead)], [cut], `only the cut-off node was declared dead: ${declaredDead.join(', ')}`);
  assert.match(log, new RegExp(`node=${cut} actor=membership msg="NATS link down`), 'the cut-off node knew its link was down, and accused no one');
  await waitFor(`${cut} Ready again`, async () => (await ctx.up.client.get<Node>('nodes', cut!)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true, 30_000, 250);
  await waitFor('3 hello replicas available again', async () => (await ctx.up.client.get<Deployment>('deployments', 'hello', 'demo')).status?.availableReplicas === 3, 30_000, 250);
});

s('the short forms of the other examples run: leader kill and nats kill pass; a pause and a bad day keep their recoveries and their store', async (ctx) => {
  // A node paused while it holds the hello service's ClusterIP keeps the address, so connections
  // made meanwhile wait for it (userspace mode, one listener per ClusterIP on a host); one in 48
  // has waited past the probe's 5 s. The pause's service figure is printed, not asserted.
  const pause = await chaos(ctx, join(ROOT, 'infra/chaos/node-pause.yaml'), '--duration', '10s');
  assert.ok(pause.result, pause.stderr);
  console.log(`  node-pause (10s): ${pause.result.verdict}, service ${during(pause.result, 'hello-service-during').successPercent}%, recovered in ${during(pause.result, 'hello-recovered').recoveriesMs} ms`);
  assert.ok(during(pause.result, 'hello-recovered').recoveriesMs!.every((ms) => ms !== undefined && ms <= 15_000));
  assert.ok(pause.result.probes.filter((p) => p.phase !== 'during').every((p) => p.passed === p.checks), 'the steady state before and after');
  for (const [file, duration] of [['leader-kill', '15s'], ['nats-kill', '12s']]) {
    const { code, result, stderr } = await chaos(ctx, join(ROOT, `infra/chaos/${file}.yaml`), '--duration', duration);
    assert.ok(result, `${file}: ${stderr}`);
    console.log(`  ${file} (${duration}): ${result.verdict}, score ${result.resilienceScore}, faults ${result.faults.map((f) => `${f.action} ${f.targets.join(',')}`).join('; ')}`);
    assert.is(result.verdict, 'Pass', `${file}: ${result.failed.join('; ')}`);
    assert.is(code, 0);
  }
  // A bad day's service target (99.9%) is not held on this machine: a node paused while it holds
  // the ClusterIP leaves connections waiting until it resumes (the figures are in the README).
  // What must hold: every fault recovered from in time, and the store linearizable, nothing lost.
  const report = join(tempDir('skiff-chaos-report-'), 'bad-day.html');
  const { result, stderr } = await chaos(ctx, join(ROOT, 'infra/chaos/bad-day.yaml'), '--duration', '30s', '--report', report);
  assert.ok(result, stderr);
  console.log(`  bad-day (30s): ${result.verdict}, score ${result.resilienceScore}, service ${during(result, 'hello-service-during').successPercent}%, recoveries ${during(result, 'hello-recovered').recoveriesMs} ms`);
  assert.ok(result.faults.length >= 5, 'every kind of fault at least once');
  assert.ok(result.consistency?.ok, result.consistency?.problems.join('\n'));
  assert.ok(during(result, 'hello-recovered').recoveriesMs!.every((ms) => ms !== undefined && ms <= 20_000), `${during(result, 'hello-recovered').recoveriesMs}`);
  assert.match(readFileSync(report, 'utf8'), /<svg[^>]*aria-label="timeline"/);
});

s('a probe that cannot hold fails the run, exit code 1, naming the probe', async (ctx) => {
  const file = join(tempDir('skiff-chaos-'), 'impossible.yaml');
  writeFileSync(file, `
apiVersion: skiff.io/v1
kind: ChaosExperiment
metadata: {name: impossible}
spec:
  steadyState:
    probes:
      - name: hello-service
        http: {url: "http://127.1.0.80:8080/"}
  method: {duration: 2s}
  probes:
    - name: four-replicas
      interval: 200ms
      object: {resource: deployments, namespace: demo, name: hello, path: status.availableReplicas, equals: 4}
`);
  const { code, result, stderr } = await chaos(ctx, file);
  assert.ok(result, stderr);
  assert.is(result.verdict, 'Fail');
  assert.is(code, 1);
  assert.match(result.failed.join('\n'), /four-replicas \(during\): 0\.00% of \d+ checks passed, 100% needed; last failure: status.availableReplicas is 3, not 4/);
});

s('with the hello app deleted, node-kill fails at its steady-state check and injects nothing', async (ctx) => {
  await ctx.up.client.delete('namespaces', 'demo');
  await waitFor('the hello service gone', () => fetch('http://127.1.0.80:8080/', { signal: AbortSignal.timeout(1000) }).then(() => false, () => true), 30_000, 250);
  const { code, result, stderr } = await chaos(ctx, join(ROOT, 'infra/chaos/node-kill.yaml'));
  assert.ok(result, stderr);
  assert.is(result.verdict, 'Fail');
  assert.is(code, 1);
  assert.equal(result.faults, [], 'no fault injected');
  assert.ok(result.probes.every((p) => p.phase === 'before'));
  assert.match(result.failed.join('\n'), /hello-service \(before\)/);
});

s.run();
