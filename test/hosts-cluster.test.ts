// A cluster across test hosts (network namespaces on a bridge, infra/hosts.sh): three nats-servers
// clustered over their own addresses, two masters, and two worker nodes each on a host of its own.
// Services answer at their ClusterIPs inside every node host, and at a node port on every
// host's address; a nats-server's death costs no node and no pod; a worker host cut off is
// declared dead and its pods run on the other, and when its link returns it stops the pods it
// had; a nats-server cut off from the other two acknowledges no write.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiClient } from '../actors/client/client.ts';
import { programArgs } from '../actors/platform/entry.ts';
import { connectNats, jetStreamAnswers } from '../actors/platform/nats.ts';
import type { Deployment, Node, Pod, Service } from '../protocol/types.ts';
import { healthy, startMaster, startNode, tempDir, waitFor, type Master, type NodeProc, type Proc } from './harness.ts';
import { makeHosts, type TestHosts } from './test-hosts.ts';
import { ensureCa } from '../infra/tls.ts';

const NATS_HOSTS = [0, 1, 2];
const NODE_HOSTS = [3, 4];
const STATUS_PORT = 8000;

let hosts: TestHosts | undefined;
const nats: Proc[] = [];
const masters: Master[] = [];
const nodes: NodeProc[] = [];
let client: ApiClient;
let url = '';

// Each server's store, kept when it is started again after a kill, as a machine's disk would be.
const natsStores: string[] = [];

function startNatsOn(i: number): Proc {
  const h = hosts!.hosts[i];
  natsStores[i] ??= tempDir(`skiff-hostnats-${i + 1}-`);
  const routes = NATS_HOSTS.map((j) => `${hosts!.hosts[j].address}:6222`).join(',');
  return hosts!.spawn(i, process.execPath, programArgs('infra/nats', false), {
    PORT: String(STATUS_PORT), SKIFF_STATUS_HOST: '0.0.0.0', SKIFF_NATS_HOST: h.address, SKIFF_NATS_ROUTES: routes,
    SKIFF_NATS_SERVER_NAME: `nats-${i + 1}`, SKIFF_NATS_STORE: natsStores[i],
  });
}

/** A deployment whose pods answer `answer`, and its service: every service here on port 80 (the nodes run as root), each at its own ClusterIP. */
const deploymentOf = (app: string, replicas: number, answer: string): Deployment => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: app, namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app } },
    template: {
      metadata: { labels: { app } },
      spec: {
        containers: [{
          name: 'web',
          command: ['node', '-e', `require('http').createServer((q,s)=>s.end(${JSON.stringify(answer)})).listen(process.env.PORT)`],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
        }],
        terminationGracePeriodSeconds: 2,
      },
    },
  },
});
const serviceOf = (app: string, type: Service['spec']['type']): Service => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: app, namespace: 'default' }, spec: { type, selector: { app }, ports: [{ port: 80, targetPort: 'http' }] },
});
const deployment = deploymentOf('web', 2, 'hello\n');

