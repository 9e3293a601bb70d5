// The only place subject strings are spelled out.

const API = 'skiff.api';

/**
 * A request to the apiserver queue group. A node adds its own name as the last token, so that
 * per-node credentials can later confine it to `skiff.api.*.*.<node>`.
 */
export function apiSubject(resource: string, verb: string, origin?: string): string {
  return origin ? `${API}.${resource}.${verb}.${origin}` : `${API}.${resource}.${verb}`;
}

/** `skiff.api.version.get`: the apiserver's build and protocol (not a kind; see protocol/version.ts). */
export const VERSION_RESOURCE = 'version';

/** `skiff.api.accessreviews.create`: may a user do something (not a kind; protocol/identity.ts AccessReview). */
export const ACCESS_REVIEW_RESOURCE = 'accessreviews';

/** What the apiserver queue group subscribes to. */
export const API_WILDCARD = `${API}.>`;
export const APISERVER_QUEUE = 'apiserver';

const APISERVER = 'skiff.apiserver';

/**
 * Each apiserver also answers on a subject of its own, and says every APISERVER_BEAT_MS that it is
 * there: clients send to apiservers they have heard from lately, so that one that has stopped
 * answering (paused, hung) stops getting requests. The queue group alone cannot do this: NATS
 * keeps a stopped process in it for as long as it has data to send it.
 */
export const APISERVER_BEAT = `${APISERVER}._beat`;
export const APISERVER_BEAT_MS = 500;

/** A request to apiserver `instance` alone: `skiff.apiserver.<instance>.<resource>.<verb>[.<origin>]`. */
export function apiInstanceSubject(instance: string, resource: string, verb: string, origin?: string): string {
  return `${APISERVER}.${instance}.${apiSubject(resource, verb, origin).slice(API.length + 1)}`;
}

export function apiInstanceWildcard(instance: string): string {
  return `${APISERVER}.${instance}.>`;
}

/** Either form of an apiserver request subject. */
export function parseApiSubject(subject: string): { resource: string; verb: string; origin?: string } | null {
  const t = subject.split('.');
  const at = t[0] === 'skiff' && t[1] === 'api' ? 2 : t[0] === 'skiff' && t[1] === 'apiserver' ? 3 : -1;
  if (at < 0 || t.length < at + 2 || t.length > at + 3) return null;
  return { resource: t[at], verb: t[at + 1], ...(t[at + 2] ? { origin: t[at + 2] } : {}) };
}

const NODE = 'skiff.node';

/**
 * Kubelet-served operations (logs, exec): `skiff.node.<node>.<op>[.<origin>]`, the requester's
 * token last so that the kubelet knows whom to authorize (protocol/identity.ts).
 */
export function nodeSubject(node: string, op: string, origin?: string): string {
  return origin ? `${NODE}.${node}.${op}.${origin}` : `${NODE}.${node}.${op}`;
}

/** What a kubelet subscribes to for `op`: the subject with and without a requester's token. */
export function nodeOpSubjects(node: string, op: string): string[] {
  return [nodeSubject(node, op), nodeSubject(node, op, '*')];
}

/** The requester's token of a node operation's subject, if it has one. */
export function nodeSubjectOrigin(subject: string): string | undefined {
  return subject.split('.')[4];
}

/** Where a node's watch streams are delivered, so that they too carry its name. */
export function nodeWatchInbox(node: string, id: string): string {
  return `${NODE}.${node}.watch.${id}`;
}

// Gossip. A member's name is a DNS label, so the `_`-prefixed tokens can never be a member's.
const GOSSIP = 'skiff.gossip';

/** Where a member receives SWIM messages. */
export function gossipSubject(member: string): string {
  return `${GOSSIP}.${member}`;
}

/** Where the answer to a member's message `seq` comes back: its own, numbered, so that NATS's "no responders" names the probe. */
export function gossipReplySubject(member: string, seq: number): string {
  return `${GOSSIP}.${member}.re.${seq}`;
}
export function gossipReplyWildcard(member: string): string {
  return `${GOSSIP}.${member}.re.*`;
}
export function parseGossipReplySeq(subject: string): number {
  return Number(subject.slice(subject.lastIndexOf('.') + 1));
}

/** A joining member's first full-state exchange, answered by one member of the queue group. */
export const GOSSIP_JOIN = `${GOSSIP}._join`;
export const GOSSIP_JOIN_QUEUE = 'gossip-join';

/** `skiff get members`: one member's view (`member` given), or any member's. */
export function gossipMembersSubject(member?: string): string {
  return member ? `${GOSSIP}.${member}.members` : `${GOSSIP}._members`;
}
export const GOSSIP_MEMBERS_QUEUE = 'gossip-members';

/** Each change in a member's view, as it happens (`*`: every member's). */
export function gossipChangesSubject(member: string): string {
  return `${GOSSIP}.${member}.changes`;
}

