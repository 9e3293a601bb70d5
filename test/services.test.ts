// Services end to end: the endpoints controller and kube-proxy on three real nodes, with a tiny
// HTTP server that answers with its pod name. The service is reached at its ClusterIP, and, as a
// NodePort service, at its node port on every node's own address.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { ApiClient } from '../actors/client/client.ts';
import type { Deployment, Endpoints, Event, Pod, Service } from '../protocol/types.ts';
import { freePort, freePorts, setup, startCluster, stopCluster, waitFor, type Cluster } from './harness.ts';

const ADDRESSES = ['127.0.1.11', '127.0.1.12', '127.0.1.13'];
// Answers with its pod name; /ready fails while a file named `unready` exists in its directory.
const SERVER = `require('http').createServer((q, s) => {
  if (q.url === '/ready') { s.statusCode = require('fs').existsSync('unready') ? 503 : 200; return s.end(); }
  s.setHeader('connection', 'close'); s.end(process.env.HOSTNAME);
}).listen(process.env.PORT); require('fs').writeFileSync('env.txt', Object.entries(process.env).map(([k, v]) => k + '=' + v).join('\\n'));`;

interface Ctx extends Cluster {
  /** The web service's port, at its ClusterIP `ip`. */
  port: number;
  ip: string;
  /** Its node port, on every node. */
  nodePort: number;
}

const s = suite<Ctx>('services');

s.before(setup(async (ctx) => {
  await startCluster(ctx, { masters: ['svc-master'], nodes: ADDRESSES.map((address, i) => ({ name: `svc-node-${i + 1}`, env: { SKIFF_NODE_ADDRESS: address } })) });
  ctx.port = await freePort();
  const web = await ctx.client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: ctx.port, targetPort: 'http' }] } });
  ctx.ip = web.spec.clusterIP!;
  ctx.nodePort = web.spec.ports[0].nodePort!;
  await ctx.client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: {
      replicas: 3, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{
        name: 'web', command: ['node', '-e', SERVER], ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
      }] } },
    },
  });
  await waitFor('3 endpoints', async () => readyAddresses(await endpoints(ctx.client)).length === 3, 30_000);
}));

s.after(stopCluster);

async function endpoints(client: ApiClient, name = 'web'): Promise<Endpoints | undefined> {
  try {
    return await client.get<Endpoints>('endpoints', name, 'default');
  } catch {
    return undefined;
  }
}
const readyAddresses = (ep: Endpoints | undefined) => (ep?.subsets ?? []).flatMap((x) => x.addresses ?? []);
const notReadyAddresses = (ep: Endpoints | undefined) => (ep?.subsets ?? []).flatMap((x) => x.notReadyAddresses ?? []);

/** One HTTP request on a new connection; the answer's body, or the error. */
async function get(host: string, port: number): Promise<string> {
  const res = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(5000), headers: { connection: 'close' } });
  return res.text();
}

async function spread(host: string, port: number, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await get(host, port);
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

const webPods = async (client: ApiClient) => (await client.list<Pod>('pods', { labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp);

/** Where the web service is served: its ClusterIP, and its node port on every node (and 127.0.0.1). */
const everywhere = ({ ip, port, nodePort }: Ctx): [string, number][] => [[ip, port], ...[...ADDRESSES, '127.0.0.1'].map((h): [string, number] => [h, nodePort])];

s('300 requests on new connections, at the ClusterIP and at each node\'s node port, reach all 3 pods evenly', async (ctx) => {
  const names = (await webPods(ctx.client)).map((p) => p.metadata.name!).sort();
  for (const [host, port] of everywhere(ctx)) {
    const counts = await spread(host, port, 300);
    assert.equal([...counts.keys()].sort(), names, `on ${host}:${port}`);
    for (const [pod, n] of counts) assert.ok(Math.abs(n - 100) <= 20, `${pod} got ${n} of 300 on ${host}:${port}`);
  }
});

s('two services on one port, with different selectors, each reach their own pods', async ({ client, port, ip }) => {
  await client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'other' }, spec: { selector: { app: 'other' }, ports: [{ name: 'http', port, targetPort: 'http' }] } });
  await client.create<Pod>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other-1', labels: { app: 'other' } },
    spec: { containers: [{ name: 'web', command: ['node', '-e', SERVER], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 } }] },
  });
  try {
    const other = await client.get<Service>('services', 'other', 'default');
    assert.is.not(other.spec.clusterIP, ip);
    await waitFor('the other service\'s endpoint', async () => readyAddresses(await endpoints(client, 'other')).length === 1, 20_000);
    await waitFor('the other service served', async () => (await get(other.spec.clusterIP!, port).catch(() => '')) === 'other-1', 10_000);
    const [mine, theirs] = await Promise.all([spread(ip, port, 30), spread(other.spec.clusterIP!, port, 30)]);
    assert.ok([...mine.keys()].every((n) => n.startsWith('web-')), `web's address: ${[...mine.keys()]}`);
    assert.equal([...theirs.keys()], ['other-1']);
  } finally {
    await client.delete('pods', 'other-1', 'default', { gracePeriodSeconds: 0 }).catch(() => {});
    await client.delete('services', 'other', 'default').catch(() => {});
  }
});

