import { Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, toPromise, waitFor } from 'xstate';
import { AlreadyExists, Conflict, NotFound, Unavailable } from '../../protocol/errors.ts';
import type { KubeObject, Lease } from '../../protocol/types.ts';
import type { ApiClient, Fence } from '../client/client.ts';
import { silentLogger } from '../platform/log.ts';
import { ComponentFailed, leaderMetrics, leaderOnlyMachine, type LeaderOnly, type LeaderOnlyInput } from './leader.ts';

/** Leases in memory, with the apiserver's create-only and compare-and-swap rules; `down` makes every request fail. */
class LeaseStore {
  readonly leases = new Map<string, Lease>();
  private revision = 0;
  down = false;

  client(): ApiClient {
    const check = () => { if (this.down) throw new Unavailable('no apiserver'); };
    const client = {
      get: async (_resource: string, name: string) => {
        check();
        const l = this.leases.get(name);
        if (!l) throw new NotFound(`lease ${name}`);
        return structuredClone(l);
      },
      create: async (obj: KubeObject) => {
        check();
        if (this.leases.has(obj.metadata.name!)) throw new AlreadyExists(obj.metadata.name!);
        return this.put(obj as Lease);
      },
      update: async (obj: KubeObject) => {
        check();
        const current = this.leases.get(obj.metadata.name!);
        if (current?.metadata.resourceVersion !== obj.metadata.resourceVersion) throw new Conflict(obj.metadata.name!);
        return this.put(obj as Lease);
      },
      fenced: (fence: Fence) => ({ fence }),
    };
    return client as unknown as ApiClient;
  }

  private put(lease: Lease): Lease {
    const stored = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.revision) } };
    this.leases.set(lease.metadata.name!, stored);
    return structuredClone(stored);
  }
}

/** A component that records what the machine asks of it. */
class Recorder implements LeaderOnly {
  readonly calls: string[] = [];
  writers: unknown[] = [];
  failLead?: Error;
  start() { this.calls.push('start'); }
  stop() { this.calls.push('stop'); }
  async lead(writer: ApiClient) {
    this.calls.push('lead');
    this.writers.push(writer);
    if (this.failLead) throw this.failLead;
  }
  follow() { this.calls.push('follow'); }
}

const registry = new Registry();
const metrics = leaderMetrics(registry);
const LEASE = 'kube-system/test-lease';

function candidate(store: LeaseStore, identity: string, component: LeaderOnly, timing: Partial<LeaderOnlyInput['cfg']> = {}) {
  const client = store.client();
  return createActor(leaderOnlyMachine, {
    input: {
      client, writer: client, metrics, log: silentLogger, component,
      cfg: { lease: LEASE, identity, leaseDurationMs: 300, renewDeadlineMs: 200, retryPeriodMs: 20, ...timing },
    },
  });
}

type Snapshot = ReturnType<ReturnType<typeof candidate>['getSnapshot']>;
const leading = (s: Snapshot) => s.matches('leading');
const following = (s: Snapshot) => s.matches('following');

test('leader election - a free lease is taken: the component leads with a writer fenced to term 0', async () => {
  const store = new LeaseStore();
  const c = new Recorder();
  const actor = candidate(store, 'a', c).start();
  await waitFor(actor, leading, { timeout: 2000 });
  assert.equal(c.calls, ['start', 'lead']);
  assert.equal(c.writers[0], { fence: { lease: LEASE, holder: 'a', term: 0 } });
  assert.is(store.leases.get('test-lease')?.spec.holderIdentity, 'a');
  assert.is((await registry.getSingleMetric('skiff_leader_is_leader')!.get()).values.find((v) => v.labels.lease === LEASE)?.value, 1);
  actor.stop();
  assert.equal(c.calls.slice(2).sort(), ['follow', 'stop']);
});

test('leader election - a second candidate follows, and takes over with the next term once the leader is gone', async () => {
  const store = new LeaseStore();
  const first = new Recorder();
  const second = new Recorder();
  const a = candidate(store, 'a', first).start();
  await waitFor(a, leading, { timeout: 2000 });
  const b = candidate(store, 'b', second).start();
  // Several retry periods: b keeps seeing a's renewed lease.
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(following(b.getSnapshot()));
  assert.equal(second.calls, ['start']);
  a.stop();
  await waitFor(b, leading, { timeout: 2000 });
  assert.equal(second.writers[0], { fence: { lease: LEASE, holder: 'b', term: 1 } });
  b.stop();
});

test('leader election - a leader that cannot renew stops leading at the renew deadline, before its lease expires', async () => {
  const store = new LeaseStore();
  const c = new Recorder();
  const actor = candidate(store, 'a', c, { renewDeadlineMs: 100, leaseDurationMs: 1000 }).start();
  await waitFor(actor, leading, { timeout: 2000 });
  store.down = true;
  const lostAt = Date.now();
  await waitFor(actor, following, { timeout: 2000 });
  assert.ok(Date.now() - lostAt < 1000, 'stepped down before the lease could expire');
  assert.equal(c.calls, ['start', 'lead', 'follow']);
  store.down = false;
  await waitFor(actor, leading, { timeout: 2000 });
  assert.equal(c.calls, ['start', 'lead', 'follow', 'lead']);
  actor.stop();
});

test('leader election - a component whose work fails fails the machine, with the cause, and its caches stop', async () => {
  const store = new LeaseStore();
  const c = new Recorder();
  c.failLead = new Error('informer refused');
  const actor = candidate(store, 'a', c).start();
  const err = await toPromise(actor).then(() => undefined, (e: unknown) => e);
  assert.instance(err, ComponentFailed);
  assert.match((err as Error).message, /test-lease: informer refused/);
  assert.is((err as Error).cause, c.failLead);
  assert.equal(c.calls.slice(0, 2), ['start', 'lead']);
  assert.equal(c.calls.slice(2).sort(), ['follow', 'stop']);
});

test.run();
