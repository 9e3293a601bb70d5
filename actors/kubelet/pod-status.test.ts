import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerState, Pod } from '../../protocol/types.ts';
import { buildPodStatus, podPhase, type ContainerRecord, type PodView } from './pod-status.ts';

const pod = (policy: 'Always' | 'OnFailure' | 'Never', init = 0): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u' },
  spec: {
    restartPolicy: policy,
    containers: [{ name: 'a', command: ['x'] }, { name: 'b', command: ['x'] }],
    initContainers: Array.from({ length: init }, (_, i) => ({ name: `i${i}`, command: ['x'] })),
  },
});

const running: ContainerState = { running: { startedAt: 't' } };
const waiting: ContainerState = { waiting: { reason: 'ContainerCreating' } };
const ok: ContainerState = { terminated: { exitCode: 0, reason: 'Completed' } };
const bad: ContainerState = { terminated: { exitCode: 1, reason: 'Error' } };
const crashLoop: ContainerState = { waiting: { reason: 'CrashLoopBackOff' } };

const rec = (name: string, state: ContainerState, ready = false, lastState?: ContainerState): ContainerRecord => ({ name, state, restartCount: 0, ready, started: !!state.running, ...(lastState ? { lastState } : {}) });
const view = (p: Pod, a: ContainerRecord, b: ContainerRecord, init: ContainerRecord[] = [], initFailed = false): PodView => ({ pod: p, init, containers: [a, b], initFailed });

const phases: [string, PodView, string][] = [
  ['both starting', view(pod('Always'), rec('a', waiting), rec('b', waiting)), 'Pending'],
  ['one running', view(pod('Always'), rec('a', running), rec('b', waiting)), 'Pending'],
  ['both running', view(pod('Always'), rec('a', running), rec('b', running)), 'Running'],
  ['crash looping under Always is still Running', view(pod('Always'), rec('a', crashLoop, false, bad), rec('b', running)), 'Running'],
  ['all done, Never, all succeeded', view(pod('Never'), rec('a', ok), rec('b', ok)), 'Succeeded'],
  ['all done, Never, one failed', view(pod('Never'), rec('a', ok), rec('b', bad)), 'Failed'],
  ['OnFailure with a failure is Running (it restarts)', view(pod('OnFailure'), rec('a', ok), rec('b', bad)), 'Running'],
  ['init containers pending', view(pod('Always', 1), rec('a', waiting), rec('b', waiting), [rec('i0', running)]), 'Pending'],
  ['init container failed under Never', view(pod('Never', 1), rec('a', waiting), rec('b', waiting), [rec('i0', bad)], true), 'Failed'],
];
for (const [name, v, want] of phases) test(`phase - ${name}: ${want}`, () => assert.is(podPhase(v), want));

test('status - conditions follow readiness and keep their transition times', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const p = pod('Always');
  const s1 = buildPodStatus(view(p, rec('a', running, true), rec('b', running, false)), now);
  const cond = (s: typeof s1, t: string) => s.conditions!.find((c) => c.type === t)!;
  assert.is(cond(s1, 'Ready').status, 'False');
  assert.is(cond(s1, 'Ready').message, 'containers with unready status: [b]');
  assert.is(cond(s1, 'PodScheduled').status, 'True');
  const later = new Date('2026-01-01T00:00:05Z');
  const s2 = buildPodStatus(view({ ...p, status: s1 }, rec('a', running, true), rec('b', running, true)), later);
  assert.is(cond(s2, 'Ready').status, 'True');
  assert.is(cond(s2, 'Ready').lastTransitionTime, later.toISOString());
  assert.is(cond(s2, 'Initialized').lastTransitionTime, now.toISOString(), 'unchanged conditions keep their time');
  assert.is(s2.containerStatuses!.length, 2);
});

test.run();
