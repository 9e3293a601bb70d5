import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pack } from 'msgpackr';
import { decode, encode, encodeObject, encodeStoredEvent, encodeWatchEvents, encodeWithRaw, encodeWithStoredObject, MAX_WATCH_BATCH, PROTOCOL_VERSION } from './codec.ts';
import { BadRequest, Conflict, fromWire, Invalid, NotFound, StaleLeader, toWire } from './errors.ts';
import { applyMergePatch, applyPatch, deepEqual, sameEntries } from './merge-patch.ts';
import { dns1123Label, dns1123Subdomain, generatedName, qualifiedName } from './names.ts';
import { apiInstanceSubject, APISERVER_BEAT, apiSubject, parseApiSubject } from './subjects.ts';

test('codec - round trip keeps v and type', () => {
  const msg = decode(encode('request', { name: 'x', n: 3, nested: { a: [1, 'b'] } }));
  assert.is(msg.v, PROTOCOL_VERSION);
  assert.is(msg.type, 'request');
  assert.equal(msg.nested, { a: [1, 'b'] });
});

test('codec - a field encoded once can be appended to many messages', () => {
  const raw = pack({ type: 'ADDED', object: { metadata: { name: 'p' } } });
  for (const seq of [1, 200, 70000]) {
    const msg = decode(encodeWithRaw('watch', { seq }, 'event', raw));
    assert.equal(msg, { seq, v: PROTOCOL_VERSION, type: 'watch', event: { type: 'ADDED', object: { metadata: { name: 'p' } } } });
  }
});

test('codec - an object sent as stored gets its resourceVersion back on decode', () => {
  const stored = encodeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { x: [1] } });
  for (const rv of ['1', '42', '9007199254740991']) {
    const msg = decode(encodeWithStoredObject(stored, rv));
    assert.equal(msg, { v: PROTOCOL_VERSION, type: 'response', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', resourceVersion: rv }, spec: { x: [1] } } });
  }
});

test('codec - a watch event around a stored object decodes as the event with its resourceVersion, in a fast object', () => {
  const stored = encodeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { x: [1] } });
  for (const [type, rv, seq] of [['ADDED', '7', 1], ['MODIFIED', '123456789', 70000]] as const) {
    const msg = decode(encodeWithRaw('watch', { seq }, 'event', encodeStoredEvent(type, stored, rv)));
    assert.equal(msg, { seq, v: PROTOCOL_VERSION, type: 'watch', event: { type, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', resourceVersion: rv }, spec: { x: [1] } } } });
    assert.equal(Object.keys(msg.event as object), ['type', 'object']);
  }
});

test('codec - watch events in one message, numbered from seq, each with its resourceVersion back', () => {
  const stored = (i: number) => encodeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'default' } });
  // Both msgpack array forms: fixarray (up to 15 elements) and array16.
  for (const n of [2, 15, 16, 300]) {
    const events = Array.from({ length: n }, (_, i) => encodeStoredEvent(i % 2 ? 'MODIFIED' : 'ADDED', stored(i), String(100 + i)));
    const msg = decode(encodeWatchEvents(41, events));
    assert.is(msg.seq, 41);
    assert.is(msg.type, 'watch');
    const got = msg.events as { type: string; object: { metadata: { name: string; resourceVersion: string } } }[];
    assert.is(got.length, n);
    got.forEach((e, i) => {
      assert.equal([e.type, e.object.metadata.name, e.object.metadata.resourceVersion], [i % 2 ? 'MODIFIED' : 'ADDED', `p${i}`, String(100 + i)]);
      assert.equal(Object.keys(e), ['type', 'object']);
    });
  }
  assert.throws(() => encodeWatchEvents(1, []), /0 events/);
  assert.throws(() => encodeWatchEvents(1, new Array(MAX_WATCH_BATCH + 1).fill(new Uint8Array([0xc0]))), /65536 events/);
});

const malformed: [string, Uint8Array, RegExp][] = [
  ['garbage bytes', new Uint8Array([0xc1, 0xff, 0x00, 0x12]), /undecodable|malformed/],
  ['empty payload', new Uint8Array(), /undecodable|malformed/],
  ['a bare number', pack(42), /malformed/],
  ['a list', pack([1, 2]), /malformed/],
  ['no version', pack({ type: 'request' }), /unsupported protocol version/],
  ['a future version', pack({ v: 99, type: 'request' }), /unsupported protocol version 99/],
  ['no type', pack({ v: PROTOCOL_VERSION }), /type must be a string/],
];
for (const [name, data, pattern] of malformed) {
  test(`codec - ${name} is a BadRequest`, () => {
    assert.throws(() => decode(data), (e: Error) => e instanceof BadRequest && pattern.test(e.message));
  });
}

