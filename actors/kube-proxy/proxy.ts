// The data path of kube-proxy: a TCP listener for each service port on this node, forwarding each
// new connection to a backend the balancer picks. A backend that refuses is skipped for the next,
// so a client sees no error while any backend is up; connections already forwarded stay where
// they are when a backend leaves the list.
import { createServer, connect, type Server, type Socket } from 'node:net';
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
}

interface Listener {
  server: Server;
  target: Target;
  port: number;
  address: string;
}

const CONNECT_TIMEOUT_MS = 2000;

export class Proxy {
  private readonly listeners = new Map<string, Listener>();
  readonly targets = new Map<string, Target>();

  constructor(private readonly events: ProxyEvents) {}

  target(id: string, opts: BalancerOptions): Target {
    let t = this.targets.get(id);
    if (!t) this.targets.set(id, (t = { id, balancer: new Balancer(opts) }));
    else t.balancer.configure(opts);
    return t;
  }

  /**
   * Listens on `address:port` for `target`. `optional` listeners (127.0.0.1 on a host where other
   * nodes may already hold it) fail quietly.
   */
  listen(target: Target, address: string, port: number, optional: boolean): void {
    const key = `${address}:${port}`;
    const existing = this.listeners.get(key);
    if (existing) {
      existing.target = target;
      return;
    }
    const listener: Listener = { server: createServer({ allowHalfOpen: true, pauseOnConnect: true }), target, port, address };
    listener.server.on('connection', (socket) => this.forward(listener.target, socket));
    listener.server.on('error', (err: NodeJS.ErrnoException) => {
      this.listeners.delete(key);
      if (!optional) this.events.listenFailed(listener.target, address, port, err);
    });
    listener.server.listen(port, address);
    this.listeners.set(key, listener);
  }

  /** Closes listeners not in `keep` (`address:port`); their open connections carry on. */
  closeExcept(keep: Set<string>): void {
    for (const [key, l] of this.listeners) {
      if (keep.has(key)) continue;
      l.server.close();
      this.listeners.delete(key);
      if (![...this.listeners.values()].some((x) => x.target === l.target)) this.targets.delete(l.target.id);
    }
  }

  listening(): string[] {
    return [...this.listeners.values()].filter((l) => l.server.listening).map((l) => `${l.address}:${l.port}`);
  }

  close(): void {
    this.closeExcept(new Set());
  }

  private forward(target: Target, client: Socket): void {
    const clientIp = client.remoteAddress ?? '';
    const refused = new Set<string>();
    client.on('error', () => client.destroy());
    const attempt = () => {
      const backend = target.balancer.pick(clientIp, Date.now(), refused);
      if (!backend) {
        this.events.noBackend(target);
        client.destroy();
        return;
      }
      const upstream = connect({ host: backend.ip, port: backend.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS);
      upstream.once('connect', () => {
        clearTimeout(timer);
        target.balancer.opened(backend);
        this.events.connection(target, backend);
        upstream.removeAllListeners('error');
        upstream.on('error', () => { upstream.destroy(); client.destroy(); });
        client.on('error', () => upstream.destroy());
        upstream.once('close', () => { target.balancer.closed(backend); client.destroy(); });
        client.once('close', () => upstream.destroy());
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        clearTimeout(timer);
        upstream.destroy();
        refused.add(backend.key);
        this.events.refused(target, backend);
        if (!client.destroyed) attempt();
      });
    };
    attempt();
  }
}
