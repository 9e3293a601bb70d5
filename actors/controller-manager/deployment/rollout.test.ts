import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Deployment, ReplicaSet } from '../../../protocol/types.ts';
import { planRollout, revisionOf, rollingParams, scaled, templateHash, templateOf, type RsView } from './rollout.ts';

const deployment = (replicas: number, image: string, strategy: Deployment['spec']['strategy'] = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, extra: Partial<Deployment['spec']> = {}): Deployment => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1 },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image, command: ['x'] }] } }, strategy, revisionHistoryLimit: 10, ...extra },
});

// Kubernetes' rounding: surge up, unavailable down, and never both zero.
const params: [number, string | number, string | number, number, number][] = [
  [10, '25%', '25%', 3, 2],
  [4, '25%', '25%', 1, 1],
  [1, '25%', '25%', 1, 0],
  [3, '50%', '0%', 2, 0],
  [5, 0, 0, 0, 1],
  [10, '10%', '33%', 1, 3],
  [6, 2, 1, 2, 1],
];
for (const [replicas, surge, unavailable, wantSurge, wantUnavailable] of params) {
  test(`rolling params - ${replicas} replicas, surge ${surge}, unavailable ${unavailable}: ${wantSurge}/${wantUnavailable}`, () => {
    assert.equal(rollingParams(deployment(replicas, 'a', { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } })), { maxSurge: wantSurge, maxUnavailable: wantUnavailable });
  });
}

test('scaled - integers pass through, percentages round as asked', () => {
  assert.is(scaled('33%', 10, true, '0'), 4);
  assert.is(scaled('33%', 10, false, '0'), 3);
  assert.is(scaled(7, 10, false, '0'), 7);
  assert.is(scaled(undefined, 8, true, '25%'), 2);
});

/**
 * Runs a rollout to the end in a little world where pods become available `lag` syncs after their
 * ReplicaSet asks for them, checking the bounds at every step. `rescale`: at that step the
 * Deployment's replicas change (an autoscaler's doing), and the bounds are the new count's.
 */
function simulate(d: Deployment, start: RsView[], lag: number, rescale?: { atStep: number; replicas: number }) {
  let views = start.map((v) => ({ ...v }));
  let { maxSurge, maxUnavailable } = rollingParams(d);
  let replicas = d.spec.replicas ?? 1;
  /** The fewest available allowed: once rescaled, the lower of the two counts' (new pods take their time). */
  let minAvailable = replicas - maxUnavailable;
  const pending = new Map<string, number[]>();
  let steps = 0;
  for (; steps < 200; steps++) {
    if (rescale && steps === rescale.atStep) {
      d = { ...d, spec: { ...d.spec, replicas: rescale.replicas } };
      ({ maxSurge, maxUnavailable } = rollingParams(d));
      replicas = rescale.replicas;
      minAvailable = Math.min(minAvailable, replicas - maxUnavailable);
    }
    const plan = planRollout(d, views, 1_000_000 + steps);
    for (const a of plan.actions) {
      if (a.type === 'create') views.push({ rs: { ...a.rs, metadata: { ...a.rs.metadata, uid: a.rs.metadata.name }, status: { replicas: 0, availableReplicas: 0 } }, podCount: 0 });
      if (a.type === 'scale') views = views.map((v) => (v.rs.metadata.name === a.name ? { ...v, rs: { ...v.rs, spec: { ...v.rs.spec, replicas: a.replicas } } } : v));
      if (a.type === 'delete') views = views.filter((v) => v.rs.metadata.name !== a.name);
    }
    // Pods follow: scale-downs at once, scale-ups become available after `lag` steps.
    for (const v of views) {
      const want = v.rs.spec.replicas ?? 0;
      const st = v.rs.status ?? { replicas: 0, availableReplicas: 0 };
      const q = pending.get(v.rs.metadata.name!) ?? [];
      let avail = Math.min(st.availableReplicas ?? 0, want);
      const have = Math.min(st.replicas, want);
      for (let i = have; i < want; i++) q.push(steps + lag);
      const ready = q.filter((t) => t <= steps).length;
      pending.set(v.rs.metadata.name!, q.filter((t) => t > steps));
      avail = Math.min(want, avail + ready);
      v.rs = { ...v.rs, status: { replicas: want, readyReplicas: avail, availableReplicas: avail } };
      v.podCount = want;
    }
    const total = views.reduce((n, v) => n + (v.rs.spec.replicas ?? 0), 0);
    const available = views.reduce((n, v) => n + (v.rs.status?.availableReplicas ?? 0), 0);
    assert.ok(total <= replicas + maxSurge, `step ${steps}: ${total} pods exceed ${replicas} + surge ${maxSurge}`);
    assert.ok(available >= minAvailable, `step ${steps}: ${available} available, below ${minAvailable}`);
    const current = views.find((v) => templateHash(templateOf(v.rs)) === templateHash(d.spec.template));
    if (current && current.rs.status?.availableReplicas === replicas && total === replicas) break;
  }
  return { views, steps };
}

