import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NatsConnection } from 'nats';
import { APISERVER_BEAT_MS } from '../../protocol/subjects.ts';
import { ApiServers } from './apiservers.ts';

const fakeNc = { subscribe: () => ({ unsubscribe() {} }) } as unknown as NatsConnection;

function rig() {
  let now = 1_000_000;
  const servers = new ApiServers(fakeNc, () => now);
  return { servers, advance: (ms: number) => { now += ms; } };
}

test('apiservers - none heard: no pick (the client uses the queue group)', () => {
  assert.is(rig().servers.pick(), undefined);
});

test('apiservers - those heard lately are picked in turn', () => {
  const { servers } = rig();
  servers.heard('a');
  servers.heard('b');
  const picks = Array.from({ length: 4 }, () => servers.pick());
  assert.equal(picks.sort(), ['a', 'a', 'b', 'b']);
});

test('apiservers - three beats missed and it is passed over; a beat brings it back', () => {
  const { servers, advance } = rig();
  servers.heard('a');
  servers.heard('b');
  advance(2 * APISERVER_BEAT_MS);
  servers.heard('b');
  advance(2 * APISERVER_BEAT_MS);
  assert.equal([servers.pick(), servers.pick()], ['b', 'b']);
  servers.heard('a');
  assert.equal(new Set([servers.pick(), servers.pick()]), new Set(['a', 'b']));
});

test('apiservers - excluded and forgotten ones are not picked', () => {
  const { servers } = rig();
  servers.heard('a');
  servers.heard('b');
  assert.is(servers.pick(new Set(['a'])), 'b');
  assert.is(servers.pick(new Set(['a', 'b'])), undefined);
  servers.forget('b');
  assert.is(servers.pick(new Set(['a'])), undefined);
  assert.is(servers.pick(), 'a');
});

test.run();
