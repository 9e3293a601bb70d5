// Who may do what, table-driven: NodeRestriction's rules and RBAC's bindings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KINDS, kindInfo } from '../../protocol/kinds.ts';
import type { ClusterRole, RoleBinding } from '../../protocol/types.ts';
import { encodeObject } from '../../protocol/codec.ts';
import { AuditLog, Authorizer } from './authorizer.ts';
import type { ApiContext } from './request.ts';
import { storeKey } from './store.ts';
import { WatchCache } from './watch-cache.ts';
import { accessOf, builtinClusterRoles, nodeRestriction, rbacDecision, type Access, type NodeFacts, type RbacView } from './authorize.ts';

const pods = kindInfo('Pod')!;
const nodes = kindInfo('Node')!;
const leases = kindInfo('Lease')!;
const deployments = kindInfo('Deployment')!;

test('authorize - request verbs become RBAC verbs and subresources', () => {
  assert.equal(accessOf(pods, 'status', { name: 'p', namespace: 'default' }), { verb: 'update', resource: 'pods/status', group: '', namespace: 'default', name: 'p' });
  assert.equal(accessOf(pods, 'bind', { name: 'p', namespace: 'default' }).resource, 'pods/binding');
  assert.equal(accessOf(nodes, 'patch', { name: 'n', subresource: 'status' }).resource, 'nodes/status');
  assert.is(accessOf(nodes, 'get', { name: 'n', namespace: 'x' }).namespace, undefined, 'a cluster-scoped kind has no namespace');
  assert.is(accessOf(deployments, 'create', {}).group, 'apps');
});

const cases: [string, Access, NodeFacts, boolean][] = [
  ['reads anything', { verb: 'list', resource: 'pods', group: '' }, {}, true],
  ['registers itself', { verb: 'create', resource: 'nodes', group: '', name: 'node-1' }, {}, true],
  ['registers another', { verb: 'create', resource: 'nodes', group: '', name: 'node-2' }, {}, false],
  ['its own status', { verb: 'update', resource: 'nodes/status', group: '', name: 'node-1' }, {}, true],
  ["another's status", { verb: 'patch', resource: 'nodes/status', group: '', name: 'node-2' }, {}, false],
  ['its own labels and annotations', { verb: 'patch', resource: 'nodes', group: '', name: 'node-1' }, { patchFields: ['metadata.labels', 'metadata.annotations'] }, true],
  ['its own taints', { verb: 'patch', resource: 'nodes', group: '', name: 'node-1' }, { patchFields: ['spec'] }, false],
  ['its own Node, updated whole', { verb: 'update', resource: 'nodes', group: '', name: 'node-1' }, {}, false],
  ['deletes a Node', { verb: 'delete', resource: 'nodes', group: '', name: 'node-1' }, {}, false],
  ['its own lease', { verb: 'patch', resource: 'leases', group: '', namespace: 'kube-node-lease', name: 'node-1' }, {}, true],
  ["another's lease", { verb: 'patch', resource: 'leases', group: '', namespace: 'kube-node-lease', name: 'node-2' }, {}, false],
  ['a lease elsewhere', { verb: 'create', resource: 'leases', group: '', namespace: 'kube-system', name: 'node-1' }, {}, false],
  ['status of its pod', { verb: 'update', resource: 'pods/status', group: '', namespace: 'd', name: 'p' }, { podNode: 'node-1' }, true],
  ["status of another's pod", { verb: 'update', resource: 'pods/status', group: '', namespace: 'd', name: 'p' }, { podNode: 'node-2' }, false],
  ['status of an unbound pod', { verb: 'update', resource: 'pods/status', group: '', namespace: 'd', name: 'p' }, {}, false],
  ['deletes its running pod', { verb: 'delete', resource: 'pods', group: '', namespace: 'd', name: 'p' }, { podNode: 'node-1', podTerminating: false }, false],
  ['finishes deleting its pod', { verb: 'delete', resource: 'pods', group: '', namespace: 'd', name: 'p' }, { podNode: 'node-1', podTerminating: true }, true],
  ["finishes deleting another's pod", { verb: 'delete', resource: 'pods', group: '', namespace: 'd', name: 'p' }, { podNode: 'node-2', podTerminating: true }, false],
  ['creates a pod', { verb: 'create', resource: 'pods', group: '', namespace: 'd', name: 'p' }, {}, false],
  ['binds a pod', { verb: 'create', resource: 'pods/binding', group: '', namespace: 'd', name: 'p' }, {}, false],
  ['creates an event', { verb: 'create', resource: 'events', group: '', namespace: 'd' }, {}, true],
  ['creates a deployment', { verb: 'create', resource: 'deployments', group: 'apps', namespace: 'd' }, {}, false],
  ['writes RBAC', { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' }, {}, false],
];

test('authorize - NodeRestriction', () => {
  for (const [what, access, facts, allowed] of cases) {
    const rule = nodeRestriction('node-1', access, facts);
    assert.is(rule === undefined, allowed, `node-1 ${what}: ${rule ?? 'allowed'}`);
  }
});

function view(bindings: RoleBinding[], extraRoles: ClusterRole[] = []): RbacView {
  const roles = [...builtinClusterRoles(KINDS), ...extraRoles];
  return {
    clusterRole: (name) => roles.find((r) => r.kind === 'ClusterRole' && r.metadata.name === name),
    role: (namespace, name) => roles.find((r) => r.kind === 'Role' && r.metadata.namespace === namespace && r.metadata.name === name),
    clusterRoleBindings: () => bindings.filter((b) => b.kind === 'ClusterRoleBinding'),
    roleBindings: (namespace) => bindings.filter((b) => b.kind === 'RoleBinding' && (namespace === undefined || b.metadata.namespace === namespace)),
  };
}

const bind = (user: string, role: string, namespace?: string, roleKind: 'Role' | 'ClusterRole' = 'ClusterRole'): RoleBinding => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
  metadata: { name: `${user}-${role}`, ...(namespace ? { namespace } : {}) }, roleRef: { kind: roleKind, name: role }, subjects: [{ kind: 'User', name: user }],
});

