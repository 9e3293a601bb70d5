// The only place subject strings are spelled out.

const API = 'skiff.api';

/**
 * A request to the apiserver queue group. A node adds its own name as the last token, so that
 * per-node credentials can later confine it to `skiff.api.*.*.<node>`.
 */
export function apiSubject(resource: string, verb: string, origin?: string): string {
  return origin ? `${API}.${resource}.${verb}.${origin}` : `${API}.${resource}.${verb}`;
}

/** What the apiserver queue group subscribes to. */
export const API_WILDCARD = `${API}.>`;
export const APISERVER_QUEUE = 'apiserver';

export function parseApiSubject(subject: string): { resource: string; verb: string; origin?: string } | null {
  const t = subject.split('.');
  if (t.length < 4 || t.length > 5 || t[0] !== 'skiff' || t[1] !== 'api') return null;
  return { resource: t[2], verb: t[3], ...(t[4] ? { origin: t[4] } : {}) };
}

/** Kubelet-served operations: logs, exec, pod queries. */
export function nodeSubject(node: string, op: string): string {
  return `skiff.node.${node}.${op}`;
}

/** Where a node's watch streams are delivered, so that they too carry its name. */
export function nodeWatchInbox(node: string, id: string): string {
  return `skiff.node.${node}.watch.${id}`;
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

export function kvBucket(resource: string): string {
  return `skiff-${resource}`;
}