s('pods get <SVC>_SERVICE_HOST (the ClusterIP) and _PORT', async ({ client, nodes, port, ip }) => {
  const pod = (await webPods(client))[0];
  const node = nodes.find((n) => n.name === pod.spec.nodeName)!;
  const env = readFileSync(join(node.dataDir, 'pods', pod.metadata.uid!, 'root', 'env.txt'), 'utf8').split('\n');
  assert.ok(env.includes(`WEB_SERVICE_HOST=${ip}`), env.filter((l) => l.startsWith('WEB_')).join(' '));
  assert.ok(env.includes(`WEB_SERVICE_PORT=${port}`));
  assert.ok(env.includes(`WEB_SERVICE_PORT_HTTP=${port}`));
});

s('scale to 5: the spread includes the new pods', async ({ client, nodePort }) => {
  await client.patch('deployments', 'web', 'default', { spec: { replicas: 5 } });
  await waitFor('5 endpoints', async () => readyAddresses(await endpoints(client)).length === 5, 30_000);
  const counts = await spread(ADDRESSES[1], nodePort, 250);
  assert.is(counts.size, 5);
  for (const [pod, n] of counts) assert.ok(Math.abs(n - 50) <= 15, `${pod} got ${n} of 250`);
});

s('a pod that stops being ready gets no new connections', async (ctx) => {
  const { client, nodes } = ctx;
  const pod = (await webPods(client))[0];
  const node = nodes.find((n) => n.name === pod.spec.nodeName)!;
  const flag = join(node.dataDir, 'pods', pod.metadata.uid!, 'root', 'unready');
  writeFileSync(flag, '');
  try {
    await waitFor('the pod among the not-ready addresses', async () => notReadyAddresses(await endpoints(client)).some((a) => a.targetRef?.name === pod.metadata.name), 10_000);
    for (const [host, port] of everywhere(ctx)) {
      const counts = await spread(host, port, 40);
      assert.not.ok(counts.has(pod.metadata.name!), `${pod.metadata.name} still got ${counts.get(pod.metadata.name!)} on ${host}:${port}`);
    }
  } finally {
    rmSync(flag, { force: true });
  }
  await waitFor('ready again', async () => readyAddresses(await endpoints(client)).some((a) => a.targetRef?.name === pod.metadata.name), 10_000);
});

s('killing a pod\'s process fails no request: the proxy tries the next endpoint', async (ctx) => {
  const { client } = ctx;
  const places = everywhere(ctx);
  const victim = (await webPods(client))[0];
  const pid = victim.status!.containerStatuses![0].pid!;
  let failed = 0;
  let done = 0;
  const load = (async () => {
    for (let i = 0; i < 300; i++) {
      try {
        await get(...places[i % places.length]);
      } catch {
        failed++;
      }
      done++;
    }
  })();
  await waitFor('some requests', () => done > 50);
  process.kill(-pid, 'SIGKILL');
  await load;
  assert.is(failed, 0, `${failed} of 300 requests failed`);
});

