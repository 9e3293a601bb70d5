// The HPA's arithmetic, table-driven: the tolerance, missing and not-ready pods, a start-up CPU
// burst, several metrics, both stabilization windows, every policy and selectPolicy, min and max.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  averageValueReplicas, behaviorWithDefaults, combineProposals, decide, DEFAULT_TOLERANCE, emptyHistory, recordScale, resourceUtilizationReplicas,
  scaleDownLimit, scaleUpLimit, type CalcOptions, type History, type PodInfo, type Proposal, type Sample,
} from './algorithm.ts';

const NOW = 10_000_000;
const MIN = 60_000;
const OPTS: CalcOptions = { now: NOW, tolerance: DEFAULT_TOLERANCE, cpuInitializationPeriodMs: 5 * MIN, delayOfInitialReadinessStatusMs: 30_000 };

/** A pod that started 10 minutes ago and has been Ready since, requesting 100m. */
const pod = (name: string, extra: Partial<PodInfo> = {}): PodInfo => ({
  name, phase: 'Running', deleting: false, ready: { status: 'True', since: NOW - 9 * MIN }, startTime: NOW - 10 * MIN, request: 100, ...extra,
});
const samples = (values: Record<string, number>, at = NOW - 1000): Map<string, Sample> => new Map(Object.entries(values).map(([k, value]) => [k, { value, at, windowMs: 5000 }]));
const replicas = (p: Proposal) => ('replicas' in p ? p.replicas : p.error);

test('tolerance: within 10% of target nothing changes; beyond, ceil(current x ratio)', () => {
  const cases: [number[], number][] = [
    [[54, 54, 54], 3], // 108%: within
    [[55, 55, 55], 4], // 110%: 1.1 is 1.1000000000000001 in floating point, past the tolerance, in Kubernetes too
    [[56, 56, 56], 4], // 112%: ceil(3 x 1.12)
    [[45, 45, 45], 3], // 90%
    [[44, 44, 44], 3], // 88%: ceil(2.64) = 3
    [[20, 20, 20], 2], // 40%: ceil(1.2)
    [[100, 100, 100], 6],
  ];
  for (const [usage, want] of cases) {
    const pods = usage.map((_, i) => pod(`p${i}`));
    const got = resourceUtilizationReplicas(3, 50, 'cpu', pods, samples(Object.fromEntries(usage.map((u, i) => [`p${i}`, u]))), OPTS);
    assert.is(replicas(got), want, `usage ${usage} of 100m against 50%`);
  }
  // KEP-4951: a tolerance of the HPA's own.
  const pods = [pod('a'), pod('b')];
  assert.is(replicas(resourceUtilizationReplicas(2, 50, 'cpu', pods, samples({ a: 60, b: 60 }), { ...OPTS, tolerance: 0.25 })), 2, '120% within a 25% tolerance');
});

test('utilization is a whole percentage of the requests, truncated as Kubernetes does; no request, no action', () => {
  const got = resourceUtilizationReplicas(2, 50, 'cpu', [pod('a'), pod('b', { request: 300 })], samples({ a: 100, b: 101 }), OPTS);
  assert.equal(got, { replicas: 2, current: 50 }, '201 of 400 is 50%');
  const none = resourceUtilizationReplicas(2, 50, 'cpu', [pod('a'), pod('b', { request: undefined })], samples({ a: 100, b: 100 }), OPTS);
  assert.match(replicas(none) as string, /pod b has no cpu request/);
});

