// Connecting to NATS: actors reconnect forever; the CLI fails fast with a sentence a user can act on.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createInbox, nkeyAuthenticator, type NatsConnection } from 'nats';
import { NATS_CONNECT_TIMEOUT_MS, NATS_HANDSHAKE_ATTEMPTS, NATS_HANDSHAKE_RETRY_MS, NATS_PING_INTERVAL_MS, NATS_RECONNECT_WAIT_MS, STRANDED_AFTER_MS, STRANDED_PROBE_MS } from '../../protocol/config.ts';
import { APISERVER_BEAT, inboxPrefix, JS_STREAM_NAMES } from '../../protocol/subjects.ts';
import { CA_FILE, credentialsOrigin, defaultTlsDir, readCredentials, type Credentials } from './credentials.ts';
import { createLogger, type Logger } from './log.ts';
import { Unauthorized, Unavailable } from '../../protocol/errors.ts';

export interface ConnectOptions {
  url: string;
  name: string;
  /** Long-running processes keep reconnecting; the CLI gives up at once. */
  persistent: boolean;
  timeoutMs?: number;
  /** Try the servers in the order given (tests); by default they are shuffled, to spread the clients. */
  inOrder?: boolean;
  /** A credentials file (platform/credentials.ts); default $SKIFF_CREDENTIALS; '' or none there: no authentication. */
  credentials?: string;
  /** The CA the servers' certificates are checked against; default clusterCa(). */
  ca?: string;
  /** Keep to the URLs given, not the servers the cluster tells of: a node's fault link is its only way out. */
  ignoreClusterUpdates?: boolean;
}

/**
 * The cluster's CA when its servers speak TLS (infra/tls.ts): $SKIFF_NATS_CA, else ca.pem in the
 * TLS directory ($SKIFF_TLS_DIR, else .skiff/tls) if there is one.
 */
export function clusterCa(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SKIFF_NATS_CA) return env.SKIFF_NATS_CA;
  const file = join(defaultTlsDir(env), CA_FILE);
  return existsSync(file) ? file : undefined;
}

/** Who each connection is on the cluster's subjects: its identity's origin token (none: a master, or no authentication). */
const origins = new WeakMap<NatsConnection, string>();

/** The token this connection puts last on its requests' subjects (protocol/identity.ts). */
export function connectionOrigin(nc: NatsConnection): string | undefined {
  return origins.get(nc);
}

/** A new inbox under this connection's own prefix: the only one its identity may read. */
export function connectionInbox(nc: NatsConnection): string {
  const origin = origins.get(nc);
  return createInbox(origin ? inboxPrefix(origin) : undefined);
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const file = opts.credentials ?? (process.env.SKIFF_CREDENTIALS || undefined);
  const creds: Credentials | undefined = file ? readCredentials(file) : undefined;
  const origin = creds && credentialsOrigin(creds);
  const ca = opts.ca ?? clusterCa();
  let nc: NatsConnection | undefined;
  for (let attempt = 1; !nc; attempt++) {
    nc = await connect({
      ...(creds ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(creds.seed)) } : {}),
      ...(origin ? { inboxPrefix: inboxPrefix(origin) } : {}),
      ...(ca ? { tls: { caFile: ca } } : {}),
      servers: opts.url.split(','),
      name: opts.name,
      timeout: opts.timeoutMs ?? NATS_CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: opts.persistent ? -1 : 0,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      noRandomize: opts.inOrder ?? false,
      ignoreClusterUpdates: opts.ignoreClusterUpdates ?? false,
      waitOnFirstConnect: opts.persistent,
      pingInterval: NATS_PING_INTERVAL_MS,
      // Otherwise every request, JetStream publishes included, captures a stack trace.
      noAsyncTraces: true,
    }).catch(async (err: Error) => {
      // A server reloading its authorization may fumble one handshake (NATS_HANDSHAKE_ATTEMPTS).
      const fumbled = refusal(err) || (err as { code?: string }).code === 'TIMEOUT';
      if (!fumbled || attempt >= NATS_HANDSHAKE_ATTEMPTS) throw connectError(err, opts.url, file, ca);
      await new Promise((r) => setTimeout(r, NATS_HANDSHAKE_RETRY_MS));
      return undefined;
    });
  }
  if (origin) origins.set(nc, origin);
  if (opts.persistent) {
    // Only a master may ask JetStream; others take apiserver beats as the sign of a working side.
    const probe = creds && creds.kind !== 'master' ? apiserverBeats(nc) : (timeoutMs: number) => jetStreamAnswers(nc, timeoutMs);
    leaveStrandedServer(nc, opts.url, probe, createLogger({ component: 'nats-client', name: opts.name }));
  }
  return nc;
}

const refusal = (err: Error): boolean => /authorization|authentication/i.test(err.message);

