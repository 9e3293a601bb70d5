// Who sent a request. NATS messages carry no verified sender, so identity is the last token of the
// subject a request came on, which nats-server lets only that identity publish (see
// natsPermissions in subjects.ts): a node's own name, `u-<name>` for a user, none for a master.
// Node names may therefore not begin with `u-`.

export type Requester =
  | { kind: 'master' }
  | { kind: 'node'; name: string }
  | { kind: 'user'; name: string };

const USER_PREFIX = 'u-';

/** The kinds of identity credentials are made for. */
export type IdentityKind = Requester['kind'];

/** The token a requester puts last on its subjects; none for a master. */
export function originToken(r: Requester): string | undefined {
  if (r.kind === 'master') return undefined;
  return r.kind === 'user' ? USER_PREFIX + r.name : r.name;
}

/** The requester a subject's last token names; no token: a master (only masters may publish those). */
export function requesterOf(origin: string | undefined): Requester {
  if (!origin) return { kind: 'master' };
  if (origin.startsWith(USER_PREFIX)) return { kind: 'user', name: origin.slice(USER_PREFIX.length) };
  return { kind: 'node', name: origin };
}

/** `node "node-1"`, `user "alice"`, `a master`: for Forbidden messages and the audit log. */
export function describeRequester(r: Requester): string {
  return r.kind === 'master' ? 'a master' : `${r.kind} ${JSON.stringify(r.name)}`;
}

/** `delete pods "web-1" in namespace "default"`: for Forbidden messages and the audit log. */
export function describeAccess(a: { verb: string; resource: string; namespace?: string; name?: string }): string {
  const what = a.name ? `${a.resource} ${JSON.stringify(a.name)}` : a.resource;
  return `${a.verb} ${what}${a.namespace ? ` in namespace ${JSON.stringify(a.namespace)}` : ''}`;
}

/** Why a node name cannot be used, or undefined. */
export function nodeNameProblem(name: string): string | undefined {
  if (name.startsWith(USER_PREFIX)) return `a node's name may not begin with "${USER_PREFIX}" (that marks a user on the cluster's subjects)`;
  return undefined;
}

/** A user's or node's name as it may appear in subjects and file names: a DNS label. */
export function identityNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    return `${JSON.stringify(name)} is not a valid name: use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`;
  }
  return undefined;
}

/**
 * A question to the apiserver (`skiff.api.accessreviews.create`), as Kubernetes'
 * SubjectAccessReview: may this user do this? Kubelets ask it before logs and exec, `skiff auth
 * can-i` for its user.
 */
export interface AccessReview {
  user: string;
  verb: string;
  /** With its subresource: `pods/exec`, `pods/log`. */
  resource: string;
  namespace?: string;
  name?: string;
}

export interface AccessReviewResult {
  allowed: boolean;
  /** The binding that allows it, or why nothing does. */
  reason: string;
}
