// The cluster's identities on disk and nats-server's authorization rendered from them; the CLI's
// global --credentials flag; where a process finds its credentials.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsPath, findCredentials, ownCredentials, readCredentials } from '../actors/platform/credentials.ts';
import { takeCredentialsFlag } from '../cli/global-flags.ts';
import { AuthError, deleteIdentity, ensureIdentity, identities, prepareClusterAuth, renderAuthorization } from './auth.ts';

const dirs: string[] = [];
const fresh = () => { const d = mkdtempSync(join(tmpdir(), 'skiff-authtest-')); dirs.push(d); return d; };
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('auth - skiff up makes an identity per master and node, admin and viewer, each file 0600, and keeps them', () => {
  const dir = fresh();
  const conf = prepareClusterAuth(dir, { masters: ['master-1'], nodes: ['node-1', 'node-2'] });
  assert.equal(identities(dir).map((c) => `${c.kind} ${c.name}`), ['user admin', 'master master-1', 'node node-1', 'node node-2', 'user viewer']);
  for (const name of ['admin', 'master-1', 'node-1', 'viewer']) assert.is(statSync(credentialsPath(dir, name)).mode & 0o777, 0o600, `${name} is 0600`);
  assert.is(statSync(conf).mode & 0o777, 0o600);
  const seed = readCredentials(credentialsPath(dir, 'node-1')).seed;
  prepareClusterAuth(dir, { masters: ['master-1'], nodes: ['node-1'] });
  assert.is(readCredentials(credentialsPath(dir, 'node-1')).seed, seed, 'credentials handed out stay valid');
});

test('auth - the rendered authorization holds public keys only, and each identity its own subjects', () => {
  const dir = fresh();
  prepareClusterAuth(dir, { masters: ['master-1'], nodes: ['node-1'] });
  const text = renderAuthorization(identities(dir));
  for (const c of identities(dir)) assert.not.ok(text.includes(c.seed), `no seed of ${c.name}`);
  const entry = (name: string) => text.split('\n').find((l, i, all) => all[i - 1]?.includes(` ${name}`) && l.includes('nkey'))!;
  assert.not.match(entry('master-1'), /permissions/, 'a master is not held to subjects');
  const node = entry('node-1');
  assert.match(node, /"skiff\.api\.\*\.\*\.node-1"/);
  assert.match(node, /"skiff\.node\.node-1\.>"/);
  assert.match(node, /"_INBOX\.node-1\.>"/);
  assert.not.match(node, /\$JS|\$KV|node-2/);
  const viewer = entry('viewer');
  assert.match(viewer, /"skiff\.api\.\*\.\*\.u-viewer"/);
  assert.match(viewer, /"_INBOX\.u-viewer\.>"/);
});

test('auth - names are checked, kinds are not mixed up, and a deleted identity is gone', () => {
  const dir = fresh();
  assert.throws(() => ensureIdentity(dir, 'user', 'Alice!'), (e: Error) => e instanceof AuthError && /not a valid name/.test(e.message));
  assert.throws(() => ensureIdentity(dir, 'node', 'u-sneaky'), /may not begin with "u-"/);
  ensureIdentity(dir, 'user', 'alice');
  assert.throws(() => ensureIdentity(dir, 'node', 'alice'), /already a user's identity/);
  deleteIdentity(dir, 'alice');
  assert.equal(identities(dir), []);
  assert.throws(() => deleteIdentity(dir, 'alice'), /there is no identity "alice"/);
});

test('auth - a credentials file others can read, or that is not one, is refused with the fix', () => {
  const dir = fresh();
  const c = ensureIdentity(dir, 'user', 'bob');
  const file = credentialsPath(dir, 'bob');
  chmodSync(file, 0o644);
  assert.throws(() => readCredentials(file), /chmod 600/);
  writeFileSync(file, JSON.stringify({ name: 'bob' }), { mode: 0o600 });
  chmodSync(file, 0o600);
  assert.throws(() => readCredentials(file), /not a skiff credentials file/);
  assert.ok(c.seed.startsWith('SU'));
  assert.throws(() => readCredentials(join(dir, 'missing.creds')), /cannot read the credentials file/);
});

test('auth - --credentials is taken wherever it is, but not from after --', () => {
  assert.equal(takeCredentialsFlag(['--credentials', 'a.creds', 'get', 'pods']), { credentials: 'a.creds', args: ['get', 'pods'] });
  assert.equal(takeCredentialsFlag(['get', 'pods', '--credentials=b.creds', '-n', 'x']), { credentials: 'b.creds', args: ['get', 'pods', '-n', 'x'] });
  assert.equal(takeCredentialsFlag(['exec', 'web', '--', 'echo', '--credentials', 'c']), { credentials: undefined, args: ['exec', 'web', '--', 'echo', '--credentials', 'c'] });
  assert.throws(() => takeCredentialsFlag(['get', '--credentials']), /give the file/);
});

test('auth - where credentials are found: the flag, $SKIFF_CREDENTIALS, then the local admin; a process its own by name', () => {
  const dir = fresh();
  prepareClusterAuth(dir, { masters: ['master-1'], nodes: ['node-1'] });
  const env = { SKIFF_AUTH_DIR: dir };
  assert.is(findCredentials('given.creds', { localAdmin: true, env: { ...env, SKIFF_CREDENTIALS: 'env.creds' } }), 'given.creds');
  assert.is(findCredentials(undefined, { localAdmin: true, env: { ...env, SKIFF_CREDENTIALS: 'env.creds' } }), 'env.creds');
  assert.is(findCredentials(undefined, { localAdmin: true, env }), credentialsPath(dir, 'admin'));
  assert.is(findCredentials(undefined, { localAdmin: true, env: { SKIFF_AUTH_DIR: fresh() } }), undefined);
  assert.is(ownCredentials('node-1', env), credentialsPath(dir, 'node-1'));
  assert.is(ownCredentials('node-9', env), undefined);
  assert.match(readFileSync(credentialsPath(dir, 'node-1'), 'utf8'), /"kind": "node"/);
});

test.run();
