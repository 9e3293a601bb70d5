// "A bad day" (infra/chaos/bad-day.yaml) against skiff up -m nats=3,master=2,node=3 running the
// README's hello app: for --duration (10 minutes by default), nodes killed and paused, pods killed,
// the leader and nats-servers killed, nodes' links to NATS slowed, made lossy and cut, both cores
// burnt, at seeded-random times, while the hello service is probed
// ten times a second, each fault's recovery timed and the store checked by the consistency
// clients. Then the cluster is stopped and every process it had is looked for.
// Targets (issue 20): service success ≥ 99.9%; every recovery within its maximum (20 s); the
// consistency check passes; 0 orphaned processes at the end.
// Writes bench/results/chaos.json (npm run chaos).
// Usage: tsx bench/bad-day.ts [--duration 10m]
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listPids, processCommandLine, processStat } from '../actors/platform/procfs.ts';
import type { RunResult } from '../cli/chaos/run.ts';
import { readStateFile } from '../cli/up/groups.ts';
import { ensureDist } from '../infra/build.ts';
import { ROOT, skiff, startHello, startUp } from '../test/harness.ts';
import { progress, writeResult } from './stats.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10m' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/bad-day.ts [--duration 10m]   (npm run chaos)');
  process.exit(0);
}

/**
 * What the cluster left running: processes in a group skiff up recorded, or whose command line,
 * working directory or environment is in the cluster's directory (a pod runs in its node's data
 * directory, and its shim names its exit file there). Only looked for, never signalled.
 */
function survivors(pgids: Set<number>, dir: string): number[] {
  return listPids().filter((pid) => {
    const s = processStat(pid);
    if (!s || s.state === 'Z' || pid === process.pid) return false;
    if (pgids.has(s.pgrp)) return true;
    if (processCommandLine(pid)?.includes(dir)) return true;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) return true;
      return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
}

progress('building dist/ unless it is current');
await ensureDist();
progress('starting skiff up -m nats=3,master=2,node=3 and the hello app');
const cluster = await startUp('nats=3,master=2,node=3,prometheus=0', 3);
let result: RunResult | undefined;
let stderr = '';
const groups = new Set<number>();
try {
  await startHello(cluster.client);
  progress(`a bad day of ${values.duration}`);
  const r = await skiff(['chaos', 'run', join(ROOT, 'infra/chaos/bad-day.yaml'), '-o', 'json', '--dir', cluster.dir, '--duration', values.duration!, '--report', join(ROOT, 'bench/results/chaos.html')], { url: cluster.url, timeoutMs: 60 * 60_000 });
  stderr = r.stderr;
  result = JSON.parse(r.stdout) as RunResult;
  // Every group skiff up recorded, over the whole run (restarts made new ones); the cloud's nodes are found by their directory.
  for (const g of readStateFile(join(cluster.dir, '.skiff', 'up', `${cluster.up.pid}.json`)).groups) groups.add(g.pgid);
} finally {
  await cluster.stop();
}
await new Promise((r) => setTimeout(r, 3000));
const left = survivors(groups, cluster.dir);
if (!result) {
  console.error(stderr);
  process.exit(1);
}
const service = result.probes.find((p) => p.name === 'hello-service-during')!;
const recovery = result.probes.find((p) => p.name === 'hello-recovered')!;
const targets = {
  serviceAtLeast99_9: service.successPercent >= 99.9,
  everyRecoveryWithinMax: (recovery.recoveriesMs ?? []).every((ms) => ms !== undefined && ms <= (recovery.withinMs ?? 0)),
  consistencyPasses: result.consistency?.ok ?? false,
  noOrphans: left.length === 0,
};
console.log(`\nbad day (${values.duration}): ${result.verdict}, resilience score ${result.resilienceScore}`);
console.log(`faults: ${result.faults.length} (${[...new Set(result.faults.map((f) => f.action))].map((a) => `${result!.faults.filter((f) => f.action === a).length} ${a}`).join(', ')})`);
console.log(`service: ${service.successPercent}% of ${service.checks} checks`);
console.log(`recoveries (ms), in the faults' order: ${(recovery.recoveriesMs ?? []).join(', ')} (max ${recovery.withinMs})`);
// Each fault's recovery, by kind: which faults took a replica away, and how long it was gone.
const byAction = new Map<string, (number | undefined)[]>();
result.faults.forEach((f, i) => byAction.set(f.action, [...(byAction.get(f.action) ?? []), recovery.recoveriesMs?.[i] ?? undefined]));
const recoveryByAction = Object.fromEntries([...byAction].map(([action, ms]) => {
  const took = ms.filter((x): x is number => x !== undefined && x > 0);
  return [action, { faults: ms.length, tookAReplica: took.length, minMs: took.length ? Math.min(...took) : null, maxMs: took.length ? Math.max(...took) : null, never: ms.filter((x) => x === undefined).length }];
}));
for (const [action, r] of Object.entries(recoveryByAction)) console.log(`  ${action}: ${r.faults} fault(s), ${r.tookAReplica} took a replica away${r.tookAReplica ? `, back in ${r.minMs}-${r.maxMs} ms` : ''}${r.never ? `, ${r.never} never recovered` : ''}`);
console.log(`store: ${result.consistency?.operations} operations, ${result.consistency?.ok ? 'linearizable, nothing lost' : result.consistency?.problems.join('; ')}`);
console.log(`processes left after the stop: ${left.length}`);
console.log(`targets: ${Object.entries(targets).map(([k, v]) => `${k} ${v ? 'met' : 'MISSED'}`).join(', ')}`);
writeResult('chaos', { duration: values.duration, verdict: result.verdict, resilienceScore: result.resilienceScore, failed: result.failed, service, recovery, consistency: result.consistency && { ok: result.consistency.ok, operations: result.consistency.operations, problems: result.consistency.problems }, faults: result.faults, recoveryByAction, orphans: left, targets });
