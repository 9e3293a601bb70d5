// Authentication in tests, on by default as in a real cluster: the test process holds one auth
// directory; every nats-server the harness starts requires its credentials; the test's own
// connections are a master's ($SKIFF_CREDENTIALS), and a node started by the harness gets its own
// identity, added to the servers by a reload. SKIFF_TEST_AUTH=off runs without (to bisect a failure).
import { mkdtempSync, rmSync, watchFile } from 'node:fs';
import { AUTH_RELOAD_POLL_MS } from '../protocol/config.ts';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { credentialsPath } from '../actors/platform/credentials.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { AUTH_CONFIG, ensureIdentity, ROUTE_USER, routeSecret, writeAuthorization } from '../infra/auth.ts';
import type { NatsAuth } from '../infra/nats-cluster.ts';
import type { IdentityKind } from '../protocol/identity.ts';

export const TEST_AUTH = process.env.SKIFF_TEST_AUTH !== 'off';

let authDir: string | undefined;
const reloadable = new Set<{ kill(signal: NodeJS.Signals): void }>();

/** The test process's auth directory, made on first use with a master identity the test itself uses. */
export function testAuthDir(): string {
  if (!authDir) {
    authDir = mkdtempSync(join(tmpdir(), 'skiff-auth-'));
    const dir = authDir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    ensureIdentity(authDir, 'master', 'master-test');
    writeAuthorization(authDir);
    process.env.SKIFF_CREDENTIALS = credentialsPath(authDir, 'master-test');
    // What the processes a test starts look in (infra/nats.ts, skiff up, the CLI), rather than a
    // local cluster's .skiff/auth in the checkout.
    process.env.SKIFF_AUTH_DIR = authDir;
    process.env.SKIFF_TLS_DIR = join(authDir, 'tls');
    // An identity another process adds (a cloud provider's new node) reaches the servers too.
    watchFile(join(authDir, AUTH_CONFIG), { interval: AUTH_RELOAD_POLL_MS }, () => { for (const s of reloadable) s.kill('SIGHUP'); }).unref();
  }
  return authDir;
}

if (TEST_AUTH) testAuthDir();

/** What a server whose config is in `confDir` includes to require the test's credentials; undefined with auth off. */
export function testNatsAuth(confDir: string): NatsAuth | undefined {
  if (!TEST_AUTH) return undefined;
  const dir = testAuthDir();
  return { include: relative(confDir, join(dir, AUTH_CONFIG)), routeUser: ROUTE_USER, routePassword: routeSecret(dir) };
}

/** A server that reloads the authorization on SIGHUP when an identity is added; returns its removal. */
export function reloadsAuth(server: { kill(signal: NodeJS.Signals): void }): () => void {
  reloadable.add(server);
  return () => reloadable.delete(server);
}

/**
 * The credentials file of an identity, made and loaded into every running server if new: the
 * environment a process started with it needs. Empty with auth off.
 */
export async function identityEnv(url: string, kind: IdentityKind, name: string): Promise<NodeJS.ProcessEnv> {
  if (!TEST_AUTH) return {};
  const dir = testAuthDir();
  const file = credentialsPath(dir, name);
  ensureIdentity(dir, kind, name);
  writeAuthorization(dir);
  for (const s of reloadable) s.kill('SIGHUP');
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      const nc = await connectNats({ url, name: `check ${name}`, persistent: false, credentials: file });
      await nc.close();
      return { SKIFF_CREDENTIALS: file };
    } catch (err) {
      if (Date.now() > until) throw new Error(`the servers did not take ${name}'s new credentials: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
