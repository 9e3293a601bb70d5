import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initialProbeState, recordProbe, resolveProbePort, type ProbeKind, type Verdict } from './probe.ts';

// results: a sequence of probe outcomes; want: the verdict after each.
const cases: [string, ProbeKind, { successThreshold?: number; failureThreshold?: number }, boolean[], Verdict[]][] = [
  ['readiness starts failing, one success makes it ready', 'readiness', {}, [true], ['success']],
  ['liveness needs 3 failures in a row', 'liveness', { failureThreshold: 3 }, [false, false, true, false, false, false], ['unknown', 'unknown', 'success', 'success', 'success', 'failure']],
  ['successThreshold 2', 'readiness', { successThreshold: 2 }, [true, false, true, true], ['failure', 'failure', 'failure', 'success']],
  ['failureThreshold 1 flips at once', 'readiness', { failureThreshold: 1 }, [true, false, true], ['success', 'failure', 'success']],
  ['startup passes once it succeeds', 'startup', { failureThreshold: 30 }, [false, false, true], ['unknown', 'unknown', 'success']],
];

for (const [name, kind, probe, results, want] of cases) {
  test(`probe - ${name}`, () => {
    let s = initialProbeState(kind);
    const got = results.map((ok) => (s = recordProbe(s, ok, probe)).verdict);
    assert.equal(got, want);
  });
}

test('probe - initial verdicts', () => {
  assert.is(initialProbeState('readiness').verdict, 'failure');
  assert.is(initialProbeState('liveness').verdict, 'unknown');
});

test('probe - ports by number or name resolve to the allocated host port', () => {
  const ports = [{ name: 'http', containerPort: 8080, hostPort: 41000 }, { containerPort: 9090, hostPort: 41001 }];
  assert.is(resolveProbePort('http', ports), 41000);
  assert.is(resolveProbePort(9090, ports), 41001);
  assert.is(resolveProbePort(7000, ports), 7000, 'an undeclared number is used as given');
  assert.is(resolveProbePort('nope', ports), undefined);
});

test.run();
