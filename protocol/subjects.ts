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

export function gossipSubject(member: string): string {
  return `skiff.gossip.${member}`;
}
export const GOSSIP_JOIN = 'skiff.gossip.join';

export function kvBucket(resource: string): string {
  return `skiff-${resource}`;
}
