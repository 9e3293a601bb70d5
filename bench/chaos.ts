// Node failures on the local Procfile cluster (skiff up: nats, 2 masters, 5 nodes) with 20
// replicas behind a service: SIGKILL a node many times and time how long until every member
// declares it dead and until its pods run elsewhere; SIGSTOP a node for 1 s; load both cores for
// two minutes. Writes bench/results/node-failures.json.
// Usage: tsx bench/chaos.ts [--kills 12] [--stops 5] [--load-seconds 120]
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Deployment, Event, Node, Pod, Service } from '../protocol/types.ts';
import { groupsStillAlive } from '../actors/platform/procfs.ts';
import { readStateFile } from '../cli/up/groups.ts';
import { ensureDist } from '../infra/build.ts';
import { freePort, recordGossipChanges, spawnProc, startUp, waitFor, type SeenChange } from '../test/harness.ts';
import { progress, quantile, writeResult } from './stats.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '12' }, stops: { type: 'string', default: '5' }, 'load-seconds': { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: tsx bench/chaos.ts [--kills N] [--stops N] [--load-seconds S]');
  process.exit(0);
}
const KILLS = Number(values.kills);
const STOPS = Number(values.stops);
const LOAD_SECONDS = Number(values['load-seconds']);
const NODES = 5;
const MEMBERS = NODES + 2;
/** A killed node that nobody has declared dead this long after, and that everyone sees alive, came back first. */
const RESTARTED_FIRST_MS = 5000;
const REPLICAS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (xs: number[]) => ({ samples: xs.length, p50Ms: quantile(xs, 0.5), p99Ms: quantile(xs, 0.99), maxMs: Math.max(...xs) });

// The repository's Procfile, with absolute paths, in a directory of its own: its own ports, its
// own .skiff, nothing shared with a cluster the user may be running. Its lines run dist/.
progress('building dist/ unless it is current');
await ensureDist();
progress(`starting skiff up -m master=2,node=${NODES}`);
const cluster = await startUp(`master=2,node=${NODES},prometheus=0`, NODES);
const { dir, up, client } = cluster;
let finished = false;
void up.exited.then((code) => {
  if (finished) return;
  process.stderr.write(`bench: skiff up exited (${code}) before the benchmark was done:\n${up.output().slice(-3000)}\n`);
  process.exit(1);
});
const nc = client.nc;
const { changes } = recordGossipChanges(nc);

/** The live process group `skiff up` started for an instance (node.3), from its state file. */
function groupOf(instance: string): number {
  const stateDir = join(dir, '.skiff', 'up');
  for (const f of readdirSync(stateDir).filter((x) => x.endsWith('.json'))) {
    // A restarted instance has a new group; the file may still list the old one.
    const live = groupsStillAlive(readStateFile(join(stateDir, f)).groups.filter((g) => g.name === instance));
    if (live.length) return live[live.length - 1].pgid;
  }
  throw new Error(`no live process group for ${instance}`);
}

const pods = async () => (await client.list<Pod>('pods', { labelSelector: 'app=chaos', namespace: 'chaos' })).items;
const live = (ps: Pod[]) => ps.filter((p) => !p.metadata.deletionTimestamp);
const runningPods = (ps: Pod[]) => live(ps).filter((p) => p.status?.phase === 'Running');
const readyNodes = async () => (await client.list<Node>('nodes')).items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !(n.spec?.taints ?? []).length).length;
/** Each observer's latest word on each member (`observer/member`), of the changes that pass `keep`. */
const latestWords = (keep: (c: SeenChange) => boolean = () => true) => {
  const latest = new Map<string, string>();
  for (const c of changes) if (keep(c)) latest.set(`${c.observer}/${c.member}`, c.state);
  return latest;
};
const allAlive = () => [...latestWords().values()].every((s) => s === 'alive');

async function steady(what: string): Promise<void> {
  await waitFor(`${what}: ${NODES} Ready nodes, ${REPLICAS} Running, every member alive`, async () =>
    (await readyNodes()) === NODES && runningPods(await pods()).length === REPLICAS && allAlive(), 60_000, 200).catch(async (err) => {
    const notAlive = [...latestWords()].filter(([, st]) => st !== 'alive').map(([k, st]) => `${k}=${st}`);
    throw new Error(`${(err as Error).message}: ${await readyNodes()} Ready, ${runningPods(await pods()).length} Running, not alive: ${notAlive.join(' ') || 'none'}`);
  });
}

