// The store on a three-server NATS cluster: buckets replicated three ways, a write acknowledged
// only by a quorum, and the API through the death of a server: reads never stop, writes resume
// once JetStream has elected new leaders, and nothing acknowledged is lost.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Namespace } from '../protocol/types.ts';
import { startInProcessApiserver, startNatsCluster, waitFor, type InProcessApiserver, type NatsCluster } from './harness.ts';
import { apiServers } from '../actors/client/apiservers.ts';
import { checkHistory } from '../cli/chaos/checker.ts';
import { ConsistencyClients } from '../cli/chaos/probes.ts';

interface StreamDetail { name: string; config?: { num_replicas?: number }; cluster?: { leader?: string; replicas?: { name: string; current: boolean }[] } }

async function streams(monitor: number): Promise<StreamDetail[]> {
  const jsz = await (await fetch(`http://127.0.0.1:${monitor}/jsz?accounts=true&streams=true&config=true`)).json() as {
    account_details?: { stream_detail?: StreamDetail[] }[];
  };
  return (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
}

const namespace = (name: string): Namespace => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

/** Creates namespaces back to back, noting which were acknowledged, with their uids, and when. */
class Writer {
  readonly acked = new Map<string, string>();
  private readonly ackTimes: number[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(api: InProcessApiserver, prefix: string) {
    this.done = (async () => {
      for (let i = 0; this.running; i++) {
        try {
          const made = await api.client.create(namespace(`${prefix}-${i}`));
          this.acked.set(`${prefix}-${i}`, made.metadata.uid!);
          this.ackTimes.push(Date.now());
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
  }

  /** The longest time without an acknowledged write from `at` on. */
  stallAfter(at: number): number {
    let most = 0;
    for (let k = 1; k < this.ackTimes.length; k++) if (this.ackTimes[k] > at) most = Math.max(most, this.ackTimes[k] - Math.max(this.ackTimes[k - 1], at));
    return most;
  }

  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }

  /**
   * The acknowledged writes a list does not show with their uids, once the lists have had time to
   * show them all: a list is served from an apiserver's cache, which may trail the store by the
   * seconds its feed takes to be made again after the server holding it died.
   */
  async lost(api: InProcessApiserver): Promise<[string, string][]> {
    let lost: [string, string][] = [];
    await waitFor('every acknowledged write in a list', async () => {
      const byName = new Map((await api.client.list<Namespace>('namespaces')).items.map((c) => [c.metadata.name!, c.metadata.uid!]));
      lost = [...this.acked].filter(([name, uid]) => byName.get(name) !== uid);
      return lost.length === 0;
    }, 15_000).catch(() => { /* reported as lost */ });
    return lost;
  }
}

let cluster: NatsCluster;
let api: InProcessApiserver | undefined;

test.before.each(async () => {
  cluster = await startNatsCluster(3);
});

test.after.each(async () => {
  await api?.stop();
  api = undefined;
  await cluster.stop();
});

test('the buckets are made with three copies, and a write is acknowledged only by a quorum', async () => {
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  const details = await streams(cluster.servers[0].monitor);
  const kv = details.filter((s) => s.name.startsWith('KV_'));
  assert.ok(kv.length >= 5, `the store's buckets are there (${details.map((s) => s.name).join(', ')})`);
  for (const s of kv) assert.is(s.config?.num_replicas, 3, `${s.name} has 3 copies`);

  await api.client.create(namespace('before'));
  // Two of three servers gone: no quorum, so a write must not be acknowledged.
  const [a, b] = cluster.servers.filter((s) => s !== cluster.servers[0]);
  a.proc.kill('SIGKILL');
  b.proc.kill('SIGKILL');
  await Promise.all([a.proc.exited, b.proc.exited]);
  let acked = false;
  try {
    await api.client.create(namespace('minority'));
    acked = true;
  } catch (err) {
    assert.match(String(err), /timed out|did not answer|unavailable|not available|no responders|leader/i);
  }
  assert.not.ok(acked, 'a write without a quorum is never acknowledged');
});

test('a store made with one copy is moved up to three when an apiserver starts, its objects kept', async () => {
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file', kvReplicas: 1 });
  const made = await api.client.create(namespace('kept'));
  for (const s of (await streams(cluster.servers[0].monitor)).filter((d) => d.name.startsWith('KV_'))) assert.is(s.config?.num_replicas, 1, `${s.name} starts with 1 copy`);
  await api.stop();
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  for (const s of (await streams(cluster.servers[0].monitor)).filter((d) => d.name.startsWith('KV_'))) assert.is(s.config?.num_replicas, 3, `${s.name} moved up to 3 copies`);
  assert.is((await api.client.get<Namespace>('namespaces', 'kept')).metadata.uid, made.metadata.uid);
});

test('kill -9 of the meta leader under writes: reads go on, writes resume, nothing acknowledged is lost', async () => {
  // Two apiservers, as two masters run them; the client and they connect to whichever server.
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  const second = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  try {
    const victim = (await cluster.metaLeader())!;
    const writes = new Writer(api, 'ns');
    const { acked } = writes;
    let writing = true;
    const readFailures: string[] = [];
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        try {
          await api!.client.list('namespaces');
          reads++;
        } catch (err) {
          readFailures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor('some writes', () => acked.size >= 20);
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.proc.exited;
    const before = acked.size;
    await waitFor('writes to resume after the kill', () => acked.size >= before + 20 && Date.now() - killedAt > 2000, 30_000);
    writing = false;
    await Promise.all([writes.stop(), reader]);
    const stallMs = writes.stallAfter(killedAt);
    console.log(`  meta leader ${victim.name} killed: writes stalled ${(stallMs / 1000).toFixed(2)} s; ${reads} reads, ${readFailures.length} failed; ${acked.size} writes acknowledged`);
    assert.equal(readFailures, [], 'reads never stop');
    assert.ok(stallMs < 15_000, `writes resumed within JetStream's election bound (${stallMs} ms)`);

    assert.equal(await writes.lost(api), [], 'no acknowledged write is lost');
  } finally {
    await second.stop();
  }
});

test('a lame-duck stop of the meta leader hands leadership over: writes go on, nothing is lost', async () => {
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  const victim = (await cluster.metaLeader())!;
  const writes = new Writer(api, 'ld');
  const { acked } = writes;
  await waitFor('some writes', () => acked.size >= 20);
  const at = Date.now();
  victim.proc.kill('SIGUSR2');
  await waitFor('another meta leader', async () => { const l = await cluster.metaLeader(); return l && l !== victim; }, 20_000, 100);
  const before = acked.size;
  await waitFor('writes after the hand-over', () => acked.size >= before + 20, 20_000);
  await writes.stop();
  const stallMs = writes.stallAfter(at);
  console.log(`  lame-duck stop of ${victim.name}: writes stalled ${(stallMs / 1000).toFixed(2)} s`);
  // The figure itself is bench/failover.ts's (a timed unit test would be noise); this is the
  // behaviour: no election timeout to sit out, as after a kill.
  assert.ok(stallMs < 4000, `writes did not wait for an election (${stallMs} ms)`);
  assert.equal(await writes.lost(api), [], 'no acknowledged write is lost');
});

test('concurrent compare-and-swaps of one object through two apiservers on a replicated store: never both acknowledged (nats-server#4320)', async () => {
  api = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  const second = await startInProcessApiserver(cluster.url, { kvStorage: 'file' });
  try {
    const store = new ConsistencyClients(api.client, 'cas', 1, 3);
    await store.setUp();
    // Clients that know both apiservers (a connection just made knows none, and uses the queue group).
    await waitFor('both apiservers heard', () => {
      const seen = new Set(Array.from({ length: 20 }, () => apiServers(api!.client.nc).pick()));
      return seen.size === 2;
    }, 5000);
    store.start();
    await new Promise((r) => setTimeout(r, 4000));
    const finals = await store.finish();
    const result = checkHistory(store.ops, { initial: 0, finals, uids: store.uids });
    const acked = store.ops.filter((o) => o.f === 'cas' && o.outcome === 'ok').length;
    assert.ok(acked > 20, `enough increments to race (${acked})`);
    assert.ok(result.ok, result.problems.join('\n'));
  } finally {
    await second.stop();
  }
});

test.run();