s('sessionAffinity ClientIP keeps a client on one pod; NodePort serves on every node', async ({ client }) => {
  await client.create<Service>({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'sticky' },
    spec: { selector: { app: 'web' }, sessionAffinity: 'ClientIP', type: 'NodePort', ports: [{ port: await freePort(), targetPort: 'http' }] },
  });
  const svc = await waitFor('node port assigned', async () => {
    const x = await client.get<Service>('services', 'sticky', 'default');
    return x.spec.ports[0].nodePort ? x : undefined;
  });
  const nodePort = svc.spec.ports[0].nodePort!;
  assert.ok(nodePort >= 30000 && nodePort <= 32767, `node port ${nodePort} in range`);
  await waitFor('endpoints for sticky', async () => readyAddresses(await endpoints(client, 'sticky')).length >= 3, 10_000);
  // Each node's kube-proxy learns the Endpoints from its own watch, a moment after the apiserver has them.
  const serves = (host: string, port: number) => get(host, port).then((t) => t.startsWith('web-'), () => false);
  await waitFor('its ClusterIP and every node to serve it', async () => (await Promise.all([serves(svc.spec.clusterIP!, svc.spec.ports[0].port), ...ADDRESSES.map((h) => serves(h, nodePort))])).every(Boolean), 10_000);
  const counts = await spread(svc.spec.clusterIP!, svc.spec.ports[0].port, 20);
  assert.is(counts.size, 1, `one pod for one client: ${[...counts.keys()]}`);
  for (const host of ADDRESSES) assert.ok((await get(host, nodePort)).startsWith('web-'), `node port on ${host}`);
  await client.delete('services', 'sticky', 'default');
});

/** `n` node ports of the range that nothing listens on at `host`, each then taken there by a server of the test's. */
async function squat(host: string, n: number, not: number[]): Promise<{ ports: number[]; squatters: Server[] }> {
  const ports: number[] = [];
  const squatters: Server[] = [];
  for (let port = 30000 + Math.floor(Math.random() * 2500); ports.length < n; port++) {
    if (not.includes(port)) continue;
    const server = createServer();
    if (await new Promise<boolean>((r) => server.once('error', () => r(false)).listen(port, host, () => r(true)))) {
      ports.push(port);
      squatters.push(server);
    }
  }
  return { ports, squatters };
}

s('a node port taken on a node: an Event and a condition; the other nodes still serve; freed, it is served', async ({ client, nodePort }) => {
  const { ports: [taken, alsoTaken], squatters } = await squat(ADDRESSES[0], 2, [nodePort]);
  const [portA, portB] = await freePorts(2);
  const condition = async () => (await client.get<Service>('services', 'clash', 'default')).status?.conditions?.find((c) => c.type === 'PortsAvailable');
  try {
    await client.create<Service>({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'clash' },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'a', port: portA, nodePort: taken, targetPort: 'http' }, { name: 'b', port: portB, nodePort: alsoTaken, targetPort: 'http' }] },
    });
    const cond = await waitFor('the PortsAvailable condition', condition, 10_000);
    assert.is(cond.status, 'False');
    assert.match(cond.message!, new RegExp(`port (${taken}|${alsoTaken}) is not available on node svc-node-1 \\(${ADDRESSES[0].replace(/\./g, '\\.')}\\)`));
    const ev = await waitFor('a PortInUse event', async () => (await client.list<Event>('events', { fieldSelector: 'involvedObject.name=clash' })).items.find((e) => e.reason === 'PortInUse'));
    assert.is(ev.type, 'Warning');
    await waitFor('endpoints for clash', async () => readyAddresses(await endpoints(client, 'clash')).length >= 3, 10_000);
    await waitFor('node 2 to serve it', async () => (await get(ADDRESSES[1], taken).catch(() => '')).startsWith('web-'), 10_000);
    // The port the condition names is freed first: served within the retry period, and the
    // condition, still False, names the other, which still fails.
    const told = (await condition())!;
    const [first, second] = told.message!.includes(`port ${taken} `) ? [0, 1] : [1, 0];
    const ports = [taken, alsoTaken];
    await new Promise<void>((r) => squatters[first].close(() => r()));
    await waitFor('node 1 serves the freed port', async () => (await get(ADDRESSES[0], ports[first]).catch(() => '')).startsWith('web-'), 10_000);
    const moved = await waitFor('the condition to name the other port', async () => { const c = await condition(); return c?.message?.includes(`port ${ports[second]} `) ? c : undefined; }, 10_000);
    assert.is(moved.status, 'False', 'the other port still fails');
    // Both freed: the condition turns True, with nothing else changing.
    await new Promise<void>((r) => squatters[second].close(() => r()));
    const back = await waitFor('PortsAvailable=True', async () => { const c = await condition(); return c?.status === 'True' ? c : undefined; }, 10_000);
    assert.match(back.message!, new RegExp(`port ${ports[second]} is available again on node svc-node-1`));
    assert.ok((await get(ADDRESSES[0], ports[second])).startsWith('web-'), 'node 1 serves it now');
  } finally {
    for (const sq of squatters) sq.close();
    await client.delete('services', 'clash', 'default').catch(() => {});
  }
});