test('authorize - RBAC: the built-in roles', () => {
  const v = view([bind('root', 'admin'), bind('vic', 'view'), bind('eddie', 'edit', 'a')]);
  const may = (user: string, a: Access) => rbacDecision(user, a, v).allowed;
  const a = (verb: string, resource: string, namespace?: string, group = ''): Access => ({ verb, resource, namespace, group });
  assert.ok(may('root', a('delete', 'nodes')));
  assert.ok(may('root', a('create', 'clusterrolebindings', undefined, 'rbac.authorization.k8s.io')));
  assert.ok(may('vic', a('list', 'pods', 'a')));
  assert.ok(may('vic', a('list', 'nodes')));
  assert.not.ok(may('vic', a('create', 'deployments', 'a', 'apps')), 'view cannot apply');
  assert.not.ok(may('vic', a('delete', 'pods', 'a')), 'view cannot delete');
  assert.not.ok(may('vic', a('get', 'pods/log', 'a')), 'view reads no logs');
  assert.not.ok(may('vic', a('create', 'pods/exec', 'a')), 'view cannot exec');
  assert.not.ok(may('vic', a('list', 'clusterroles', undefined, 'rbac.authorization.k8s.io')), 'view reads no RBAC');
  assert.ok(may('eddie', a('create', 'deployments', 'a', 'apps')));
  assert.ok(may('eddie', a('create', 'pods/exec', 'a')));
  assert.ok(may('eddie', a('update', 'deployments/status', 'a', 'apps')));
  assert.not.ok(may('eddie', a('create', 'deployments', 'b', 'apps')), 'edit in a cannot write b');
  assert.not.ok(may('eddie', a('list', 'pods')), 'edit in a cannot list every namespace');
  assert.not.ok(may('eddie', a('create', 'rolebindings', 'a', 'rbac.authorization.k8s.io')), 'edit cannot grant itself more');
  assert.not.ok(may('nobody', a('get', 'pods', 'a')));
});

test('authorize - RBAC: a Role of a namespace, resource names, and reasons that name the binding', () => {
  const reader: ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'one-config', namespace: 'a' },
    rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get'], resourceNames: ['web'] }],
  };
  const v = view([bind('sam', 'one-config', 'a', 'Role')], [reader]);
  const yes = rbacDecision('sam', { verb: 'get', resource: 'services', group: '', namespace: 'a', name: 'web' }, v);
  assert.ok(yes.allowed);
  assert.match(yes.reason, /RoleBinding "a\/sam-one-config" \(Role "one-config"\)/);
  assert.not.ok(rbacDecision('sam', { verb: 'get', resource: 'services', group: '', namespace: 'a', name: 'db' }, v).allowed, 'another name');
  assert.not.ok(rbacDecision('sam', { verb: 'list', resource: 'services', group: '', namespace: 'a' }, v).allowed, 'a list names no object');
  assert.not.ok(rbacDecision('sam', { verb: 'get', resource: 'services', group: 'apps', namespace: 'a', name: 'web' }, v).allowed, 'another group');
  const no = rbacDecision('sam', { verb: 'get', resource: 'services', group: '', namespace: 'b', name: 'web' }, v);
  assert.match(no.reason, /no Role or ClusterRole bound to user "sam" in namespace "b" allows get on services/);
});

test('authorize - the apiserver keeps each user\'s rules, and sees a binding change at the next request', async () => {
  const caches = new Map(KINDS.map((k) => [k.resource, new WatchCache(k, 100)]));
  let rev = 0;
  const put = (o: ClusterRole | RoleBinding) => {
    const info = kindInfo(o.kind)!;
    caches.get(info.resource)!.apply({ key: storeKey(info, o.metadata.name!, o.metadata.namespace), revision: ++rev, operation: 'PUT', value: encodeObject(o) });
  };
  const del = (o: RoleBinding) => {
    const info = kindInfo(o.kind)!;
    caches.get(info.resource)!.apply({ key: storeKey(info, o.metadata.name!, o.metadata.namespace), revision: ++rev, operation: 'DEL' });
  };
  for (const r of builtinClusterRoles(KINDS)) put(r);
  const authorizer = new Authorizer({ caches } as unknown as ApiContext, new AuditLog('', () => {}));
  const sam = { kind: 'user' as const, name: 'sam' };
  const write = accessOf(pods, 'create', { namespace: 'a', name: 'web' });
  assert.match((await authorizer.refusal(sam, write))!, 'no Role or ClusterRole bound to user "sam" in namespace "a"');
  const binding = bind('sam', 'edit', 'a');
  put(binding);
  assert.is(await authorizer.refusal(sam, write), undefined, 'the new RoleBinding counts at once');
  assert.ok(await authorizer.refusal(sam, accessOf(pods, 'create', { namespace: 'b', name: 'web' })), 'in its namespace only');
  del(binding);
  assert.ok(await authorizer.refusal(sam, write), 'and its deletion too');
  put(bind('sam', 'view'));
  assert.is(await authorizer.refusal(sam, accessOf(pods, 'get', { namespace: 'b', name: 'web' })), undefined, 'a ClusterRoleBinding, everywhere');
  put({ ...builtinClusterRoles(KINDS).find((r) => r.metadata.name === 'view')!, rules: [] });
  assert.ok(await authorizer.refusal(sam, accessOf(pods, 'get', { namespace: 'b', name: 'web' })), 'a role emptied takes the rights away');
});

test.run();
