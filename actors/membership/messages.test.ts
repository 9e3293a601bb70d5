import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pack } from 'msgpackr';
import { PROTOCOL_VERSION } from '../../protocol/codec.ts';
import { BadRequest } from '../../protocol/errors.ts';
import { decodeMemberChange, decodeMessage, encodeMemberChange, encodeMessage, type Message } from './messages.ts';

test('messages: round trip', () => {
  const msg: Message = { type: 'ping', from: 'a', target: 'b', news: [{ type: 'suspect', name: 'c', incarnation: 2, from: 'a' }] };
  assert.equal(decodeMessage(encodeMessage(msg)), msg);
  const state: Message = { type: 'state', from: 'a', members: [{ name: 'a', role: 'master', incarnation: 0, state: 'alive', since: 5 }] };
  assert.equal(decodeMessage(encodeMessage(state)), state);
});

const bad: [string, unknown, RegExp][] = [
  ['wrong version', { v: 99, type: 'ping' }, /unsupported protocol version 99/],
  ['unknown type', { v: PROTOCOL_VERSION, type: 'hello', from: 'a' }, /unknown gossip message type "hello"/],
  ['no sender', { v: PROTOCOL_VERSION, type: 'gossip', news: [] }, /field from/],
  ['no target', { v: PROTOCOL_VERSION, type: 'ping', from: 'a', news: [] }, /field target/],
  ['news not a list', { v: PROTOCOL_VERSION, type: 'gossip', from: 'a', news: 3 }, /field news must be a list/],
  ['bad news item', { v: PROTOCOL_VERSION, type: 'gossip', from: 'a', news: [{ type: 'zombie', name: 'b', incarnation: 1 }] }, /news\[0\]/],
  ['bad member', { v: PROTOCOL_VERSION, type: 'state', from: 'a', members: [{ name: 'b' }] }, /members\[0\]/],
];
for (const [name, body, re] of bad) {
  test(`messages: ${name} is a BadRequest naming the field`, () => {
    try {
      decodeMessage(pack(body));
      assert.unreachable('decoded');
    } catch (err) {
      assert.instance(err, BadRequest);
      assert.match((err as Error).message, re);
    }
  });
}

test('member change - round trip; another message is refused', () => {
  const change = { observer: 'master-1', member: { name: 'node-2', role: 'node' as const, incarnation: 3, state: 'dead' as const, since: 1699999999000 }, previous: 'suspect' as const, at: 1700000000000 };
  const back = decodeMemberChange(encodeMemberChange(change));
  assert.equal({ observer: back.observer, member: back.member, previous: back.previous, at: back.at }, change);
  assert.throws(() => decodeMemberChange(encodeMessage({ type: 'gossip', from: 'a', news: [] })), (e: Error) => e instanceof BadRequest && /not a member change: gossip/.test(e.message));
});

test.run();
