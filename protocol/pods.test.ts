import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { podAvailable, podReady } from './pods.ts';
import type { Condition, Pod } from './types.ts';

const pod = (conditions?: Condition[]): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] }, ...(conditions ? { status: { conditions } } : {}) });
const ready = (status: 'True' | 'False' | 'Unknown', lastTransitionTime?: string): Condition => ({ type: 'Ready', status, ...(lastTransitionTime ? { lastTransitionTime } : {}) });

const readiness: [string, Pod, boolean][] = [
  ['no status', pod(), false],
  ['no Ready condition', pod([{ type: 'PodScheduled', status: 'True' }]), false],
  ['Ready False', pod([ready('False')]), false],
  ['Ready Unknown', pod([ready('Unknown')]), false],
  ['Ready True', pod([{ type: 'PodScheduled', status: 'True' }, ready('True')]), true],
];
for (const [name, p, want] of readiness) test(`ready - ${name}: ${want}`, () => assert.is(podReady(p), want));

const now = Date.parse('2026-01-01T00:01:00Z');
const availability: [string, Pod, number, boolean][] = [
  ['not ready', pod([ready('False', '2026-01-01T00:00:00Z')]), 0, false],
  ['ready, no minReadySeconds', pod([ready('True')]), 0, true],
  ['ready long enough', pod([ready('True', '2026-01-01T00:00:00Z')]), 60, true],
  ['ready, not long enough', pod([ready('True', '2026-01-01T00:00:55Z')]), 10, false],
  ['ready since an unknown time', pod([ready('True')]), 10, false],
];
for (const [name, p, minReady, want] of availability) {
  test(`available - ${name} (minReadySeconds ${minReady}): ${want}`, () => assert.is(podAvailable(p, minReady, now), want));
}

test.run();
