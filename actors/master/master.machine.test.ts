import { Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, toPromise } from 'xstate';
import { apiserverForTests, testConfig, waitFor } from '../../test/harness.ts';
import type { ApiClient } from '../client/client.ts';
import { Membership } from '../membership/index.ts';
import { createLogger, silentLogger } from '../platform/log.ts';
import { leaderMetrics, type LeaderOnly } from '../runtime/leader.ts';
import { masterMachine, type LeaderOnlyPart } from './master.machine.ts';

const cluster = apiserverForTests(test);
const metrics = leaderMetrics(new Registry());

/** Each instance made records its calls; the first `failures` instances fail to lead. */
function part(lease: string, failures: number) {
  const made: { calls: string[] }[] = [];
  const result: LeaderOnlyPart & { made: typeof made } = {
    made,
    make(): LeaderOnly {
      const me = { calls: [] as string[] };
      const fail = made.length < failures;
      made.push(me);
      return {
        start: () => me.calls.push('start'),
        stop: () => me.calls.push('stop'),
        lead: async (_writer: ApiClient) => {
          me.calls.push('lead');
          if (fail) throw new Error('cache refused');
        },
        follow: () => me.calls.push('follow'),
      };
    },
    election: {
      client: cluster.api.client, writer: cluster.api.client, metrics, log: silentLogger,
      cfg: { lease: `kube-system/${lease}`, identity: 'm1', leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 50 },
    },
  };
  return result;
}

function master(parts: Partial<Record<'scheduler' | 'controllerManager', LeaderOnlyPart>>, log = silentLogger) {
  const { nc } = cluster.api;
  const membership = new Membership({ nc, name: `m-${Math.random().toString(36).slice(2, 8)}`, role: 'master', cfg: testConfig(cluster.nats.url), log: silentLogger });
  return createActor(masterMachine, {
    input: { nc, log, membership, parts, restart: { initialMs: 50, maxMs: 400, resetAfterMs: 60_000 }, leaveTimeoutMs: 1000, apiserverTiming: { retryMs: 500, sweepMs: 5000 } },
  });
}

test('master - a leader-only component that fails is restarted with backoff, a fresh instance each time, the failed one stopped', async () => {
  const lines: string[] = [];
  const scheduler = part('test-sched-restart', 2);
  const actor = master({ scheduler }, createLogger({}, (l) => lines.push(l))).start();
  await waitFor('a third instance leading', () => scheduler.made.length === 3 && scheduler.made[2].calls.includes('lead'), 5000);
  assert.equal(scheduler.made[0].calls, ['start', 'lead', 'follow', 'stop']);
  assert.equal(scheduler.made[1].calls, ['start', 'lead', 'follow', 'stop']);
  assert.ok(actor.getSnapshot().matches({ running: { scheduler: 'running' } }));
  const failures = lines.filter((l) => l.includes('component failed; restarting it'));
  assert.is(failures.length, 2);
  // The second failure waits twice as long as the first.
  assert.match(failures[0], /inMs=50\b/);
  assert.match(failures[1], /inMs=100\b/);
  assert.match(failures[0], /cache refused/);
  actor.send({ type: 'STOP' });
  assert.equal(await toPromise(actor), { failure: undefined });
  assert.equal(scheduler.made[2].calls.slice(2).sort(), ['follow', 'stop']);
});

test('master - STOP stops every component and leaves the gossip group; the tree ends done', async () => {
  const scheduler = part('test-sched-stop', 0);
  const controllerManager = part('test-cm-stop', 0);
  const actor = master({ scheduler, controllerManager }).start();
  await waitFor('both leading', () => [scheduler, controllerManager].every((p) => p.made[0]?.calls.includes('lead')), 5000);
  actor.send({ type: 'STOP' });
  await toPromise(actor);
  assert.is(actor.getSnapshot().status, 'done');
  for (const p of [scheduler, controllerManager]) assert.equal(p.made[0].calls.slice(2).sort(), ['follow', 'stop']);
  const children = Object.entries(actor.getSnapshot().children);
  // The member finished its leave; nothing else is left running.
  assert.equal(children.map(([id, c]) => [id, c?.getSnapshot().status]), [['membership', 'done']]);
});

test('master - a component not asked for stays absent', async () => {
  const controllerManager = part('test-cm-only', 0);
  const actor = master({ controllerManager }).start();
  await waitFor('the controller-manager leading', () => controllerManager.made[0]?.calls.includes('lead') ?? false, 5000);
  assert.ok(actor.getSnapshot().matches({ running: { scheduler: 'absent', apiserver: 'absent' } }));
  actor.send({ type: 'STOP' });
  await toPromise(actor);
});

test.run();
