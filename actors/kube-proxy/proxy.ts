// The data path of kube-proxy: a TCP listener for each service port on this node, forwarding each
// new connection to a backend the balancer picks. A backend that refuses is skipped for the next,
// so a client sees no error while any backend is up; connections already forwarded stay where
// they are when a backend leaves the list. A backend that accepts and then dies before answering
// (its process was killed with the connection in its accept queue, say) counts as one that
// refused: what the client sent so far is replayed to the next, as HAProxy's
// `retry-on conn-failure empty-response` does. Once a backend has answered, the connection is its.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PROXY_CONNECT_TIMEOUT_MS, PROXY_LISTEN_RETRY_MS, PROXY_OPTIONAL_LISTEN_RETRY_MS } from '../../protocol/config.ts';
import { Balancer, type Backend, type BalancerOptions } from './balancer.ts';

/** What one listener serves: a service port, as its balancer sees it. */
export interface Target {
  /** `namespace/name:port` */
  id: string;
  balancer: Balancer;
}

export interface ProxyEvents {
  connection(target: Target, backend: Backend): void;
  refused(target: Target, backend: Backend): void;
  noBackend(target: Target): void;
  listenFailed(target: Target, address: string, port: number, err: NodeJS.ErrnoException): void;
  /** A port that had failed is listened on now. */
  listening(target: Target, address: string, port: number): void;
}

interface Listener {
  server: Server;
  target: Target;
  port: number;
  address: string;
}

/** A pod's traffic through this proxy since it started: the counts only grow. */
export interface TrafficCount {
  requests: number;
  connections: number;
  active: number;
}

/** A read that begins an HTTP/1.x request (its method and a space): one request. */
const REQUEST_START = /^(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) /;
/** Tested on every read of a counted connection: most reads that are not requests (bodies, TLS) are let go on their first byte. */
const startsRequest = (chunk: Buffer) => chunk[0] >= 0x41 && chunk[0] <= 0x5a && REQUEST_START.test(chunk.toString('latin1', 0, Math.min(chunk.length, 8)));

/** How much of what a client sends before the first answer is kept for replay to another backend. */
const REPLAY_LIMIT_BYTES = 64 * 1024;

/** A port that could not be listened on: who it is for, and the timer that tries it again. */
interface Failure {
  target: Target;
  timer: NodeJS.Timeout;
}

export class Proxy {
  private readonly listeners = new Map<string, Listener>();
  /** Ports that could not be listened on, by `address:port`. */
  private readonly failed = new Map<string, Failure>();
  readonly targets = new Map<string, Target>();
  /** Traffic by pod (`namespace/name`), for the autoscaler's requests per second: read it through trafficCounts. */
  private readonly traffic = new Map<string, TrafficCount>();

  constructor(private readonly events: ProxyEvents) {}

  private trafficOf(backend: Backend): TrafficCount | undefined {
    if (!backend.pod) return undefined;
    let t = this.traffic.get(backend.pod);
    if (!t) this.traffic.set(backend.pod, (t = { requests: 0, connections: 0, active: 0 }));
    return t;
  }

  /**
   * Traffic by pod, having forgotten the pods no target sends to any more and with no connection
   * open (otherwise the map would grow with every pod ever served). Read once a sample: the
   * forgetting walks every target's backends.
   */
  trafficCounts(): ReadonlyMap<string, TrafficCount> {
    const served = new Set<string>();
    for (const t of this.targets.values()) for (const pod of t.balancer.pods()) served.add(pod);
    for (const [pod, c] of this.traffic) if (c.active === 0 && !served.has(pod)) this.traffic.delete(pod);
    return this.traffic;
  }

  target(id: string, opts: BalancerOptions): Target {
    let t = this.targets.get(id);
    if (!t) this.targets.set(id, (t = { id, balancer: new Balancer(opts) }));
    else t.balancer.configure(opts);
    return t;
  }

  /**
   * Listens on `address:port` for `target`. A port that cannot be had is tried again every
   * PROXY_LISTEN_RETRY_MS on a timer of its own (not at every sync) until it is served or no
   * longer wanted. `optional` listeners (127.0.0.1 and ClusterIPs, on a host where other nodes may
   * already hold them) fail quietly when the address is in use, and are tried again every
   * `retryMs`, by default PROXY_OPTIONAL_LISTEN_RETRY_MS (a sync touches only the services that
   * changed, so a quiet service's would otherwise never be tried again); any other failure of
   * theirs is told.
   */
  listen(target: Target, address: string, port: number, optional: boolean, retryMs = optional ? PROXY_OPTIONAL_LISTEN_RETRY_MS : PROXY_LISTEN_RETRY_MS): void {
    const key = `${address}:${port}`;
    const existing = this.listeners.get(key);
    if (existing) {
      existing.target = target;
      return;
    }
    const failure = this.failed.get(key);
    if (failure) {
      failure.target = target; // its timer tries it again
      return;
    }
    this.open(target, address, port, optional, retryMs, false);
  }