try {
  await waitFor(`${NODES} Ready nodes`, async () => (await readyNodes().catch(() => 0)) === NODES, 60_000, 250);
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'chaos' } });
  await client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'chaos' }, spec: { selector: { app: 'chaos' }, ports: [{ port: await freePort(), targetPort: 'http' }] } });
  await client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'chaos' },
    spec: {
      replicas: REPLICAS, selector: { matchLabels: { app: 'chaos' } },
      template: { metadata: { labels: { app: 'chaos' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{
        name: 'web', command: ['node', '-e', "require('http').createServer((q, s) => s.end(process.env.HOSTNAME)).listen(process.env.PORT)"],
        ports: [{ name: 'http', containerPort: 8080 }],
      }] } },
    },
  });
  await steady('deployed');
  progress(`${REPLICAS} replicas running on ${NODES} nodes`);

  // ---- SIGKILL ----------------------------------------------------------------------------
  const perMember: number[] = [];
  const everyMember: number[] = [];
  const replaced: number[] = [];
  const allReplaced: number[] = [];
  let restartedFirst = 0;
  /** skiff up has started the instance again: it has a live group other than the one killed. */
  const restarted = (instance: string, killed: number) => {
    try {
      return groupOf(instance) !== killed;
    } catch {
      return false;
    }
  };
  /** Every other member's latest word on `node` since `since` is alive (or it said nothing). */
  const everyoneSeesAlive = (node: string, since: number) => [...latestWords((c) => c.member === node && c.at >= since).values()].every((state) => state === 'alive');
  for (let k = 0; k < KILLS; k++) {
    const node = `node-${(k % NODES) + 1}`;
    const before = await pods();
    const existing = new Set(before.map((p) => p.metadata.uid!));
    const victimPods = live(before).filter((p) => p.spec.nodeName === node).map((p) => p.metadata.uid!);
    const at = Date.now();
    const instance = `node.${(k % NODES) + 1}`;
    const group = groupOf(instance);
    const members = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(group)], { encoding: 'utf8' }).trim();
    process.kill(-group, 'SIGKILL');
    const seenAt = new Map<string, number>();
    const podRunningAt = new Map<string, number>();
    const outcome = await waitFor(`kill ${k + 1}: ${node} dead everywhere and its pods replaced`, async () => {
      for (const c of changes) if (c.member === node && c.state === 'dead' && c.at >= at && !seenAt.has(c.observer)) seenAt.set(c.observer, c.at);
      const now = Date.now();
      for (const p of runningPods(await pods())) {
        if (!existing.has(p.metadata.uid!) && !podRunningAt.has(p.metadata.uid!)) {
          podRunningAt.set(p.metadata.uid!, now);
        }
      }
      if (seenAt.size === 0 && now - at > RESTARTED_FIRST_MS && everyoneSeesAlive(node, at) && restarted(instance, group)) return 'restarted first';
      return seenAt.size >= MEMBERS - 1 && podRunningAt.size >= victimPods.length;
    }, 30_000, 20).catch((err) => {
      throw new Error(`${(err as Error).message} (process group ${group}): ${seenAt.size} of ${MEMBERS - 1} members declared it dead (${[...seenAt.keys()].join(', ')}); ${podRunningAt.size} of ${victimPods.length} replacements Running\ngroup was:\n${members}\n${up.output().split('\n').filter((l) => /node\.|up  /.test(l)).slice(-40).join('\n')}`);
    });
    if (outcome === 'restarted first') {
      // skiff up restarted the node (after 1 s) before anyone could tell it was gone: it refuted
      // the suspicion and re-adopted its pods, so there was nothing to fail over. Not a sample.
      restartedFirst++;
      progress(`kill ${k + 1}/${KILLS} ${node}: restarted and refuted before anyone declared it dead (not counted)`);
      await steady(`after kill ${k + 1}`);
      continue;
    }
    const declared = [...seenAt.values()].map((t) => t - at);
    const runs = [...podRunningAt.values()].map((t) => t - at);
    perMember.push(...declared);
    everyMember.push(Math.max(...declared));
    replaced.push(...runs);
    allReplaced.push(Math.max(...runs));
    progress(`kill ${k + 1}/${KILLS} ${node} (${victimPods.length} pods): first declared dead ${Math.min(...declared)} ms, by all ${Math.max(...declared)} ms; replacements Running by ${Math.max(...runs)} ms`);
    await steady(`after kill ${k + 1}`);
  }

  // ---- SIGSTOP 1 s ------------------------------------------------------------------------
  const stopResults = [];
  for (let i = 0; i < STOPS; i++) {
    const node = `node-${(i % NODES) + 1}`;
    const before = live(await pods()).filter((p) => p.spec.nodeName === node).map((p) => p.metadata.uid).sort();
    const at = Date.now();
    const group = groupOf(`node.${(i % NODES) + 1}`);
    process.kill(-group, 'SIGSTOP');
    await sleep(1000);
    process.kill(-group, 'SIGCONT');
    await sleep(6000);
    const suspected = new Set(changes.filter((c) => c.member === node && c.state === 'suspect' && c.at >= at).map((c) => c.observer)).size;
    const dead = changes.filter((c) => c.member === node && c.state === 'dead' && c.at >= at).length;
    const after = live(await pods()).filter((p) => p.spec.nodeName === node).map((p) => p.metadata.uid).sort();
    const evicted = before.filter((u) => !after.includes(u)).length;
    stopResults.push({ node, suspectedBy: suspected, declaredDead: dead, podsEvicted: evicted });
    progress(`SIGSTOP 1 s ${i + 1}/${STOPS} ${node}: suspected by ${suspected}, declared dead ${dead} times, ${evicted} pods evicted`);
    await steady(`after stop ${i + 1}`);
  }

  // ---- both cores busy --------------------------------------------------------------------
  progress(`loading both cores for ${LOAD_SECONDS} s`);
  const loadAt = Date.now();
  const before = live(await pods()).map((p) => p.metadata.uid).sort();
  const burners = [0, 1].map(() => spawnProc('/bin/sh', ['-c', 'while :; do :; done']));
  try {
    await sleep(LOAD_SECONDS * 1000);
  } finally {
    for (const b of burners) await b.stop(1000);
  }
  await sleep(3000);
  const loadChanges = changes.filter((c) => c.at >= loadAt);
  const evictions = (await client.list<Event>('events', { namespace: 'chaos' })).items.filter((e) => e.reason === 'TaintManagerEviction' && Date.parse(e.lastTimestamp ?? '') >= loadAt).length;
  const after = live(await pods()).map((p) => p.metadata.uid).sort();
  const load = {
    seconds: LOAD_SECONDS,
    suspicions: loadChanges.filter((c) => c.state === 'suspect').length,
    declaredDead: loadChanges.filter((c) => c.state === 'dead').length,
    evictions,
    podsChanged: before.filter((u) => !after.includes(u)).length,
  };
  progress(`load: ${load.suspicions} suspicions, ${load.declaredDead} dead declarations, ${load.evictions} evictions, ${load.podsChanged} pods changed`);

  const result = {
    cluster: { masters: 2, nodes: NODES, replicas: REPLICAS },
    kill: {
      kills: KILLS,
      /** Kills after which the node was back before anyone declared it dead; not in the figures. */
      restartedBeforeDeclaredDead: restartedFirst,
      declaredDeadPerMember: stats(perMember),
      declaredDeadByEveryMember: stats(everyMember),
      replacementPodRunning: stats(replaced),
      allReplacementsRunning: stats(allReplaced),
    },
    sigstop1s: stopResults,
    cpuLoad: load,
    targets: { everyMemberDeclaresDeadP50Ms: 1500, replacementRunningP99Ms: 3000 },
  };
  console.log(JSON.stringify(result, null, 2));
  writeResult('node-failures', result);
} finally {
  finished = true;
  await cluster.stop();
}
