// Who may do what: pure decisions. A request's requester is the last token of its subject
// (protocol/identity.ts), which nats-server lets only that identity publish. Masters may do
// everything; a node is held to NodeRestriction; a user to the RBAC objects bound to them.
import { NODE_LEASE_NAMESPACE } from '../../protocol/defaults.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import type { ClusterRole, PolicyRule, RoleBinding } from '../../protocol/types.ts';

/** One request as RBAC sees it: `update` on `pods/status`, `create` on `pods/exec`. */
export interface Access {
  verb: string;
  /** The resource, with its subresource after a slash. */
  resource: string;
  /** The API group ('' for the core group). */
  group: string;
  namespace?: string;
  name?: string;
}

/** The verbs that change nothing. */
export const READS = new Set(['get', 'list', 'watch']);

/** The RBAC verb and resource of an API request verb. (Every request pays for this: no spreads.) */
export function accessOf(info: KindInfo, verb: string, opts: { namespace?: string; name?: string; subresource?: string }): Access {
  const slash = info.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : info.apiVersion.slice(0, slash);
  let resource = info.resource;
  if (verb === 'status') {
    verb = 'update';
    resource += '/status';
  } else if (verb === 'bind') {
    verb = 'create';
    resource += '/binding';
  } else if (verb === 'patch' && opts.subresource) resource += `/${opts.subresource}`;
  return { verb, resource, group, namespace: info.namespaced ? opts.namespace : undefined, name: opts.name };
}

// ---- NodeRestriction ----

/** What NodeRestriction needs to know of the object a node's request touches. */
export interface NodeFacts {
  /** The node the pod is bound to (pods only). */
  podNode?: string;
  /** The pod is being deleted (pods only). */
  podTerminating?: boolean;
  /** The top-level fields a merge patch sets, `metadata.x` for metadata's (patches only). */
  patchFields?: string[];
}

/**
 * Kubernetes' Node authorizer and NodeRestriction in one: a node reads what a kubelet needs, writes
 * its own Node (registration, status, its labels), its own Lease, the status of pods bound to it,
 * and Events; it finishes the deletion of its pods once they are being deleted. Undefined when
 * allowed, else the rule the request breaks.
 */
export function nodeRestriction(node: string, a: Access, facts: NodeFacts): string | undefined {
  if (READS.has(a.verb)) return undefined;
  switch (a.resource) {
    case 'nodes':
      if (a.name !== node) return 'a node may write only its own Node';
      if (a.verb === 'create') return undefined;
      if (a.verb === 'patch' && (facts.patchFields ?? []).every((f) => f === 'metadata.labels' || f === 'metadata.annotations')) return undefined;
      return "a node may change only its own Node's status, labels and annotations, not its spec (taints, unschedulable)";
    case 'nodes/status':
      return a.name === node ? undefined : "a node may write only its own Node's status";
    case 'leases':
      if (a.namespace === NODE_LEASE_NAMESPACE && a.name === node && a.verb !== 'delete') return undefined;
      return `a node may write only its own Lease (${NODE_LEASE_NAMESPACE}/${node})`;
    case 'pods/status':
      return facts.podNode === node ? undefined : 'a node may write the status only of pods bound to it';
    case 'pods':
      if (a.verb === 'delete' && facts.podNode === node && facts.podTerminating) return undefined;
      return 'a node may not create, change or delete pods; it only finishes the deletion of pods bound to it once they are being deleted';
    case 'events':
      return a.verb === 'delete' ? 'a node may not delete events' : undefined;
    case 'services/status':
      return undefined; // kube-proxy reports a node port it could not open
    default:
      return `a node may not ${a.verb} ${a.resource}`;
  }
}

// ---- RBAC ----

/** The RBAC objects a decision reads (the apiserver's watch caches). */
export interface RbacView {
  clusterRole(name: string): ClusterRole | undefined;
  role(namespace: string, name: string): ClusterRole | undefined;
  clusterRoleBindings(): RoleBinding[];
  /** A namespace's RoleBindings; every namespace's when none is named. */
  roleBindings(namespace?: string): RoleBinding[];
}

/** One rule a user holds: cluster-wide, or in one namespace; `via` names the binding and role. */
export interface Grant {
  namespace?: string;
  rule: PolicyRule;
  via: string;
}

