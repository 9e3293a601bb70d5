import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seededRandom } from '../../protocol/random.ts';
import { currentFaults, LinkFaultsError, NO_FAULTS, parseLinkFaults, releaseAt, RTO_MS, type LinkFaults } from './link-faults.ts';

const faults = (f: Partial<LinkFaults>): LinkFaults => ({ ...NO_FAULTS, until: 10_000, ...f });
/** A random source that returns these values in turn. */
const seq = (...xs: number[]) => () => xs.shift() ?? 0.999;

test('link faults - latency delays a chunk by that much; jitter within its bounds', () => {
  assert.is(releaseAt(faults({ latencyMs: 50 }), 1000, 100, 0, Math.random), 1050);
  assert.is(releaseAt(faults({ latencyMs: 50, jitterMs: 20 }), 1000, 100, 0, seq(0)), 1030);
  assert.is(releaseAt(faults({ latencyMs: 50, jitterMs: 20 }), 1000, 100, 0, seq(1)), 1070);
  assert.is(releaseAt(faults({ latencyMs: 10, jitterMs: 20 }), 1000, 100, 0, seq(0)), 1000, 'never before it was read');
});

test('link faults - a byte stream keeps its order: no chunk before the one ahead of it', () => {
  // Jitter would put the second chunk first; the stream holds it behind.
  assert.is(releaseAt(faults({ latencyMs: 50, jitterMs: 40 }), 1001, 10, 1085, seq(0)), 1085);
});

test('link faults - a lost segment costs a retransmission timeout, a lost retransmission twice that', () => {
  const f = faults({ lossPercent: 10 });
  assert.is(releaseAt(f, 1000, 100, 0, seq(0.5)), 1000, 'one segment, not lost (0.5 ≥ 0.1)');
  assert.is(releaseAt(f, 1000, 100, 0, seq(0.05, 0.5)), 1000 + RTO_MS, 'lost once');
  assert.is(releaseAt(f, 1000, 100, 0, seq(0.05, 0.05, 0.5)), 1000 + RTO_MS + 2 * RTO_MS, 'lost, and its retransmission too');
  // A chunk of 10 segments is held back with probability 1 - 0.9^10 ≈ 0.65.
  assert.is(releaseAt(f, 1000, 14_480, 0, seq(0.6, 0.5)), 1000 + RTO_MS);
  assert.is(releaseAt(f, 1000, 14_480, 0, seq(0.7, 0.5)), 1000);
});

test('link faults - loss over many chunks is near its share', () => {
  const random = seededRandom(7);
  let held = 0;
  for (let i = 0; i < 10_000; i++) if (releaseAt(faults({ lossPercent: 20 }), 0, 100, 0, random) > 0) held++;
  assert.ok(held > 1800 && held < 2200, `${held} of 10000 one-segment chunks held back at 20% loss`);
});

test('link faults - faults end by themselves at their time', () => {
  const f = faults({ partition: true, until: 5000 });
  assert.is(currentFaults(f, 4999), f);
  assert.equal(currentFaults(f, 5000), NO_FAULTS);
});

test('link faults - a faults file is read with each wrong field named', () => {
  assert.equal(parseLinkFaults('{"latencyMs":100,"until":5}'), { latencyMs: 100, jitterMs: 0, lossPercent: 0, partition: false, until: 5 });
  assert.throws(() => parseLinkFaults('{"lossPercent":150}'), (e: Error) => e instanceof LinkFaultsError && /lossPercent: must be a number from 0 to 100/.test(e.message));
  assert.throws(() => parseLinkFaults('{"partition":"yes"}'), /partition: must be true or false/);
  assert.throws(() => parseLinkFaults('{"latencyMs":-1}'), /latencyMs/);
  assert.throws(() => parseLinkFaults('[1]'), /must be an object/);
  assert.throws(() => parseLinkFaults('{'), /not JSON/);
});

test.run();
