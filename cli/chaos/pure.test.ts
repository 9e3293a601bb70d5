// skiff chaos' pure parts: reading an experiment, the selector modes and the seeded schedule, the
// probe arithmetic, verdict and resilience score, and the store checker on histories built by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHistory, linearizable, type Op } from './checker.ts';
import { ExperimentError, parseExperiment } from './experiment.ts';
import { probeHeld, resilienceScore, verdictOf, type ProbeOutcome } from './score.ts';
import { randomTimes, seededRandom, selectTargets } from './select.ts';
import { checkOnce } from './probes.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const EXPERIMENT = `
apiVersion: skiff.io/v1
kind: ChaosExperiment
metadata: {name: t}
spec:
  seed: 7
  steadyState:
    probes:
      - name: web
        http: {url: "http://127.0.0.1:1/", successRate: 100}
  method:
    duration: 20s
    faults:
      - name: kill
        action: kill-node
        target: {mode: fixed, value: 2}
        at: [2s, 10s]
      - name: pauses
        action: pause-node
        duration: 1s
        random: {count: 3}
  probes:
    - name: recovered
      object: {resource: deployments, namespace: demo, name: hello, path: status.availableReplicas, equals: 3}
      recovery: {within: 10s}
`;

test('experiment - read with defaults; random times come from the seed', () => {
  const e = parseExperiment(EXPERIMENT);
  assert.is(e.name, 't');
  assert.is(e.durationMs, 20_000);
  assert.equal(e.faults[0].at, [2000, 10_000]);
  assert.equal(e.faults[0].target, { mode: 'fixed', value: 2, namespace: undefined, names: undefined, labels: undefined });
  assert.is(e.faults[1].at.length, 3);
  assert.ok(e.faults[1].at.every((t) => t >= 0 && t < 20_000));
  assert.equal(parseExperiment(EXPERIMENT).faults[1].at, e.faults[1].at, 'the same seed, the same times');
  assert.equal(e.steadyState[0].http, { url: 'http://127.0.0.1:1/', expectStatus: 200, timeoutMs: 2000, successRate: 100 });
  assert.equal(e.probes[0].recovery, { withinMs: 10_000 });
});

test('experiment - every mistake named with its field', () => {
  const bad = `
apiVersion: v1
kind: ChaosExperiment
metadata: {}
spec:
  method:
    duration: 10
    faults:
      - action: explode
        target: {mode: fixed}
        at: 30s
  probes:
    - name: p
      recovery: {within: 5s}