/** What a failed connection means to the user, and what to do about it. */
function connectError(err: Error, url: string, file: string | undefined, ca: string | undefined): Error {
  const message = err.message;
  if (refusal(err)) {
    return new Unauthorized(file
      ? `the skiff cluster at ${url} refused the credentials in ${file} (${message}): they may have been deleted; ask an admin for new ones (skiff auth create-user)`
      : `the skiff cluster at ${url} requires credentials: pass --credentials FILE or set SKIFF_CREDENTIALS (skiff up makes .skiff/auth/admin.creds)`, { cause: err });
  }
  if (/certificate|tls|ssl/i.test(message)) {
    return new Unavailable(`cannot reach the skiff cluster at ${url} over TLS (${message}): ${ca
      ? `its servers' certificates are not signed by ${ca}`
      : 'give the CA its certificates are signed by: SKIFF_NATS_CA=.skiff/tls/ca.pem (skiff up --tls made it)'}`, { cause: err });
  }
  return new Unavailable(`cannot reach the skiff cluster at ${url} (${message}); start one with: skiff up`, { cause: err });
}

/**
 * Whether JetStream answers through this connection's server: its meta leader lists the streams.
 * A server cut off from the rest of its cluster answers 503 ("JetStream system temporarily
 * unavailable"), or not at all; its own account info goes on answering for some 20 s after a cut.
 */
export function jetStreamAnswers(nc: NatsConnection, timeoutMs: number): Promise<boolean> {
  return nc.request(JS_STREAM_NAMES, new Uint8Array(), { timeout: timeoutMs }).then(
    (m) => !(JSON.parse(new TextDecoder().decode(m.data)) as { error?: unknown }).error,
    () => false,
  );
}

/**
 * Whether an apiserver has beaten within the probe's time: for identities that may not ask
 * JetStream. Masters on a cut-off server stop beating there once they have moved themselves.
 */
function apiserverBeats(nc: NatsConnection): (timeoutMs: number) => Promise<boolean> {
  let last = Date.now();
  nc.subscribe(APISERVER_BEAT, { callback: () => { last = Date.now(); } });
  return async (timeoutMs) => Date.now() - last < timeoutMs;
}

/** Moves at once off a server just left and landed on again (the client's pool goes round), this many times in a row. */
const QUICK_MOVES = 2;

/**
 * A server cut off from the rest of its cluster still takes its clients' messages, but its side
 * has no JetStream (no quorum) and reaches no process on the other side: its clients would wait
 * there until the cut heals, the node among them declared dead by the majority. So a long-running
 * process checks jetStreamAnswers every STRANDED_PROBE_MS; with no answer for STRANDED_AFTER_MS
 * (longer than an election after a server's death), it moves to another server.
 */
function leaveStrandedServer(nc: NatsConnection, url: string, answers: (timeoutMs: number) => Promise<boolean>, log: Logger): void {
  let failingSince = 0;
  // The server last moved away from: landing on it again moves on at once, a few times, not
  // forever (a cluster without a quorum anywhere is not left in a hurry).
  let movedFrom: string | undefined;
  let quickMoves = 0;
  // The servers a cut-off server tells of are only itself: what was heard before counts.
  let othersKnown = url.includes(',');
  const timer = setInterval(() => {
    othersKnown ||= (nc.info?.connect_urls?.length ?? 0) > 1;
    if (nc.isClosed() || !othersKnown) return;
    const server = nc.getServer();
    void answers(STRANDED_PROBE_MS).then((answers) => {
      if (answers) {
        failingSince = 0;
        movedFrom = undefined;
        quickMoves = 0;
        return;
      }
      const now = Date.now();
      if (!failingSince) failingSince = now;
      const again = server === movedFrom && quickMoves < QUICK_MOVES;
      if ((!again && now - failingSince < STRANDED_AFTER_MS) || nc.isClosed() || nc.getServer() !== server) return;
      quickMoves = again ? quickMoves + 1 : 0;
      failingSince = 0;
      movedFrom = server;
      log.warn("the NATS server has had no JetStream (or, for a node, no apiserver beats) for too long (cut off from its cluster?); moving to another", { server });
      nc.reconnect().catch(() => { /* closed meanwhile */ });
    });
  }, STRANDED_PROBE_MS);
  timer.unref();
  void nc.closed().then(() => clearInterval(timer));
}

/** `make`'s one result per connection, made on first use: what everything on a connection shares. */
export function onePerConnection<T>(make: (nc: NatsConnection) => T): (nc: NatsConnection) => T {
  const made = new WeakMap<NatsConnection, T>();
  return (nc) => {
    let t = made.get(nc);
    if (t === undefined) made.set(nc, (t = make(nc)));
    return t;
  };
}