const matches = (list: string[] | undefined, value: string) => list === undefined || list.includes('*') || list.includes(value);

function ruleAllows(rule: PolicyRule, a: Access): boolean {
  if (!matches(rule.verbs, a.verb) || !matches(rule.apiGroups, a.group)) return false;
  if (!(rule.resources ?? []).some((r) => r === '*' || r === a.resource || (r.endsWith('/*') && a.resource.startsWith(r.slice(0, -1))))) return false;
  return !rule.resourceNames?.length || (a.name !== undefined && rule.resourceNames.includes(a.name));
}

function boundTo(user: string, b: RoleBinding): boolean {
  return (b.subjects ?? []).some((s) => s.kind === 'User' && s.name === user);
}

/**
 * Every rule bound to the user, cluster-wide ones first, in the order a decision tries them. An
 * apiserver keeps them per user until an RBAC object changes, so that a request walks a user's
 * few rules, not every binding in the cluster.
 */
export function grantsOf(user: string, view: RbacView): Grant[] {
  const grants: Grant[] = [];
  for (const b of view.clusterRoleBindings()) {
    if (!boundTo(user, b)) continue;
    const role = b.roleRef.kind === 'ClusterRole' ? view.clusterRole(b.roleRef.name) : undefined;
    const via = `ClusterRoleBinding ${JSON.stringify(b.metadata.name)} (ClusterRole ${JSON.stringify(b.roleRef.name)})`;
    for (const rule of role?.rules ?? []) grants.push({ rule, via });
  }
  for (const b of view.roleBindings()) {
    const namespace = b.metadata.namespace;
    if (!namespace || !boundTo(user, b)) continue;
    const role = b.roleRef.kind === 'ClusterRole' ? view.clusterRole(b.roleRef.name) : view.role(namespace, b.roleRef.name);
    const via = `RoleBinding ${JSON.stringify(`${namespace}/${b.metadata.name}`)} (${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)})`;
    for (const rule of role?.rules ?? []) grants.push({ namespace, rule, via });
  }
  return grants;
}

/** Whether a user holding `grants` may, and through which binding (or why not). */
export function decide(user: string, a: Access, grants: Grant[]): { allowed: boolean; reason: string } {
  for (const g of grants) {
    if (g.namespace !== undefined && g.namespace !== a.namespace) continue;
    if (ruleAllows(g.rule, a)) return { allowed: true, reason: g.via };
  }
  const where = a.namespace ? ` in namespace ${JSON.stringify(a.namespace)}` : ' cluster-wide';
  return { allowed: false, reason: `no Role or ClusterRole bound to user ${JSON.stringify(user)}${where} allows ${a.verb} on ${a.resource}` };
}

/** Whether the user may, and through which binding (or why not). */
export function rbacDecision(user: string, a: Access, view: RbacView): { allowed: boolean; reason: string } {
  return decide(user, a, grantsOf(user, view));
}

// ---- The roles every cluster has ----

const READ = ['get', 'list', 'watch'];

/**
 * `admin`: everything. `edit`: every verb on the workloads of the namespaces it is bound in, logs
 * and exec included, but not RBAC. `view`: read everything but RBAC, no logs or exec.
 */
export function builtinClusterRoles(kinds: KindInfo[]): ClusterRole[] {
  const workloads = kinds.filter((k) => k.namespaced && !k.apiVersion.startsWith('rbac.')).flatMap((k) => [k.resource, ...(k.hasStatus ? [`${k.resource}/status`] : [])]);
  const readable = kinds.filter((k) => !k.apiVersion.startsWith('rbac.')).map((k) => k.resource);
  const role = (name: string, rules: PolicyRule[]): ClusterRole => ({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels: { 'skiff.io/bootstrap': 'true' } }, rules,
  });
  return [
    role('admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
    role('edit', [
      { apiGroups: ['*'], resources: [...workloads, 'pods/log', 'pods/exec', 'pods/binding'], verbs: ['*'] },
      { apiGroups: ['*'], resources: readable, verbs: READ },
    ]),
    role('view', [{ apiGroups: ['*'], resources: readable, verbs: READ }]),
  ];
}
