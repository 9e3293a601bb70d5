// TLS between the hosts of a cluster: a CA of the cluster's own and a certificate per nats-server,
// made with the openssl binary (no hand-written crypto), in the TLS directory (SKIFF_TLS_DIR,
// default .skiff/tls). A server with a certificate there requires TLS of its clients and of its
// routes (both sides verified); clients verify the server against the CA (SKIFF_NATS_CA).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { CA_FILE, defaultTlsDir } from '../actors/platform/credentials.ts';

export class TlsError extends Error {}

export { CA_FILE, defaultTlsDir };
const CA_KEY = 'ca-key.pem';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new TlsError('openssl is not installed: apt-get install openssl (skiff makes its certificates with it)');
    throw new TlsError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

/** The cluster's CA, made once (a P-256 key, ten years). */
export function ensureCa(dirGiven: string): string {
  const dir = resolve(dirGiven);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, CA_FILE))) {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', CA_KEY, '-out', CA_FILE, '-days', '3650', '-subj', '/CN=skiff cluster CA'], dir);
    chmodSync(join(dir, CA_KEY), 0o600);
  }
  return join(dir, CA_FILE);
}

export interface ServerCert {
  cert: string;
  key: string;
  ca: string;
}

/** `name`'s certificate, for these addresses (IPs or DNS names) and localhost, signed by the CA; made once. */
export function ensureServerCert(dirGiven: string, name: string, addresses: string[]): ServerCert {
  const dir = resolve(dirGiven);
  const ca = ensureCa(dir);
  const [certFile, keyFile] = [`${name}-cert.pem`, `${name}-key.pem`];
  if (!existsSync(join(dir, certFile))) {
    const sans = [...new Set(['127.0.0.1', 'localhost', ...addresses])].map((a) => (isIP(a) ? `IP:${a}` : `DNS:${a}`)).join(',');
    // A random serial rather than the CA's serial file, which servers starting together would race on.
    // Both usages: the same certificate serves clients and the routes, where servers are each other's clients.
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', CA_FILE, '-CAkey', CA_KEY, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', certFile, '-days', '825', '-extfile', `${name}.ext`], dir);
    chmodSync(join(dir, keyFile), 0o600);
  }
  return { cert: join(dir, certFile), key: join(dir, keyFile), ca };
}

/** TLS for the client port, and for the routes (verified both ways), as nats-server config blocks. */
export function tlsBlocks(c: ServerCert): { client: string; route: string } {
  const files = `cert_file: ${JSON.stringify(c.cert)}, key_file: ${JSON.stringify(c.key)}, ca_file: ${JSON.stringify(c.ca)}, timeout: 2`;
  return { client: `tls { ${files} }`, route: `tls { ${files}, verify: true }` };
}