test('errors - named classes survive the wire', () => {
  for (const err of [new NotFound('gone'), new Conflict('stale'), new StaleLeader('deposed'), new BadRequest('bad')]) {
    const back = fromWire(decode(encode('error', { error: toWire(err) })).error as never);
    assert.is(back.name, err.name);
    assert.is(back.message, err.message);
    assert.ok(back instanceof (err.constructor as typeof Error));
  }
  const inv = fromWire(toWire(new Invalid('Pod "p"', [{ path: 'spec.x', message: 'required' }])));
  assert.ok(inv instanceof Invalid);
  assert.equal((inv as Invalid).fields, [{ path: 'spec.x', message: 'required' }]);
  assert.ok(new StaleLeader('x') instanceof Conflict, 'StaleLeader is a kind of Conflict');
  assert.is(fromWire({ name: 'Weird', message: 'm', code: 500 }).name, 'InternalError');
});

test('merge patch - RFC 7386', () => {
  assert.equal(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] });
  assert.equal(applyMergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
  assert.equal(applyMergePatch('x', { a: 1 }), { a: 1 });
});

test('merge patch - apply removes what the last apply set and this one does not', () => {
  const patch = applyPatch({ metadata: { labels: { a: '1', b: '2' } }, spec: { x: 1 } }, { metadata: { labels: { a: '1' } }, spec: { y: 2 } });
  assert.equal(patch, { metadata: { labels: { a: '1', b: null } }, spec: { y: 2, x: null } });
});

test('deepEqual - ignores undefined fields', () => {
  assert.ok(deepEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(deepEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.not.ok(deepEqual({ a: [1] }, { a: [1, 2] }));
});

test('deepEqual - table', () => {
  const cases: [unknown, unknown, boolean][] = [
    [1, 1, true], ['1', 1, false], [null, null, true], [null, {}, false], [{}, null, false], [undefined, null, false],
    [[], {}, false], [{}, [], false], [[1, [2, { x: 3 }]], [1, [2, { x: 3 }]], true], [[1, 2], [2, 1], false],
    [{ a: { b: { c: 1 } } }, { a: { b: { c: 1 } } }, true], [{ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, false],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true], [{ a: 1 }, { b: 1 }, false], [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: 1, b: 2 }, { a: 1 }, false], [{ a: null }, {}, false], [{ a: undefined }, { b: undefined }, true],
  ];
  for (const [a, b, want] of cases) assert.is(deepEqual(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
});

test('sameEntries - skips keys on both sides', () => {
  const rv = new Set(['rv']);
  assert.ok(sameEntries({ a: 1, rv: '1' }, { a: 1, rv: '2' }, rv));
  assert.ok(sameEntries({ a: 1, rv: '1' }, { a: 1 }, rv));
  assert.ok(sameEntries({ a: 1, rv: '1', x: 1 }, { a: 1, x: 2 }, new Set(['rv', 'x'])));
  assert.not.ok(sameEntries({ a: 1, rv: '1' }, { a: 2, rv: '1' }, rv));
  assert.not.ok(sameEntries({ a: 1 }, { a: 1, b: 1 }, rv));
});

test('names - DNS-1123', () => {
  assert.equal(dns1123Label('web-1'), []);
  assert.ok(dns1123Label('web.1').length > 0);
  assert.ok(dns1123Label('-web').length > 0);
  assert.ok(dns1123Label('a'.repeat(64)).length > 0);
  assert.equal(dns1123Subdomain('web.example.com'), []);
  assert.equal(qualifiedName('app.kubernetes.io/name'), []);
  assert.ok(qualifiedName('a/b/c').length > 0);
  assert.match(generatedName('web-'), /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

test('subjects - api subjects carry an optional origin', () => {
  assert.equal(parseApiSubject(apiSubject('pods', 'create')), { resource: 'pods', verb: 'create' });
  assert.equal(parseApiSubject(apiSubject('pods', 'status', 'node-1')), { resource: 'pods', verb: 'status', origin: 'node-1' });
  assert.is(parseApiSubject('skiff.other.pods.get'), null);
  assert.equal(parseApiSubject(apiInstanceSubject('a1', 'pods', 'create')), { resource: 'pods', verb: 'create' });
  assert.equal(parseApiSubject(apiInstanceSubject('a1', 'pods', 'status', 'node-1')), { resource: 'pods', verb: 'status', origin: 'node-1' });
  assert.is(apiInstanceSubject('a1', 'pods', 'get'), 'skiff.apiserver.a1.pods.get');
  assert.is(parseApiSubject(APISERVER_BEAT), null);
  assert.is(parseApiSubject('skiff.apiserver.a1.pods'), null);
});

test.run();