s('a service made again on a node port still taken is told again; a failing port dropped from its spec clears the condition', async ({ client, nodePort }) => {
  const { ports: [taken], squatters: [squatter] } = await squat(ADDRESSES[0], 1, [nodePort]);
  const [port, free] = await freePorts(2);
  const make = () => client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'again' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'a', port, nodePort: taken, targetPort: 'http' }] } });
  const condition = async () => (await client.get<Service>('services', 'again', 'default')).status?.conditions?.find((c) => c.type === 'PortsAvailable');
  const portInUse = async (uid: string) => (await client.list<Event>('events', { fieldSelector: 'involvedObject.name=again' })).items.find((e) => e.reason === 'PortInUse' && e.involvedObject.uid === uid);
  try {
    const first = await make();
    await waitFor('False for the first', async () => (await condition())?.status === 'False', 10_000);
    await client.delete('services', 'again', 'default');
    await waitFor('the first gone', () => client.get('services', 'again', 'default').then(() => false, () => true));
    const second = await make();
    assert.is.not(second.metadata.uid, first.metadata.uid);
    await waitFor('False for the second too', async () => (await condition())?.status === 'False', 10_000);
    await waitFor('a PortInUse event for the second', () => portInUse(second.metadata.uid!), 10_000);
    // The failing port is dropped: nothing of the service fails here any more.
    await client.patch('services', 'again', 'default', { spec: { ports: [{ name: 'b', port: free, targetPort: 'http' }] } });
    const back = await waitFor('PortsAvailable=True', async () => { const c = await condition(); return c?.status === 'True' ? c : undefined; }, 10_000);
    assert.match(back.message!, /no port of the service fails on node svc-node-1 any more/);
  } finally {
    squatter.close();
    await client.delete('services', 'again', 'default').catch(() => {});
  }
});

/** The process listening on `address:port` on this host, from ss. */
function listenerPid(address: string, port: number): number | undefined {
  const out = execFileSync('ss', ['-Hltnp', `src ${address}:${port}`], { encoding: 'utf8' });
  return Number(/pid=(\d+)/.exec(out)?.[1]) || undefined;
}

s('when the node serving a ClusterIP on this host dies, another node serves it within about a second', async ({ nodes, ip, port }) => {
  const holder = listenerPid(ip, port);
  const node = nodes.find((n) => n.proc.pid === holder);
  assert.ok(node, `a node process holds ${ip}:${port} (pid ${holder})`);
  process.kill(holder!, 'SIGKILL');
  const killedAt = Date.now();
  await waitFor('the address served again', async () => (await get(ip, port).catch(() => '')).startsWith('web-'), 5000, 50);
  const took = Date.now() - killedAt;
  console.log(`  ${ip}:${port} served again ${took} ms after its node was killed`);
  assert.ok(took < 3000, `took ${took} ms`);
  assert.ok(nodes.some((n) => n !== node && n.proc.pid === listenerPid(ip, port)), 'by another node');
});

s('deleting the service closes its address and its node port on every node', async (ctx) => {
  await ctx.client.delete('services', 'web', 'default');
  for (const [host, port] of everywhere(ctx)) {
    await waitFor(`the port to close on ${host}:${port}`, () => new Promise<boolean>((resolve) => {
      const sock = connect({ host, port });
      sock.once('connect', () => { sock.destroy(); resolve(false); });
      sock.once('error', () => resolve(true));
    }), 5000);
  }
});

s.run();