test('deleting and failed pods are left out; pending and missing ones follow the rules', () => {
  const cases: [string, PodInfo[], Record<string, number>, number][] = [
    ['a deleting pod counts for nothing', [pod('a'), pod('b'), pod('gone', { deleting: true })], { a: 100, b: 100, gone: 0 }, 4],
    ['a failed pod counts for nothing', [pod('a'), pod('b'), pod('dead', { phase: 'Failed' })], { a: 100, b: 100 }, 4],
    // Scaling up: a pod without figures counts as 0, damping the step (2 x 200% and one at 0: 133%).
    ['missing, scaling up: counted as 0', [pod('a'), pod('b'), pod('new')], { a: 100, b: 100 }, 4],
    // Scaling down: as exactly at target (10% and 10% and 50% of 100m: 23%, so 2).
    ['missing, scaling down: counted at target', [pod('a'), pod('b'), pod('new')], { a: 10, b: 10 }, 2],
    // Pending, scaling up: as 0; scaling down: left out.
    ['pending, scaling up: counted as 0', [pod('a'), pod('b'), pod('p', { phase: 'Pending' })], { a: 100, b: 100 }, 4],
    // 160% on the ready two, but 107% with the pending one at 0: within the tolerance.
    ['pending, scaling up: counted as 0, which can cancel a small step', [pod('a'), pod('b'), pod('p', { phase: 'Pending' })], { a: 80, b: 80 }, 3],
    ['pending, scaling down: left out', [pod('a'), pod('b'), pod('p', { phase: 'Pending' })], { a: 10, b: 10 }, 1],
  ];
  for (const [what, pods, usage, want] of cases) {
    assert.is(replicas(resourceUtilizationReplicas(pods.filter((p) => !p.deleting && p.phase !== 'Failed').length, 50, 'cpu', pods, samples(usage), OPTS)), want, what);
  }
});

test('an adjustment that would reverse the direction, or land within the tolerance, means no change', () => {
  // 2 pods at 120% of target want up; a missing pod counted as 0 brings it to 80%: down. No change.
  assert.is(replicas(resourceUtilizationReplicas(3, 50, 'cpu', [pod('a'), pod('b'), pod('m')], samples({ a: 60, b: 60 }), OPTS)), 3);
  // 2 pods at 60% of target want down; a missing one counted at target makes 72% of it: ceil(0.72 x 3) is still 3.
  assert.is(replicas(resourceUtilizationReplicas(3, 50, 'cpu', [pod('a'), pod('b'), pod('m')], samples({ a: 30, b: 30 }), OPTS)), 3);
  // 2 pods at 130%, one missing counted as 0: 86.7%, now down: no change.
  assert.is(replicas(resourceUtilizationReplicas(3, 50, 'cpu', [pod('a'), pod('b'), pod('m')], samples({ a: 65, b: 65 }), OPTS)), 3);
});

test('a start-up CPU burst does not scale: not-ready pods and young pods\' first samples are set aside', () => {
  const young = NOW - 20_000;
  const burst = [
    pod('old-1'), pod('old-2'),
    // Started 20 s ago, not ready yet, burning CPU while it loads.
    pod('new-1', { startTime: young, ready: { status: 'False', since: young } }),
    // Ready 2 s ago: its sample's 5 s window began before that, so it shows the start-up.
    pod('new-2', { startTime: young, ready: { status: 'True', since: NOW - 2000 } }),
  ];
  const usage = { 'old-1': 50, 'old-2': 50, 'new-1': 400, 'new-2': 400 };
  assert.is(replicas(resourceUtilizationReplicas(4, 50, 'cpu', burst, samples(usage), OPTS)), 4, 'the old pods are at target: no scale-up on the burst');
  // The same figures, had they counted, would have more than quadrupled the deployment (kubernetes#29989).
  const counted = burst.map((p) => ({ ...p, startTime: NOW - 10 * MIN, ready: { status: 'True' as const, since: NOW - 9 * MIN } }));
  assert.is(replicas(resourceUtilizationReplicas(4, 50, 'cpu', counted, samples(usage), OPTS)), 18);
  // A pod past the initialization period that is not ready but was once: its figure counts.
  const wasReady = [pod('a'), pod('b', { ready: { status: 'False', since: NOW - MIN } })];
  assert.is(replicas(resourceUtilizationReplicas(2, 50, 'cpu', wasReady, samples({ a: 100, b: 100 }), OPTS)), 4);
  // Pods metrics are not held to CPU's readiness rules.
  assert.is(replicas(averageValueReplicas(4, 50, burst, samples(usage), OPTS)), 18);
});

