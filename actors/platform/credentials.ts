// A process's NATS credentials: one file per identity (infra/auth.ts makes them), holding the
// identity's kind, name and nkey seed. nkeys rather than passwords: nats-server's config holds only
// public keys, so it gives nothing away, and a connection proves the seed by signing the server's
// challenge, so the secret never crosses the wire.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { originToken, type IdentityKind, type Requester } from '../../protocol/identity.ts';

export interface Credentials {
  kind: IdentityKind;
  /** `node-1`, `alice`, `master-1`: also the file's name. */
  name: string;
  /** The nkey seed (`SU…`). */
  seed: string;
}

/** The file of an identity's credentials in an auth directory. */
export function credentialsPath(authDir: string, name: string): string {
  return join(authDir, `${name}.creds`);
}

/** The auth directory of the cluster run from this checkout (skiff up makes it). */
export function defaultAuthDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SKIFF_AUTH_DIR || join('.skiff', 'auth');
}

/** The cluster's TLS directory (skiff up --tls makes it; infra/tls.ts), and its CA's file name there. */
export function defaultTlsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SKIFF_TLS_DIR || join('.skiff', 'tls');
}
export const CA_FILE = 'ca.pem';

/** The requester these credentials make a process on the cluster's subjects. */
export function requesterFor(c: Credentials): Requester {
  return c.kind === 'master' ? { kind: 'master' } : { kind: c.kind, name: c.name };
}

export function credentialsOrigin(c: Credentials): string | undefined {
  return originToken(requesterFor(c));
}

export class CredentialsError extends Error {}

export function readCredentials(file: string): Credentials {
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  } catch (err) {
    throw new CredentialsError(`cannot read the credentials file ${file}: ${(err as Error).message} (make one with: skiff auth create-user NAME --role ROLE)`);
  }
  if (!['master', 'node', 'user'].includes(String(parsed.kind)) || typeof parsed.name !== 'string' || typeof parsed.seed !== 'string' || !parsed.seed.startsWith('SU')) {
    throw new CredentialsError(`${file} is not a skiff credentials file (it needs "kind": master, node or user, "name" and an nkey "seed")`);
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new CredentialsError(`${file} can be read by other users of this machine; make it yours alone: chmod 600 ${file}`);
  }
  return parsed as Credentials;
}

/**
 * A master's or node's credentials: $SKIFF_CREDENTIALS, else its own file in the auth directory
 * (skiff up makes one per instance, named as the instance), else none (no authentication). So
 * the Procfile's plain commands work under any runner.
 */
export function ownCredentials(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SKIFF_CREDENTIALS) return env.SKIFF_CREDENTIALS;
  const file = credentialsPath(defaultAuthDir(env), name);
  return existsSync(file) ? file : undefined;
}

/**
 * Where a process finds its credentials, as kubectl finds a kubeconfig: the file it was given
 * (--credentials), else $SKIFF_CREDENTIALS, else (for the CLI) the local cluster's admin file;
 * undefined when there is none (a cluster without authentication).
 */
export function findCredentials(given: string | undefined, opts: { localAdmin: boolean; env?: NodeJS.ProcessEnv }): string | undefined {
  const env = opts.env ?? process.env;
  if (given) return given;
  if (env.SKIFF_CREDENTIALS) return env.SKIFF_CREDENTIALS;
  if (opts.localAdmin) {
    const admin = credentialsPath(defaultAuthDir(env), 'admin');
    if (existsSync(admin)) return admin;
  }
  return undefined;
}