`;
  const err = (() => { try { parseExperiment(bad); } catch (e) { return e as Error; } return undefined; })();
  assert.instance(err, ExperimentError);
  for (const m of [
    /apiVersion: must be skiff.io\/v1/, /metadata.name: required/, /spec.method.duration: "10" is not a duration|spec.method.duration: a duration is needed/,
    /spec.method.faults\[0\].action: must be one of kill-node/, /spec.method.faults\[0\].target.value: required with mode fixed/,
    /spec.probes\[0\].recovery: says how long/,
  ]) assert.match(err!.message, m);
});

test('experiment - network faults: latency and jitter, loss, partition; a missing or wrong figure named', () => {
  const net = (fault: string) => parseExperiment(EXPERIMENT.replace('action: pause-node\n        duration: 1s', fault)).faults[1];
  const delay = net('action: network-delay\n        latency: 100ms\n        jitter: 20ms\n        duration: 5s');
  assert.equal([delay.action, delay.latencyMs, delay.jitterMs, delay.durationMs], ['network-delay', 100, 20, 5000]);
  assert.is(net('action: network-loss\n        loss: 25').lossPercent, 25);
  assert.is(net('action: network-partition\n        duration: 15s').durationMs, 15_000);
  assert.throws(() => net('action: network-loss'), /faults\[1\]\.loss: required/);
  assert.throws(() => net('action: network-loss\n        loss: 150'), /faults\[1\]\.loss: must be a number from 0 to 100/);
  assert.throws(() => net('action: network-delay'), /faults\[1\]\.latency: a duration is needed/);
});

test('select - each mode picks as Chaos Mesh picks, the same for the same seed', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10'];
  const r = () => seededRandom(42);
  assert.is(selectTargets(nodes, 'one', undefined, r()).length, 1);
  assert.equal(selectTargets(nodes, 'all', undefined, r()), nodes);
  assert.is(selectTargets(nodes, 'fixed', 3, r()).length, 3);
  assert.is(selectTargets(nodes, 'fixed', 30, r()).length, 10, 'no more than there are');
  assert.is(selectTargets(nodes, 'fixed-percent', 25, r()).length, 2, '25% of 10, rounded down');
  assert.is(selectTargets(['a'], 'fixed-percent', 10, r()).length, 1, 'at least one');
  for (let seed = 0; seed < 50; seed++) {
    const n = selectTargets(nodes, 'random-max-percent', 50, seededRandom(seed)).length;
    assert.ok(n >= 1 && n <= 5, `random-max-percent 50: ${n}`);
  }
  const picked = selectTargets(nodes, 'fixed', 4, r());
  assert.equal(selectTargets(nodes, 'fixed', 4, r()), picked, 'seeded');
  assert.is(new Set(picked).size, 4, 'distinct');
  assert.equal(selectTargets([], 'all', undefined, r()), []);
  const times = randomTimes(5, 1000, seededRandom(3));
  assert.equal(times, [...times].sort((a, b) => a - b));
});

const outcome = (o: Partial<ProbeOutcome>): ProbeOutcome => ({ name: 'p', kind: 'http', phase: 'during', checks: 100, passed: 100, threshold: 99, ...o });

test('score - a probe holds at its threshold; recovery within its maximum; verdict and Litmus\' resilience score', () => {
  assert.ok(probeHeld(outcome({ passed: 99 })));
  assert.not.ok(probeHeld(outcome({ passed: 98 })));
  assert.not.ok(probeHeld(outcome({ checks: 0, passed: 0 })), 'never checked is not held');
  assert.ok(probeHeld(outcome({ kind: 'recovery', recoveriesMs: [1200, 3000], withinMs: 5000 })));
  assert.not.ok(probeHeld(outcome({ kind: 'recovery', recoveriesMs: [1200, undefined], withinMs: 5000 })), 'one never recovered');
  const v = verdictOf([outcome({ name: 'web' }), outcome({ name: 'slow', passed: 50 }), outcome({ name: 'before', phase: 'before' })]);
  assert.is(v.verdict, 'Fail');
  assert.equal(v.failed, ['slow (during): 50.00% of 100 checks passed; 99% needed']);
  assert.is(Math.round(v.probeSuccessPercentage), 67);
  assert.is(verdictOf([outcome({})]).verdict, 'Pass');
  // Litmus: Σ weight × probe success % / Σ weight.
  assert.is(resilienceScore([{ weight: 10, probeSuccessPercentage: 100 }, { weight: 5, probeSuccessPercentage: 40 }]), 80);
});

const op = (process: number, f: 'read' | 'cas', invoke: number, complete: number | undefined, outcome: Op['outcome'], v: { value?: number; from?: number; to?: number }): Op => ({ process, key: 'k', f, invoke, complete, outcome, ...v });

test('checker - a real-looking history passes; a stale read, a lost write and a reused uid are flagged', () => {
  const good: Op[] = [
    op(1, 'cas', 0, 10, 'ok', { from: 0, to: 1 }),
    op(2, 'read', 5, 12, 'ok', { value: 1 }), // concurrent with the write: may see it
    op(2, 'cas', 13, 20, 'ok', { from: 1, to: 2 }),
    op(3, 'cas', 14, 19, 'fail', { from: 1, to: 2 }), // lost the race: no effect
    op(1, 'read', 21, 25, 'ok', { value: 2 }),
    op(3, 'cas', 26, undefined, 'unknown', { from: 2, to: 3 }), // a timeout: may have happened
    op(1, 'read', 40, 41, 'ok', { value: 3 }),
  ];
  assert.is(linearizable(good, 0), undefined);
  assert.ok(checkHistory(good, { initial: 0, finals: new Map([['k', 3]]), uids: ['a', 'b'] }).ok);
  // A read after a write completed that does not see it.
  const stale: Op[] = [op(1, 'cas', 0, 10, 'ok', { from: 0, to: 1 }), op(2, 'read', 20, 25, 'ok', { value: 0 })];
  const s = checkHistory(stale, { initial: 0, finals: new Map([['k', 1]]), uids: [] });
  assert.not.ok(s.ok);
  assert.match(s.problems.join('\n'), /k: not linearizable: no order of the operations explains the read of 0 by client 2/);
  // Two increments acknowledged, the final value holds one.
  const lost: Op[] = [op(1, 'cas', 0, 10, 'ok', { from: 0, to: 1 }), op(2, 'cas', 11, 20, 'ok', { from: 1, to: 2 })];
  assert.match(checkHistory(lost, { initial: 0, finals: new Map([['k', 1]]), uids: [] }).problems.join('\n'), /k: lost writes: the final value is 1, but 2 increments from 0 were acknowledged/);
  assert.match(checkHistory([], { initial: 0, finals: new Map(), uids: ['u1', 'u2', 'u1'] }).problems.join('\n'), /uids handed out twice: u1/);
});

test('prom probe - a PromQL query\'s first sample against a value, at a Prometheus of the test\'s own; burn-memory\'s size read', async () => {
  const server = createServer((q, res) => {
    const query = new URL(q.url!, 'http://x').searchParams.get('query');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(query === 'bad(' ? { status: 'error', error: 'parse error' } : { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '3'] }] } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const probe = (query: string, comparator: '>=' | '<', value: number) => ({ name: 'p', intervalMs: 100, prom: { url, query, comparator, value, successRate: 100 } });
    const none = undefined as unknown as Parameters<typeof checkOnce>[1];
    assert.equal(await checkOnce(probe('sum(up)', '>=', 3), none), { ok: true });
    assert.equal(await checkOnce(probe('sum(up)', '<', 3), none), { ok: false, detail: 'sum(up) is 3, not < 3' });
    assert.equal(await checkOnce(probe('bad(', '>=', 1), none), { ok: false, detail: 'Prometheus: parse error' });
  } finally {
    server.close();
  }
  const e = parseExperiment(EXPERIMENT.replace('action: pause-node\n        duration: 1s', 'action: burn-memory\n        size: 64Mi\n        duration: 1s'));
  assert.is(e.faults[1].bytes, 64 * 2 ** 20);
});

test.run();