test('Pods metrics: the average against the target value', () => {
  const pods = [pod('a'), pod('b')];
  assert.equal(averageValueReplicas(2, 10, pods, samples({ a: 20, b: 20 }), OPTS), { replicas: 4, current: 20 });
  assert.equal(averageValueReplicas(2, 10, pods, samples({ a: 10.5, b: 10.5 }), OPTS), { replicas: 2, current: 10.5 });
  assert.match(replicas(averageValueReplicas(2, 10, pods, new Map(), OPTS)) as string, /no figures for any ready pod/);
  assert.match(replicas(averageValueReplicas(0, 10, [], new Map(), OPTS)) as string, /no pods match/);
});

test('several metrics: the largest proposal wins; failures block only a scale-down', () => {
  assert.equal(combineProposals(3, [{ replicas: 5, current: 1 }, { replicas: 7, current: 2 }, { replicas: 2, current: 3 }]), { replicas: 7, current: 1 });
  assert.is(replicas(combineProposals(3, [{ replicas: 5, current: 1 }, { error: 'no figures' }])), 5, 'up on what is known');
  assert.match(replicas(combineProposals(3, [{ replicas: 2, current: 1 }, { error: 'no figures' }])) as string, /1 of 2 metrics invalid; the first: no figures/);
  assert.match(replicas(combineProposals(3, [{ error: 'a' }, { error: 'b' }])) as string, /2 of 2 metrics invalid/);
});

// ---- Behaviors ----

const B = behaviorWithDefaults();
const at = (seconds: number) => NOW + seconds * 1000;

