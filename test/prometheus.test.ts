// Prometheus end to end, with the real `prometheus` binary and infra/prometheus.yml (its discovery
// pointed at this cluster's master): every skiff process and every annotated pod is found and
// scraped (up == 1); the objects' state matches the cluster; a pod that burns CPU shows it; a
// deleted pod's target goes away. And every endpoint passes promtool's check of its metric names.
// In CI a missing prometheus fails this test: infra/bootstrap.sh installs it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Deployment, Pod } from '../protocol/types.ts';
import { ApiClient } from '../actors/client/client.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { programArgs } from '../actors/platform/entry.ts';
import { freePorts, healthy, requireProgram, ROOT, setup, skiff, spawnProc, startMaster, startNode, stopCluster, tempDir, waitFor, type Cluster, type Proc } from './harness.ts';

interface Ctx extends Omit<Partial<Cluster>, 'nats'> {
  /** The Procfile's nats process (infra/nats.ts), with its /metrics on natsPort. */
  natsProc?: Proc;
  url: string;
  natsPort: number;
  prometheus?: Proc;
  promPort: number;
  masterPort: number;
}
const s = suite<Ctx>('prometheus');

const app = (name: string, replicas: number, command: string[], annotations: Record<string, string>): Deployment => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name }, annotations },
      spec: { containers: [{ name, command, ports: [{ name: 'http', containerPort: 8080 }] }], terminationGracePeriodSeconds: 1 },
    },
  },
} as Deployment);

// Serves a metric of its own at /metrics on its allocated PORT.
const exporter = ['node', '-e', "require('http').createServer((q,s)=>s.end(q.url==='/metrics'?'# TYPE app_hits_total counter\\napp_hits_total 7\\n':'hi\\n')).listen(process.env.PORT)"];
// Burns CPU (a busy loop half the time) and serves nothing to scrape.
const burner = ['node', '-e', 'setInterval(()=>{const t=Date.now();while(Date.now()-t<50);},100)'];

async function query(port: number, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await res.json() as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
  return body.data!.result;
}