/** Where a kubelet publishes its node's and pods' usage (protocol/metrics.ts). */
export function metricsSubject(node: string): string {
  return `skiff.metrics.${node}`;
}
export const METRICS_WILDCARD = 'skiff.metrics.*';

export function kvBucket(resource: string): string {
  return `skiff-${resource}`;
}

// JetStream's own subjects, as nats-server names them: the apiserver speaks to its KV buckets
// through these directly rather than through nats.js's KV view (see actors/apiserver/kv-*.ts).

/** The stream that holds KV bucket `bucket`. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** What the subject of every key of a bucket begins with; the key follows it. */
export function kvKeyPrefix(bucket: string): string {
  return `$KV.${bucket}.`;
}

/** Where a bucket's key is written, and what a direct get asks for: `$KV.<bucket>.<key>`. */
export function kvKeySubject(bucket: string, key: string): string {
  return kvKeyPrefix(bucket) + key;
}

/** Every key of a bucket: a consumer's filter. */
export function kvKeysWildcard(bucket: string): string {
  return `${kvKeyPrefix(bucket)}>`;
}

export function jsStreamInfoSubject(stream: string): string {
  return `$JS.API.STREAM.INFO.${stream}`;
}

/** The streams' names: answered by JetStream's meta leader, so only where a server reaches it. */
export const JS_STREAM_NAMES = '$JS.API.STREAM.NAMES';

/** A message get, answered by the stream's leader only. */
export function jsMsgGetSubject(stream: string): string {
  return `$JS.API.STREAM.MSG.GET.${stream}`;
}

/** A stream's direct get, answered by any of its replicas. */
export function jsDirectGetSubject(stream: string): string {
  return `$JS.API.DIRECT.GET.${stream}`;
}

export function jsConsumerCreateSubject(stream: string): string {
  return `$JS.API.CONSUMER.CREATE.${stream}`;
}

export function jsConsumerDeleteSubject(stream: string, consumer: string): string {
  return `$JS.API.CONSUMER.DELETE.${stream}.${consumer}`;
}

const JS_ACK_PREFIX = '$JS.ACK.';

/** The stream and consumer sequences from a JetStream message's ack (reply) subject, v1 or v2 form. */
export function parseAckSubject(reply: string): { streamSeq: number; consumerSeq: number } | undefined {
  if (!reply.startsWith(JS_ACK_PREFIX)) return undefined;
  const t = reply.split('.');
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (base < 0) return undefined;
  return { streamSeq: Number(t[base + 3]), consumerSeq: Number(t[base + 4]) };
}

// Permissions. Identity is the last token of a request's subject (protocol/identity.ts), so each
// identity may publish only subjects that end in its own token, and read only its own inbox.

/** Where an identity's replies arrive: nats.js's `inboxPrefix`; no one else may subscribe there. */
export function inboxPrefix(origin: string): string {
  return `_INBOX.${origin}`;
}

/** What an identity may publish and subscribe to: nats-server's permissions block. */
export interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
  /** May answer the requests it receives (on their reply subjects), and nothing more there. */
  allowResponses: boolean;
}

/**
 * A master: everything, JetStream's own API and the store's buckets included. Said by giving it no
 * permissions at all: nats-server then checks nothing per message, where `allow: [">"]` made it
 * look up every reply subject (each one new) and, with allow_responses, track every request the
 * master received: a fifth of the apiserver's throughput at 64 requests in flight.
 */
export const MASTER_PERMISSIONS = undefined;

/**
 * A node: API requests in its own name; gossip with every member; stream deliveries into the
 * inboxes of those it serves (an inbox token is random, and only its owner reads it). It hears its
 * own node subjects, its own gossip and inbox, the join and members queues, and apiserver beats.
 * No `$JS` or `$KV`, no other node's exec.
 */
export function nodePermissions(node: string): SubjectPermissions {
  return {
    publish: [apiSubject('*', '*', node), apiInstanceSubject('*', '*', '*', node), `${GOSSIP}.>`, '_INBOX.>', metricsSubject(node)],
    subscribe: [`${NODE}.${node}.>`, `${inboxPrefix(node)}.>`, gossipSubject(node), `${gossipSubject(node)}.>`, GOSSIP_JOIN, gossipMembersSubject(), APISERVER_BEAT],
    allowResponses: true,
  };
}

/** A user: API requests and node operations in its own name, members views, its own inbox. */
export function userPermissions(origin: string): SubjectPermissions {
  return {
    publish: [apiSubject('*', '*', origin), apiInstanceSubject('*', '*', '*', origin), nodeSubject('*', '*', origin), gossipMembersSubject('*'), gossipMembersSubject()],
    subscribe: [`${inboxPrefix(origin)}.>`, APISERVER_BEAT, gossipChangesSubject('*')],
    allowResponses: true,
  };
}