test('defaults: scale up at once by max(4 pods, 100%) per 15 s; down after a 300 s window', () => {
  const h = emptyHistory();
  assert.is(decide(h, B, 2, 20, 1, 100, at(0)).replicas, 6, '2 + 4 pods beats 2 x 2');
  assert.is(decide(emptyHistory(), B, 10, 50, 1, 100, at(0)).replicas, 20, '100% of 10 beats 4 pods');
  const limited = decide(emptyHistory(), B, 10, 50, 1, 100, at(0)).limited;
  assert.equal(limited, { status: 'True', reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
  // Within one period, what was already added counts against the policy.
  const h2 = emptyHistory();
  recordScale(h2, B, 2, 6, at(0));
  assert.is(decide(h2, B, 6, 20, 1, 100, at(5)).replicas, 6, '2 at the period\'s start: at most 6 until it ends');
  assert.is(decide(h2, B, 6, 20, 1, 100, at(16)).replicas, 12, 'a new period: 100% of 6');
});

test('the scale-down window holds the highest recent recommendation', () => {
  const h = emptyHistory();
  assert.is(decide(h, B, 6, 6, 1, 100, at(0)).replicas, 6);
  const d = decide(h, B, 6, 2, 1, 100, at(10));
  assert.is(d.replicas, 6, 'the recommendation of 10 s ago was 6');
  assert.equal(d.stabilized.reason, 'ScaleDownStabilized');
  assert.is(decide(h, B, 6, 2, 1, 100, at(299)).replicas, 6);
  assert.is(decide(h, B, 6, 2, 1, 100, at(301)).replicas, 2, 'the 6 has left the window');
  // A short window, as the interface asks: about 5 s after the load ends.
  const fast = behaviorWithDefaults({ scaleDown: { stabilizationWindowSeconds: 5 } });
  const h2 = emptyHistory();
  decide(h2, fast, 4, 4, 1, 10, at(0));
  assert.is(decide(h2, fast, 4, 1, 1, 10, at(3)).replicas, 4);
  assert.is(decide(h2, fast, 4, 1, 1, 10, at(6)).replicas, 1);
});

test('the scale-up window holds the lowest recent recommendation', () => {
  const slowUp = behaviorWithDefaults({ scaleUp: { stabilizationWindowSeconds: 60 } });
  const h = emptyHistory();
  assert.is(decide(h, slowUp, 2, 2, 1, 100, at(0)).replicas, 2);
  const d = decide(h, slowUp, 2, 8, 1, 100, at(30));
  assert.is(d.replicas, 2);
  assert.equal(d.stabilized.reason, 'ScaleUpStabilized');
  assert.is(decide(h, slowUp, 2, 8, 1, 100, at(61)).replicas, 6, 'the 2 left the window; 8 held to +4 pods');
  assert.equal(decide(emptyHistory(), B, 3, 3, 1, 10, at(0)).stabilized, { reason: 'ReadyForNewScale', message: 'recommended size matches current size' });
});

test('policies and selectPolicy: Max takes the larger change, Min the smaller, Disabled none', () => {
  const h: History = emptyHistory();
  const rules = (selectPolicy: 'Max' | 'Min' | 'Disabled') => ({
    stabilizationWindowSeconds: 0, selectPolicy,
    policies: [{ type: 'Pods' as const, value: 2, periodSeconds: 60 }, { type: 'Percent' as const, value: 50, periodSeconds: 60 }],
  });
  assert.is(scaleUpLimit(10, h, rules('Max'), NOW), 15, 'Max of +2 and +50%');
  assert.is(scaleUpLimit(10, h, rules('Min'), NOW), 12);
  assert.is(scaleUpLimit(10, h, rules('Disabled'), NOW), 10);
  assert.is(scaleDownLimit(10, h, rules('Max'), NOW), 5, 'Max change down: -50%');
  assert.is(scaleDownLimit(10, h, rules('Min'), NOW), 8, 'Min change down: -2');
  assert.is(scaleDownLimit(10, h, rules('Disabled'), NOW), 10);
  // Percentages: up rounds up (a change of less than one pod still adds one), down truncates.
  assert.is(scaleUpLimit(3, h, { ...rules('Max'), policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] }, NOW), 4);
  assert.is(scaleDownLimit(3, h, { ...rules('Max'), policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] }, NOW), 2);
  // A disabled direction holds the count, and says which limit held it.
  const noDown = behaviorWithDefaults({ scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } });
  const d = decide(emptyHistory(), noDown, 5, 2, 1, 10, at(0));
  assert.is(d.replicas, 5);
  assert.equal(d.limited.reason, 'ScaleDownLimit');
  // Events in the period move the period's start: down 4 after up 2 within it.
  const h2 = emptyHistory();
  recordScale(h2, B, 8, 10, at(0));
  assert.is(scaleDownLimit(10, h2, rules('Min'), at(10)), 6, 'from 8 at the period\'s start, -2');
});

test('min and max clamp, naming why', () => {
  const up = decide(emptyHistory(), B, 4, 50, 1, 6, at(0));
  assert.equal([up.replicas, up.limited.reason], [6, 'TooManyReplicas']);
  const down = decide(emptyHistory(), behaviorWithDefaults({ scaleDown: { stabilizationWindowSeconds: 0 } }), 4, 1, 3, 10, at(0));
  assert.equal([down.replicas, down.limited.reason], [3, 'TooFewReplicas']);
  const free = decide(emptyHistory(), B, 4, 5, 1, 10, at(0));
  assert.equal(free.limited, { status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' });
});

test('recorded scalings older than the longest period are forgotten', () => {
  const h = emptyHistory();
  recordScale(h, B, 1, 5, at(0));
  recordScale(h, B, 5, 9, at(20));
  assert.equal(h.scaleUps.map((e) => e.change), [4], 'the first left the 15 s period');
  recordScale(h, B, 9, 3, at(21));
  assert.equal(h.scaleDowns, [{ at: at(21), change: 6 }]);
});

test.run();
