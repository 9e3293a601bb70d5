// skiff auth: the cluster's identities (infra/auth.ts) and what they may do (RBAC objects).
import { relative } from 'node:path';
import { credentialsPath, defaultAuthDir } from '../../actors/platform/credentials.ts';
import { connectionOrigin } from '../../actors/platform/nats.ts';
import { AlreadyExists, NotFound } from '../../protocol/errors.ts';
import { identityNameProblem, requesterOf } from '../../protocol/identity.ts';
import { kindInfo, resolveResource } from '../../protocol/kinds.ts';
import type { RoleBinding } from '../../protocol/types.ts';
import { deleteIdentity, ensureIdentity, identities, writeAuthorization } from '../../infra/auth.ts';
import { stringOption, UsageError, type CliContext, type Command } from '../command.ts';

/** The roles create-user grants, and the ClusterRole each binds (the apiserver makes them). */
const ROLES: Record<string, string> = { admin: 'admin', edit: 'edit', viewer: 'view' };

const bindingName = (user: string) => `skiff-user-${user}`;

function binding(user: string, role: string, namespace?: string): RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: { name: bindingName(user), ...(namespace ? { namespace } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLES[role] },
    subjects: [{ kind: 'User', name: user }],
  };
}

async function createUser(positionals: string[], values: Record<string, unknown>, ctx: CliContext, dir: string): Promise<number> {
  const [name, extra] = positionals;
  if (!name) throw new UsageError('give the user\'s name: skiff auth create-user NAME --role admin|edit|viewer');
  if (extra) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const problem = identityNameProblem(name);
  if (problem) throw new UsageError(`NAME: ${problem}`);
  const role = stringOption(values as never, 'role');
  if (!role || !ROLES[role]) throw new UsageError(`--role: required, one of ${Object.keys(ROLES).join(', ')}`);
  const namespace = stringOption(values as never, 'namespace');
  // The role is bound first: a cluster that refuses leaves no credentials behind.
  const client = await ctx.client();
  const b = binding(name, role, namespace);
  try {
    await client.create(b);
  } catch (err) {
    if (!(err instanceof AlreadyExists)) throw err;
    const current = await client.get<RoleBinding>(kindInfo(b.kind)!.resource, b.metadata.name!, namespace);
    await client.update({ ...b, metadata: { ...b.metadata, resourceVersion: current.metadata.resourceVersion } });
  }
  ensureIdentity(dir, 'user', name);
  writeAuthorization(dir);
  const file = relative(process.cwd(), credentialsPath(dir, name));
  ctx.out(`user ${name} (${role}${namespace ? ` in namespace ${namespace}` : ', every namespace'}): ${file}`);
  ctx.out(`the nats-servers reload their authorization within a second; use it with: skiff --credentials ${file} get pods`);
  return 0;
}

async function deleteUser(positionals: string[], ctx: CliContext, dir: string): Promise<number> {
  const [name] = positionals;
  if (!name) throw new UsageError('give the user\'s name: skiff auth delete-user NAME');
  deleteIdentity(dir, name);
  writeAuthorization(dir);
  ctx.out(`user ${name} deleted: its connections are closed within a second`);
  // Its bindings go too, so that a new user of the same name starts with nothing.
  const client = await ctx.client();
  const bindings = [
    ...(await client.list<RoleBinding>('clusterrolebindings')).items,
    ...(await client.list<RoleBinding>('rolebindings')).items,
  ].filter((x) => x.metadata.name === bindingName(name));
  for (const x of bindings) {
    await client.delete(x.kind === 'RoleBinding' ? 'rolebindings' : 'clusterrolebindings', x.metadata.name!, x.metadata.namespace).catch((err) => {
      if (!(err instanceof NotFound)) throw err;
    });
  }
  return 0;
}

async function canI(positionals: string[], values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const [verb, resource, name] = positionals;
  if (!verb || !resource) throw new UsageError('give a verb and a resource: skiff auth can-i create deployments [-n NS] [--as USER]');
  const namespace = stringOption(values as never, 'namespace') ?? (resolveResource(resource.split('/')[0])?.namespaced === false ? undefined : 'default');
  const client = await ctx.client();
  const as = stringOption(values as never, 'as');
  const me = requesterOf(connectionOrigin(client.nc));
  const user = as ?? (me.kind === 'user' ? me.name : undefined);
  if (!user) {
    ctx.out(me.kind === 'master' ? 'yes (these credentials are a master\'s: a master may do everything)' : 'no (a node is held to NodeRestriction; ask with --as USER)');
    return me.kind === 'master' ? 0 : 1;
  }
  const info = resolveResource(resource.split('/')[0]);
  const full = info ? `${info.resource}${resource.includes('/') ? resource.slice(resource.indexOf('/')) : ''}` : resource;
  const d = await client.reviewAccess({ user, verb, resource: full, namespace, name });
  ctx.out(`${d.allowed ? 'yes' : 'no'} (${d.reason})`);
  return d.allowed ? 0 : 1;
}

export const authCommand: Command = {
  name: 'auth',
  help: `Manage who may reach the cluster, and ask what they may do.

Usage:
  skiff auth create-user NAME --role admin|edit|viewer [-n NAMESPACE]
  skiff auth delete-user NAME
  skiff auth list
  skiff auth can-i VERB RESOURCE [NAME] [-n NAMESPACE] [--as USER]

create-user binds the role (ClusterRole admin, edit or view) to the user, cluster-wide or, with
-n, in one namespace (a RoleBinding), then writes the user's credentials (an nkey, mode 0600) to
the auth directory and the nats-servers' authorization, which they reload within a second.
delete-user removes the credentials (their connections close within a second) and bindings.
can-i asks the apiserver: exits 0 for yes, 1 for no, and says which binding decides.
  admin   everything
  edit    every verb on workloads (pods, deployments, services...) with logs and exec; no RBAC
  viewer  get, list and watch; no logs, no exec
Roles are RBAC objects (rbac.authorization.k8s.io/v1): skiff apply manages more of them.

Options:
      --role ROLE        admin, edit or viewer
  -n, --namespace NS     bind in this namespace only (create-user); the namespace asked about (can-i)
      --as USER          can-i for another user (takes the admin role)
      --dir DIR          the auth directory (default $SKIFF_AUTH_DIR, else .skiff/auth)
  -h, --help             Show this help.`,
  options: { role: { type: 'string' }, namespace: { type: 'string', short: 'n' }, as: { type: 'string' }, dir: { type: 'string' } },
  async run(values, positionals, ctx) {
    const [sub, ...rest] = positionals;
    const dir = stringOption(values, 'dir') ?? defaultAuthDir();
    switch (sub) {
      case 'create-user': return createUser(rest, values, ctx, dir);
      case 'delete-user': return deleteUser(rest, ctx, dir);
      case 'can-i': return canI(rest, values, ctx);
      case 'list': {
        for (const c of identities(dir)) ctx.out(`${c.kind.padEnd(7)} ${c.name}`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown subcommand ${JSON.stringify(sub)} (create-user, delete-user, list, can-i)` : 'give a subcommand: create-user, delete-user, list or can-i');
    }
  },
};
