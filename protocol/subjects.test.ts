import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  apiInstanceSubject, apiSubject, jsConsumerCreateSubject, jsConsumerDeleteSubject, jsDirectGetSubject, jsStreamInfoSubject,
  kvKeyPrefix, kvKeySubject, kvKeysWildcard, kvStream, parseAckSubject, parseApiSubject,
} from './subjects.ts';

// nats-server answers on these exact subjects; a typo here is a request nobody answers.
const jetstream: [string, string, string][] = [
  ['KV stream', kvStream('skiff-pods'), 'KV_skiff-pods'],
  ['KV key', kvKeySubject('skiff-pods', 'default/web'), '$KV.skiff-pods.default/web'],
  ['KV keys wildcard', kvKeysWildcard('skiff-pods'), '$KV.skiff-pods.>'],
  ['stream info', jsStreamInfoSubject('KV_skiff-pods'), '$JS.API.STREAM.INFO.KV_skiff-pods'],
  ['direct get', jsDirectGetSubject('KV_skiff-pods'), '$JS.API.DIRECT.GET.KV_skiff-pods'],
  ['consumer create', jsConsumerCreateSubject('KV_skiff-pods'), '$JS.API.CONSUMER.CREATE.KV_skiff-pods'],
  ['consumer delete', jsConsumerDeleteSubject('KV_skiff-pods', 'abc'), '$JS.API.CONSUMER.DELETE.KV_skiff-pods.abc'],
];
for (const [name, got, want] of jetstream) test(`jetstream subjects - ${name} is ${want}`, () => assert.is(got, want));

test('jetstream subjects - a key is what follows the prefix', () => {
  const subject = kvKeySubject('skiff-pods', 'ns/a.b');
  assert.is(subject.slice(kvKeyPrefix('skiff-pods').length), 'ns/a.b');
});

const acks: [string, { streamSeq: number; consumerSeq: number } | undefined][] = [
  ['$JS.ACK.KV_pods.abc.1.42.7.1700000000.3', { streamSeq: 42, consumerSeq: 7 }],
  ['$JS.ACK.hub.ACCHASH.KV_pods.abc.1.42.7.1700000000.0.tok', { streamSeq: 42, consumerSeq: 7 }],
  ['$JS.ACK.hub.ACCHASH.KV_pods.abc.1.42.7.1700000000.0', { streamSeq: 42, consumerSeq: 7 }],
  ['_INBOX.x.y', undefined],
  ['$JS.ACK.too.short', undefined],
];
for (const [subject, want] of acks) test(`ack subjects - ${subject}`, () => assert.equal(parseAckSubject(subject), want));

test('api subjects - either form parses back', () => {
  assert.equal(parseApiSubject(apiSubject('pods', 'create', 'node-1')), { resource: 'pods', verb: 'create', origin: 'node-1' });
  assert.equal(parseApiSubject(apiInstanceSubject('a1', 'pods', 'list')), { resource: 'pods', verb: 'list' });
  assert.is(parseApiSubject('skiff.node.n1.logs'), null);
});

test.run();