function steady(d: Deployment): RsView[] {
  const plan = planRollout(d, [], 0);
  const created = plan.actions.find((a) => a.type === 'create')!;
  const rs = (created as { rs: ReplicaSet }).rs;
  const replicas = d.spec.replicas ?? 1;
  return [{ rs: { ...rs, spec: { ...rs.spec, replicas }, status: { replicas, readyReplicas: replicas, availableReplicas: replicas } }, podCount: replicas }];
}

const rollouts: [string, number, Deployment['spec']['strategy'], number][] = [
  ['10 replicas, 25%/25%', 10, undefined, 1],
  ['4 replicas, surge 1, unavailable 0', 4, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, 2],
  ['6 replicas, surge 0, unavailable 2', 6, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 2 } }, 1],
  ['3 replicas, 50%/50%, slow pods', 3, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: '50%' } }, 4],
];
for (const [name, replicas, strategy, lag] of rollouts) {
  test(`rollout - ${name}: stays within bounds and completes`, () => {
    const before = deployment(replicas, 'v1', strategy);
    const after = deployment(replicas, 'v2', strategy);
    const { views, steps } = simulate(after, steady(before), lag);
    assert.ok(steps < 200, 'it converged');
    const live = views.filter((v) => (v.rs.spec.replicas ?? 0) > 0);
    assert.is(live.length, 1);
    assert.is(live[0].rs.spec.template.spec.containers[0].image, 'v2');
    assert.is(revisionOf(live[0].rs), 2);
  });
}

// An HPA rescales a Deployment mid-rollout: the rollout carries on to the new count, all of it on
// the new template, within the new count's surge and unavailability at every step.
for (const [from, to] of [[4, 8], [8, 4], [10, 3]]) {
  test(`rollout - rescaled from ${from} to ${to} half-way: completes at ${to}, within bounds`, () => {
    const strategy: Deployment['spec']['strategy'] = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
    const { views, steps } = simulate(deployment(from, 'v2', strategy), steady(deployment(from, 'v1', strategy)), 2, { atStep: 2, replicas: to });
    assert.ok(steps < 200, 'it converged');
    const live = views.filter((v) => (v.rs.spec.replicas ?? 0) > 0);
    assert.equal(live.map((v) => [v.rs.spec.template.spec.containers[0].image, v.rs.spec.replicas]), [['v2', to]]);
  });
}

test('rollout - Recreate scales the old to zero before the new starts', () => {
  const d1 = deployment(3, 'v1', { type: 'Recreate' });
  const d2 = deployment(3, 'v2', { type: 'Recreate' });
  const start = steady(d1);
  const first = planRollout(d2, start, 0);
  assert.ok(first.actions.some((a) => a.type === 'scale' && a.name === start[0].rs.metadata.name && a.replicas === 0));
  assert.not.ok(first.actions.some((a) => a.type === 'scale' && a.replicas > 0), 'nothing new while old pods remain');
});

test('rollout - undo makes the old ReplicaSet the newest revision again, and no new one is made', () => {
  const d1 = deployment(2, 'v1');
  const d2 = deployment(2, 'v2');
  const { views } = simulate(d2, steady(d1), 1);
  const back = planRollout(d1, views, 5);
  assert.not.ok(back.actions.some((a) => a.type === 'create'));
  assert.ok(back.actions.some((a) => a.type === 'setRevision' && a.revision === 3));
});

test('rollout - history beyond revisionHistoryLimit is deleted, oldest first', () => {
  const d = deployment(1, 'v9', undefined, { revisionHistoryLimit: 1 });
  const old = (i: number): RsView => ({ rs: { ...steady(deployment(1, `v${i}`))[0].rs, metadata: { ...steady(deployment(1, `v${i}`))[0].rs.metadata, annotations: { 'deployment.kubernetes.io/revision': String(i) } }, spec: { ...steady(deployment(1, `v${i}`))[0].rs.spec, replicas: 0 }, status: { replicas: 0 } }, podCount: 0 });
  const views = [old(1), old(2), old(3), ...steady(d)];
  const plan = planRollout(d, views, 0);
  assert.equal(plan.actions.filter((a) => a.type === 'delete').map((a) => (a as { name: string }).name), [views[0].rs.metadata.name, views[1].rs.metadata.name]);
});

test('status - progress deadline', () => {
  const d = deployment(2, 'v1', undefined, { progressDeadlineSeconds: 10 });
  const views = steady(d).map((v) => ({ ...v, rs: { ...v.rs, status: { replicas: 2, availableReplicas: 1 } } }));
  const stuck = { ...d, status: { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 1, conditions: [{ type: 'Progressing', status: 'True' as const, reason: 'ReplicaSetUpdated', lastUpdateTime: new Date(0).toISOString() }] } };
  const plan = planRollout(stuck, views, 11_000);
  assert.is(plan.status.conditions!.find((c) => c.type === 'Progressing')!.reason, 'ProgressDeadlineExceeded');
  const ok = planRollout(stuck, views, 5_000);
  assert.is(ok.status.conditions!.find((c) => c.type === 'Progressing')!.status, 'True');
});

test.run();