s.before(setup(async (ctx) => {
  const bin = requireProgram('prometheus');
  const [masterPort, promPort, natsPort, clientPort, monitorPort] = await freePorts(5);
  Object.assign(ctx, { masterPort, promPort, natsPort });
  // The Procfile's nats process, as skiff up runs it: nats-server, with /metrics of its own.
  ctx.natsProc = spawnProc(process.execPath, programArgs('infra/nats', false), {
    env: { PORT: String(natsPort), SKIFF_NATS_PORT: String(clientPort), SKIFF_NATS_MONITOR_PORT: String(monitorPort), SKIFF_NATS_STORE: tempDir('skiff-promnats-') },
  });
  await waitFor('the nats process', () => healthy(natsPort), 15_000);
  ctx.url = `nats://127.0.0.1:${clientPort}`;
  // The master, with the processes skiff up would name in SKIFF_SD_TARGETS.
  ctx.masters = [await startMaster(ctx.url, { SKIFF_NODE_NAME: 'master-1', PORT: String(masterPort), SKIFF_SD_TARGETS: `nats-1@127.0.0.1:${natsPort},master-1@127.0.0.1:${masterPort}` })];
  ctx.nodes = [await startNode(ctx.url, 'node-1')];
  ctx.client = new ApiClient(await connectNats({ url: ctx.url, name: 'test', persistent: true }), { timeoutMs: 5000, waitForApiserver: true });
  await ctx.client!.create(app('web', 2, exporter, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'http' }));
  await ctx.client!.create(app('burn', 1, burner, {}));
  // infra/prometheus.yml as it stands, its discovery pointed at this master, scraping each second.
  const dir = tempDir('skiff-prom-');
  const config = readFileSync(join(ROOT, 'infra/prometheus.yml'), 'utf8')
    .replace(/http:\/\/127\.0\.0\.1:5100\/sd/, `http://127.0.0.1:${masterPort}/sd`)
    .replace(/\n\s+- url: http:\/\/127\.0\.0\.1:510[12]\/sd\n\s+refresh_interval: 5s/g, '')
    .replace(/refresh_interval: 5s/g, 'refresh_interval: 1s')
    .replace(/scrape_interval: 5s/, 'scrape_interval: 1s')
    .replace(/scrape_timeout: 4s/, 'scrape_timeout: 900ms')
    .replace(/- prometheus\/rules\.yml/, `- ${join(ROOT, 'infra/prometheus/rules.yml')}`);
  writeFileSync(join(dir, 'prometheus.yml'), config);
  ctx.prometheus = spawnProc(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`]);
  await waitFor('prometheus ready', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok;
    } catch {
      return false;
    }
  }, 30_000).catch((err) => { throw new Error(`${(err as Error).message}\n${ctx.prometheus!.output().slice(-2000)}`); });
}));

s.after(async (ctx) => {
  await ctx.prometheus?.stop();
  await stopCluster(ctx);
  await ctx.natsProc?.stop();
});

s('every skiff process and every annotated pod is discovered and scraped: up == 1', async (ctx) => {
  const want = (pods: Pod[]) => ['nats-1', 'master-1', 'node-1', ...pods.map((p) => p.metadata.name!)];
  let up: string[] = [];
  await waitFor('every target up', async () => {
    const pods = (await ctx.client!.list<Pod>('pods', { labelSelector: 'app=web' })).items.filter((p) => p.status?.phase === 'Running');
    if (pods.length < 2) return false;
    up = (await query(ctx.promPort, 'up == 1')).map((r) => r.metric.pod ?? r.metric.instance);
    return want(pods).every((t) => up.includes(t));
  }, 40_000).catch(() => { throw new Error(`up == 1 for: ${up.join(', ')}`); });
  const pods = await query(ctx.promPort, 'up{job="pods"}');
  for (const p of pods) {
    assert.is(p.metric.namespace, 'default');
    assert.is(p.metric.deployment, 'web', 'the owner labelled');
    assert.is(p.metric.node, 'node-1');
  }
  assert.ok((await query(ctx.promPort, 'app_hits_total')).length >= 2, "the pods' own metrics are scraped");
});

s("the objects' state matches the cluster", async (ctx) => {
  await waitFor('both deployments available', async () => {
    const r = await query(ctx.promPort, 'sum(kube_deployment_status_replicas_available)');
    return Number(r[0]?.value[1]) === 3;
  }, 30_000);
  const running = await query(ctx.promPort, 'sum(kube_pod_status_phase{phase="Running"})');
  assert.is(Number(running[0].value[1]), (await ctx.client!.list<Pod>('pods')).items.filter((p) => p.status?.phase === 'Running').length);
  const ready = await query(ctx.promPort, 'kube_node_status_condition{node="node-1",condition="Ready",status="true"}');
  assert.is(Number(ready[0]?.value[1]), 1);
});

s('container_cpu_usage_seconds_total rises for a pod that burns CPU', async (ctx) => {
  let rate = 0;
  await waitFor('CPU use seen', async () => {
    const r = await query(ctx.promPort, 'sum(rate(container_cpu_usage_seconds_total{pod=~"burn-.*"}[5s]))');
    rate = Number(r[0]?.value[1] ?? 0);
    return rate > 0.1;
  }, 30_000).catch(() => { throw new Error(`rate of the burner's CPU: ${rate}`); });
  const idle = await query(ctx.promPort, 'sum(rate(container_cpu_usage_seconds_total{pod=~"web-.*"}[5s]))');
  assert.ok(Number(idle[0]?.value[1] ?? 0) < rate, 'the idle pods use less');
  const mem = await query(ctx.promPort, 'container_memory_working_set_bytes{pod=~"burn-.*"}');
  assert.ok(Number(mem[0]?.value[1]) > 1e6, 'its memory too');
});

s('skiff top: a pod burning CPU shows what ps shows, within 20%; the nodes are listed', async (ctx) => {
  const burn = (await ctx.client!.list<Pod>('pods', { labelSelector: 'app=burn' })).items[0];
  const pid = burn.status?.containerStatuses?.[0]?.pid;
  assert.ok(pid, 'the burner runs');
  const pgid = execFileSync('ps', ['-o', 'pgid=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  // ps's %CPU is over the process's life; the burner is steady, so it is its rate too.
  const psCores = () => execFileSync('ps', ['-o', 'pcpu=', '-g', pgid], { encoding: 'utf8' }).split('\n').filter(Boolean).reduce((n, l) => n + Number(l), 0) / 100;
  let topCores = NaN;
  let ps = NaN;
  await waitFor('skiff top within 20% of ps', async () => {
    const r = await skiff(['top', 'pods', '--sort-by', 'cpu'], { url: ctx.url, via: 'sources' });
    const line = r.stdout.split('\n').find((l) => l.startsWith(burn.metadata.name!));
    topCores = Number(/\s(\d+)m\s/.exec(line ?? '')?.[1]) / 1000;
    ps = psCores();
    return Math.abs(topCores - ps) <= 0.2 * ps;
  }, 30_000, 1000).catch(() => { throw new Error(`skiff top ${topCores} cores, ps ${ps}`); });
  console.log(`  skiff top: ${topCores.toFixed(3)} cores; ps: ${ps.toFixed(3)}`);
  const nodes = await skiff(['top', 'nodes'], { url: ctx.url, via: 'sources' });
  assert.is(nodes.code, 0, nodes.stderr);
  assert.match(nodes.stdout, /^NAME\s+CPU\(cores\)\s+CPU%\s+MEMORY\(bytes\)\s+MEMORY%/);
  assert.match(nodes.stdout, /\nnode-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/);
  const all = await skiff(['top', 'pods', '-A', '--containers'], { url: ctx.url, via: 'sources' });
  assert.match(all.stdout, /^NAMESPACE\s+POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
  assert.match(all.stdout, /\ndefault\s+burn-\S+\s+burn\s+\d+m/);
});

s('a deleted pod stops being a target', async (ctx) => {
  const victim = (await ctx.client!.list<Pod>('pods', { labelSelector: 'app=web' })).items[0].metadata.name!;
  await ctx.client!.delete('pods', victim, 'default');
  await waitFor('its target gone', async () => {
    const res = await (await fetch(`http://127.0.0.1:${ctx.promPort}/api/v1/targets?state=active`)).json() as { data: { activeTargets: { labels: Record<string, string> }[] } };
    return !res.data.activeTargets.some((t) => t.labels.pod === victim);
  }, 30_000);
});

s('promtool check metrics: no problem with a skiff_, kube_ or container_ name on any endpoint', async (ctx) => {
  const promtool = requireProgram('promtool');
  assert.ok(await healthy(ctx.masterPort));
  for (const port of [ctx.natsPort, ctx.masterPort, ctx.nodes![0].port]) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /skiff_|kube_|container_|node_cpu|node_memory/.test(l));
    assert.equal(problems, [], `port ${port}`);
  }
  const rules = execFileSync(promtool, ['check', 'rules', join(ROOT, 'infra/prometheus/rules.yml')], { encoding: 'utf8' });
  assert.match(rules, /SUCCESS/);
});

s.run();
