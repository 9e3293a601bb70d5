// Choosing a backend for a new connection to one service port: round robin (the default) or
// least connections, with ClientIP session affinity when the service asks for it. Connections
// already open are not moved: a backend that leaves the list only stops getting new ones.
// No I/O: kube-proxy feeds it backends and connection counts.

export interface Backend {
  /** `ip:port` */
  key: string;
  ip: string;
  port: number;
  /** The pod behind it (`namespace/name`), when its Endpoints say: what its traffic is counted under. */
  pod?: string;
}

export type Policy = 'round-robin' | 'least-connections';

export interface BalancerOptions {
  policy: Policy;
  /** ClientIP affinity: a client sticks to its backend for this long after its last connection. */
  affinityMs?: number;
}

const STICKY_SWEEP_EVERY = 1024;

export class Balancer {
  private backends: Backend[] = [];
  private next = 0;
  private readonly active = new Map<string, number>();
  private readonly sticky = new Map<string, { key: string; until: number }>();
  private picks = 0;

  constructor(private opts: BalancerOptions) {}

  /** Clients whose affinity is remembered (expired ones go within STICKY_SWEEP_EVERY picks). */
  get stickyClients(): number {
    return this.sticky.size;
  }

  configure(opts: BalancerOptions): void {
    this.opts = opts;
    if (!opts.affinityMs) this.sticky.clear();
  }

  setBackends(list: Backend[]): void {
    this.backends = list;
    const keys = new Set(list.map((b) => b.key));
    for (const [ip, s] of this.sticky) if (!keys.has(s.key)) this.sticky.delete(ip);
  }

  get size(): number {
    return this.backends.length;
  }

  /** The pods behind the backends, where the Endpoints name them. */
  *pods(): Iterable<string> {
    for (const b of this.backends) if (b.pod) yield b.pod;
  }

  /** Whether a pick needs the client's address (ClientIP affinity): reading it costs a system call. */
  get usesClientIp(): boolean {
    return this.opts.affinityMs !== undefined && this.opts.affinityMs > 0;
  }

  /** A backend for a connection from `clientIp`, skipping those that just refused it. */
  pick(clientIp: string, now: number, exclude?: Set<string>): Backend | undefined {
    const candidates = exclude?.size ? this.backends.filter((b) => !exclude.has(b.key)) : this.backends;
    if (candidates.length === 0) return undefined;
    if (this.opts.affinityMs) {
      // Clients that never come back would otherwise be remembered for ever.
      if (++this.picks % STICKY_SWEEP_EVERY === 0) for (const [ip, x] of this.sticky) if (x.until <= now) this.sticky.delete(ip);
      const s = this.sticky.get(clientIp);
      const b = s && s.until > now ? candidates.find((c) => c.key === s.key) : undefined;
      if (b) {
        s!.until = now + this.opts.affinityMs;
        return b;
      }
    }
    let chosen: Backend;
    if (this.opts.policy === 'least-connections') {
      chosen = candidates[0];
      let least = Infinity;
      // Ties go round robin, so that idle backends share the load evenly.
      for (let i = 0; i < candidates.length; i++) {
        const b = candidates[(this.next + i) % candidates.length];
        const n = this.active.get(b.key) ?? 0;
        if (n < least) [chosen, least] = [b, n];
      }
      this.next = (this.next + 1) % Math.max(1, candidates.length);
    } else {
      chosen = candidates[this.next % candidates.length];
      this.next = (this.next + 1) % Math.max(1, candidates.length);
    }
    if (this.opts.affinityMs) this.sticky.set(clientIp, { key: chosen.key, until: now + this.opts.affinityMs });
    return chosen;
  }

  opened(b: Backend): void {
    this.active.set(b.key, (this.active.get(b.key) ?? 0) + 1);
  }

  closed(b: Backend): void {
    const n = (this.active.get(b.key) ?? 1) - 1;
    if (n > 0) this.active.set(b.key, n);
    else this.active.delete(b.key);
  }
}