  /** `told`: a failure to listen here was told, so that being served now is told too. */
  private open(target: Target, address: string, port: number, optional: boolean, retryMs: number, told: boolean): void {
    const key = `${address}:${port}`;
    const listener: Listener = { server: createServer({ allowHalfOpen: true, pauseOnConnect: true }), target, port, address };
    listener.server.on('connection', (socket) => this.forward(listener.target, socket));
    listener.server.on('error', (err: NodeJS.ErrnoException) => {
      if (this.listeners.get(key) === listener) this.listeners.delete(key);
      // An optional address may be another node's on this host; any other failure is told.
      const tell = !optional || err.code !== 'EADDRINUSE';
      const failure: Failure = {
        target: listener.target,
        timer: setTimeout(() => {
          if (this.failed.get(key) !== failure) return;
          this.failed.delete(key);
          this.open(failure.target, address, port, optional, retryMs, tell);
        }, retryMs).unref(),
      };
      this.failed.set(key, failure);
      if (tell) this.events.listenFailed(listener.target, address, port, err);
    });
    listener.server.once('listening', () => {
      if (told) this.events.listening(listener.target, address, port);
    });
    listener.server.listen(port, address);
    this.listeners.set(key, listener);
  }

  /**
   * Closes listeners not in `keep` (`address:port`), of the targets `among` picks (all by
   * default); their open connections carry on.
   */
  closeExcept(keep: Set<string>, among: (t: Target) => boolean = () => true): void {
    for (const [key, f] of this.failed) {
      if (keep.has(key) || !among(f.target)) continue;
      clearTimeout(f.timer);
      this.failed.delete(key);
    }
    const closed = new Set<Target>();
    for (const [key, l] of this.listeners) {
      if (keep.has(key) || !among(l.target)) continue;
      l.server.close();
      this.listeners.delete(key);
      closed.add(l.target);
    }
    if (closed.size === 0) return;
    const used = new Set<Target>();
    for (const l of this.listeners.values()) used.add(l.target);
    for (const t of closed) if (!used.has(t)) this.targets.delete(t.id);
  }

  listening(): string[] {
    return [...this.listeners.values()].filter((l) => l.server.listening).map((l) => `${l.address}:${l.port}`);
  }

  close(): void {
    this.closeExcept(new Set());
  }

  private forward(target: Target, client: Socket): void {
    // The client's address only when a pick needs it (a getpeername per connection otherwise).
    const clientIp = target.balancer.usesClientIp ? client.remoteAddress ?? '' : '';
    const tried = new Set<string>();
    // What the client sent before the backend answered: replayed to the next backend if this one
    // dies without a byte of answer (refused, reset, or closed). Past REPLAY_LIMIT_BYTES, or once
    // the backend has answered, the connection is committed to its backend.
    let sent: Buffer[] | undefined = [];
    let sentBytes = 0;
    let clientEnded = false;
    let upstream: Socket | undefined;
    let counted: TrafficCount | undefined;
    // Not HTTP (its first read begins no request): the connection counts as one request.
    let http: boolean | undefined;
    client.on('data', (chunk: Buffer) => {
      if (counted && http !== false) {
        const starts = startsRequest(chunk);
        http ??= starts;
        if (starts || !http) counted.requests++;
      }
      if (sent) {
        sentBytes += chunk.length;
        if (sentBytes <= REPLAY_LIMIT_BYTES) sent.push(chunk);
        else sent = undefined;
      }
      if (!upstream) {
        if (!sent) client.destroy(); // cannot happen: the client is paused while there is no backend
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    client.once('end', () => {
      clientEnded = true;
      upstream?.end();
    });
    client.on('error', () => client.destroy());
    client.once('close', () => upstream?.destroy());

    const attempt = () => {
      const backend = target.balancer.pick(clientIp, Date.now(), tried);
      if (!backend) {
        this.events.noBackend(target);
        client.resetAndDestroy();
        return;
      }
      tried.add(backend.key);
      const up = connect({ host: backend.ip, port: backend.port, allowHalfOpen: true, noDelay: true });
      let connected = false;
      let answered = false;
      let broken = false;
      const timer = setTimeout(() => up.destroy(new Error('connect timeout')), PROXY_CONNECT_TIMEOUT_MS);
      up.once('connect', () => {
        clearTimeout(timer);
        connected = true;
        target.balancer.opened(backend);
        this.events.connection(target, backend);
        counted = this.trafficOf(backend);
        if (counted) {
          counted.connections++;
          counted.active++;
        }
        upstream = up;
        client.setNoDelay(true);
        for (const chunk of sent ?? []) up.write(chunk);
        if (clientEnded) up.end();
        client.resume();
      });
      up.once('data', (first: Buffer) => {
        answered = true;
        sent = undefined;
        client.write(first);
        up.pipe(client);
      });
      up.on('error', () => {
        broken = true;
        up.destroy();
      });
      up.once('close', () => {
        clearTimeout(timer);
        if (connected) {
          target.balancer.closed(backend);
          if (counted) counted.active--;
        }
        if (upstream === up) upstream = undefined;
        if (client.destroyed) return;
        if (answered) {
          if (broken) client.resetAndDestroy();
          else client.end();
          return;
        }
        // No answer from this backend: another may serve the connection, if what the client
        // sent can be replayed. A backend that accepted and closed counts as one that refused.
        this.events.refused(target, backend);
        if (!sent) {
          client.resetAndDestroy();
          return;
        }
        client.pause();
        attempt();
      });
    };
    attempt();
  }
}