test('clients and routes between hosts speak TLS: a client that cannot check the servers is refused', async () => {
  const conf = readFileSync(`${natsStores[0]}/nats.conf`, 'utf8');
  assert.match(conf, /tls \{ cert_file: [^}]*nats-1-cert\.pem/, 'the client port');
  assert.match(conf, /cluster \{[^]*tls \{ [^}]*verify: true/, 'the routes, verified both ways');
  const err = await connectNats({ url, name: 'no-ca', persistent: false, ca: '/dev/null' }).then((nc) => nc.close().then(() => undefined), (e: Error) => e);
  assert.ok(err, 'refused');
  assert.match(err!.message, /over TLS/);
});

const webPods = async () => (await client.list<Pod>('pods', { labelSelector: 'app=web' })).items;
const running = (pods: Pod[]) => pods.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
const nodeReady = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

test.before(async () => {
  // Hosts apart speak TLS, as skiff up --tls makes them: a CA in the test's TLS directory, from
  // which each server makes its certificate for its address; every client here checks against it.
  ensureCa(process.env.SKIFF_TLS_DIR!);
  hosts = makeHosts(5, 'sc');
  for (const i of NATS_HOSTS) nats.push(startNatsOn(i));
  await waitFor('the nats-servers on their hosts', async () => {
    for (const i of NATS_HOSTS) if (!(await healthy(STATUS_PORT, hosts!.hosts[i].address))) return false;
    return true;
  }, 20_000);
  url = NATS_HOSTS.map((i) => `nats://${hosts!.hosts[i].address}:4222`).join(',');
  for (let m = 0; m < 2; m++) masters.push(await startMaster(url, { SKIFF_NODE_NAME: `master-${m + 1}` }));
  // node-2's kube-proxy serves services with nftables, node-1's in userspace: both kinds in one cluster.
  for (const [k, i] of NODE_HOSTS.entries()) nodes.push(await startNode(url, `node-${k + 1}`, { host: hosts!.hosts[i], env: k === 1 ? { SKIFF_PROXY_MODE: 'nftables' } : {} }));
  const nc = await connectNats({ url, name: 'test-client', persistent: true });
  client = new ApiClient(nc, { timeoutMs: 10_000, waitForApiserver: true });
  await waitFor('both nodes Ready', async () => (await client.list<Node>('nodes')).items.filter(nodeReady).length === 2, 30_000);
});

test.after(async () => {
  try {
    await client?.nc.close();
    await Promise.all([...nodes, ...masters].map((p) => p.stop().catch(() => {})));
    await Promise.all(nats.map((p) => p.stop().catch(() => {})));
  } finally {
    hosts?.down();
  }
});

/** The nftables tables inside test host `i`. */
const tablesOn = (i: number) => spawnSync('ip', ['netns', 'exec', hosts!.hosts[i].netns, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout;

/** GET http://address/ from inside test host `i`: its body, or undefined. */
function getFrom(i: number, address: string): string | undefined {
  const code = `fetch(${JSON.stringify(`http://${address}/`)}, { signal: AbortSignal.timeout(1000) }).then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`;
  const r = spawnSync('ip', ['netns', 'exec', hosts!.hosts[i].netns, process.execPath, '-e', code], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout : undefined;
}

test('two services on one port, each at its ClusterIP from every node host; a NodePort service at every node host\'s address', async () => {
  await client.create(deployment);
  await client.create(deploymentOf('other', 1, 'other\n'));
  const web = await client.create(serviceOf('web', 'NodePort'));
  const other = await client.create(serviceOf('other', 'ClusterIP'));
  assert.is.not(web.spec.clusterIP, other.spec.clusterIP);
  const nodePort = web.spec.ports[0].nodePort!;
  await waitFor('2 web pods Running and Ready', async () => running(await webPods()).filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 2, 30_000);
  for (const i of NODE_HOSTS) {
    const address = hosts!.hosts[i].address;
    const body = await waitFor(`the node port on ${address}:${nodePort}`, async () => {
      try {
        return await (await fetch(`http://${address}:${nodePort}/`, { signal: AbortSignal.timeout(1000) })).text();
      } catch {
        return undefined;
      }
    }, 15_000);
    assert.is(body, 'hello\n');
    // Inside the host, each service at its own address on the same port, each to its own pods.
    assert.is(await waitFor(`web at ${web.spec.clusterIP}:80 from host ${i}`, async () => getFrom(i, `${web.spec.clusterIP}:80`), 15_000), 'hello\n');
    assert.is(await waitFor(`other at ${other.spec.clusterIP}:80 from host ${i}`, async () => getFrom(i, `${other.spec.clusterIP}:80`), 15_000), 'other\n');
  }
  // node-2's were DNATs in its host's kernel (to pods on either host), not listeners.
  assert.match(tablesOn(NODE_HOSTS[1]), /table ip skiff_node_2/);
  assert.not.match(tablesOn(NODE_HOSTS[0]), /skiff_node/);
  await client.delete('deployments', 'other', 'default');
  await client.delete('services', 'other', 'default');
  // Each node registered its host's own address.
  const addresses = (await client.list<Node>('nodes')).items.map((n) => n.status?.addresses?.[0]?.address).sort();
  assert.equal(addresses, NODE_HOSTS.map((i) => hosts!.hosts[i].address).sort());
});

test('kill -9 of a nats-server: writes resume, no node is declared dead, no pod restarts or moves', async () => {
  const before = (await webPods()).map((p) => `${p.metadata.uid}@${p.spec.nodeName}`).sort();
  const killedAt = Date.now();
  nats[0].kill('SIGKILL');
  await nats[0].exited;
  let n = 0;
  await waitFor('a write after the kill', async () => {
    try {
      await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `after-kill-${n++}` } });
      return true;
    } catch {
      return false;
    }
  }, 20_000, 100);
  console.log(`  writes resumed ${((Date.now() - killedAt) / 1000).toFixed(2)} s after kill -9 of nats-1`);
  // Long enough for gossip to have suspected and confirmed anyone it was going to. A store that
  // took writes for longer than the lease grace (4 s) leaves the nodes NotReady for a moment
  // (no new pods; evictions wait for gossip, and all nodes at once stop them anyway): they must
  // be Ready again, never declared dead, their pods untouched.
  await new Promise((r) => setTimeout(r, 5000));
  await waitFor('both nodes Ready', async () => (await client.list<Node>('nodes')).items.filter(nodeReady).length === 2, 30_000, 200);
  for (const n of (await client.list<Node>('nodes')).items) {
    for (const c of n.status?.conditions ?? []) assert.not.match(c.message ?? '', /declared the node dead/, `${n.metadata.name} was not declared dead`);
  }
  const after = (await webPods()).map((p) => `${p.metadata.uid}@${p.spec.nodeName}`).sort();
  assert.equal(after, before, 'the same pods on the same nodes');
  for (const p of await webPods()) assert.is(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata.name} did not restart`);
  for (const m of masters) assert.not.match(m.proc.output(), /member is dead" member=node-/, `${m.name}'s gossip declared no node dead`);
  // Back to three servers for what follows.
  nats[0] = startNatsOn(0);
  await waitFor('nats-1 back', () => healthy(STATUS_PORT, hosts!.hosts[0].address), 20_000);
  await jetStreamEverywhere();
});

test('a worker host cut off: declared dead, its pods run on the other; back, it stops the pods it had', async () => {
  const victim = nodes[0];
  const onVictim = (await webPods()).filter((p) => p.spec.nodeName === victim.name).map((p) => p.metadata.uid);
  // The node and its pods' processes, as they run before the cut.
  const pidsBefore = hostPids(NODE_HOSTS[0]);
  assert.ok(pidsBefore.length > 1, `the pods' processes are in the host (${pidsBefore.join(' ')})`);
  const cutAt = Date.now();
  hosts!.cut(NODE_HOSTS[0]);
  try {
    await waitFor('2 web pods Running elsewhere', async () => running(await webPods()).filter((p) => p.spec.nodeName !== victim.name).length === 2, 60_000, 200);
    console.log(`  pods of the cut host running elsewhere ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`);
  } finally {
    hosts!.restore(NODE_HOSTS[0]);
  }
  const restoredAt = Date.now();
  // Once back, the node stops the pods it had: their processes go, and no more than replicas +
  // surge (2 + 1) pods of the deployment run at any time after.
  let most = 0;
  await waitFor('the returned node to be Ready with its old pods gone', async () => {
    const pods = await webPods();
    most = Math.max(most, running(pods).length);
    const node = await client.get<Node>('nodes', victim.name).catch(() => undefined);
    return node && nodeReady(node) && !pods.some((p) => onVictim.includes(p.metadata.uid));
  }, 60_000, 200);
  console.log(`  the node rejoined and its old pods were gone ${((Date.now() - restoredAt) / 1000).toFixed(1)} s after the link returned`);
  assert.ok(most <= 3, `at most replicas + surge pods Running after the return (saw ${most})`);
  let lastStill: string[] = [];
  const gone = await waitFor('the old pods\' processes to end', () => {
    const still = hostPids(NODE_HOSTS[0]).filter((pid) => pidsBefore.includes(pid) && pid !== victim.proc.pid && !isNodeHelper(pid));
    if (still.length > 0) lastStill = still.map((pid) => { try { return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`; } catch { return `${pid} (gone)`; } });
    return still.length === 0 ? true : undefined;
  }, 20_000, 200).catch((err) => { throw new Error(`${(err as Error).message}: ${lastStill.join('; ')}`); });
  assert.ok(gone);
});

/** Waits until every nats-server's side has JetStream's meta leader (the cluster whole again). */
async function jetStreamEverywhere(): Promise<void> {
  for (const i of NATS_HOSTS) {
    const nc = await connectNats({ url: `nats://${hosts!.hosts[i].address}:4222`, name: 'test-check', persistent: false });
    try {
      await waitFor(`JetStream through nats-${i + 1}`, () => jetStreamAnswers(nc, 1000), 60_000, 250);
    } finally {
      await nc.close();
    }
  }
}

/** The node's reaper, standing by for as long as the node runs (kubelet/reaper.ts). */
/**
 * A process of the node's own, not a pod's: the reaper's standby, or the esbuild service tsx
 * starts in the node process when a source file is not in its cache yet.
 */
function isNodeHelper(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('stand-down') || cmdline.includes('/@esbuild/');
  } catch {
    return false;
  }
}

/** The processes running inside test host `i`. */
function hostPids(i: number): number[] {
  const r = spawnSync('ip', ['netns', 'pids', hosts!.hosts[i].netns], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map(Number);
}

test('a nats-server cut off from the other two acknowledges no write; its clients move to the majority', async () => {
  const lonely = NATS_HOSTS[2];
  await jetStreamEverywhere();
  const lonelyUrl = `nats://${hosts!.hosts[lonely].address}:4222`;
  // One client knows only the lonely server: it can but wait. Another knows them all and is on
  // the lonely one: it moves (platform/nats.ts, leaveStrandedServer).
  const only = await connectNats({ url: lonelyUrl, name: 'test-minority', persistent: true });
  const mover = await connectNats({ url: [lonelyUrl, ...NATS_HOSTS.slice(0, 2).map((i) => `nats://${hosts!.hosts[i].address}:4222`)].join(','), name: 'test-mover', persistent: true, inOrder: true });
  assert.is(mover.getServer(), `${hosts!.hosts[lonely].address}:4222`);
  // A bucket of the test's own, replicated as the store's are (the store's hold objects only).
  await waitFor('the test bucket', () => mover.jetstream().views.kv('test-minority', { replicas: 3 }).then(() => true, () => false), 30_000, 500);
  const put = (nc: typeof only, key: string) => nc.jetstream({ timeout: 3000 }).publish(`$KV.test-minority.${key}`, new TextEncoder().encode('x'));
  const cutAt = Date.now();
  hosts!.cut(lonely, 0);
  hosts!.cut(lonely, 1);
  try {
    let acked = false;
    try {
      await put(only, 'minority-write');
      acked = true;
    } catch (err) {
      assert.match(String(err), /timeout|503|no responders/i);
    }
    assert.not.ok(acked, 'no write is acknowledged by the minority');
    // The one that knows the others moves to them, and writes there.
    await waitFor('the client to move to the majority and write', async () => {
      try {
        await put(mover, `moved-${Date.now()}`);
        return true;
      } catch {
        return false;
      }
    }, 90_000, 500);
    console.log(`  a client on the cut-off server moved to ${mover.getServer()} and wrote ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`);
    assert.is.not(mover.getServer(), `${hosts!.hosts[lonely].address}:4222`);
    // And the API takes writes (masters on the lonely server have moved too).
    let n = 0;
    await waitFor('a write through the API', async () => {
      try {
        await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `majority-${n++}` } });
        return true;
      } catch {
        return false;
      }
    }, 90_000, 200).catch((err) => {
      for (const m of masters) console.log(m.name, m.proc.output().split('\n').slice(-12).join('\n'));
      throw err;
    });
    console.log(`  the API took a write ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`);
  } finally {
    hosts!.restore(lonely, 0);
    hosts!.restore(lonely, 1);
    await only.close();
    await mover.close();
  }
});

test('a node in nftables mode deletes its table when it stops', async () => {
  assert.match(tablesOn(NODE_HOSTS[1]), /skiff_node_2/);
  await nodes[1].stop();
  assert.not.match(tablesOn(NODE_HOSTS[1]), /skiff_node_2/);
});

test.run();
