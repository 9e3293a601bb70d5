// kube-proxy's nftables mode: each service is a DNAT in the kernel, as Kubernetes' nftables
// kube-proxy does, so that no connection passes through this process. One table of skiff's own
// per node (`ip skiff_<node>`):
//   - a verdict map from address . protocol . port (a ClusterIP and its port; the node's address
//     and 127.0.0.1 with a node port) to the service port's chain;
//   - nat chains on output (connections made on this host) and prerouting (from other hosts) that
//     look the destination up in the map;
//   - per service port, a chain that DNATs to one Ready endpoint: `numgen random` spreads new
//     connections, `jhash ip saddr` keeps a client on one endpoint (sessionAffinity: ClientIP);
//   - a postrouting masquerade for the connections it DNATed to another host (marked), so that
//     the replies come back through this host to be un-NATed.
// Each sync is one `nft -f` transaction: it rewrites the chains and map entries of the services
// that changed, and deletes those of services that are gone. The table is deleted when the node
// stops, and replaced whole when one starts (a killed node's may be left over).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../protocol/config.ts';
import { fnv1a } from '../../protocol/hash.ts';
import type { Logger } from '../platform/log.ts';
import { findProgram } from '../platform/process.ts';
import type { Backend } from './balancer.ts';

/** One service port as the kernel serves it. */
export interface NftService {
  /** `namespace/name:port`, as the userspace proxy names its targets. */
  key: string;
  /** Where it is reached: `address:port` pairs (the ClusterIP and port; node ports). */
  frontends: { address: string; port: number }[];
  backends: Backend[];
  /** sessionAffinity: ClientIP. */
  affinity: boolean;
}

/** SKIFF_PROXY_MODE: refused unless it is one of the modes. */
export function checkProxyMode(mode: string): void {
  if (mode !== 'userspace' && mode !== 'nftables') throw new ConfigError(`SKIFF_PROXY_MODE=${JSON.stringify(mode)}: use userspace or nftables`);
}

/**
 * The nftables rules of a node asking for nftables mode, if this host allows it; otherwise
 * undefined (userspace), said once in the log.
 */
export function nftablesFor(mode: string, node: string, log: Logger): NftablesProxy | undefined {
  if (mode !== 'nftables') return undefined;
  const why = nftablesUnusable();
  if (why) {
    log.warn('SKIFF_PROXY_MODE=nftables, but nftables cannot be used: serving services in userspace', { reason: why });
    return undefined;
  }
  const table = tableName(node);
  log.info('serving services with nftables', { table });
  return new NftablesProxy(table, {
    onNonLoopbackBackend: (failed) => {
      if (failed.length) log.warn('an endpoint is on another host, but the kernel could not be set to route to it (connections to it will fail)', { failed: failed.join('; ') });
      else log.info('an endpoint is on another host: route_localnet and ip_forward set in this network namespace');
    },
  });
}

/** Why nftables mode cannot be used here, or undefined if it can. */
export function nftablesUnusable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the node does not run as root';
  const nft = findProgram('nft');
  if (!nft) return 'nft is not installed (apt-get install nftables)';
  const r = spawnSync(nft, ['list', 'tables'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return `nft does not work here: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`;
  return undefined;
}

/** An nft identifier made of the node's name: letters, digits and underscores. */
export function tableName(node: string): string {
  return `skiff_${node.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** A short, stable chain name for a service port (its key is in the chain's comment). */
function chainName(key: string): string {
  return `svc_${fnv1a(key).toString(16).padStart(8, '0')}`;
}

const isLoopback = (ip: string) => ip.startsWith('127.');

/** The packet mark of a connection this table DNATed: masqueraded if it leaves the host (Kubernetes uses the same bit). */
const MASQUERADE_MARK = '0x00004000';

/** The table's fixed part: the map and the hook chains. */
function baseTable(table: string): string[] {
  return [
    `table ip ${table} {`,
    '  map services { type ipv4_addr . inet_proto . inet_service : verdict; }',
    '  chain output { type nat hook output priority -100; policy accept; ip daddr . meta l4proto . th dport vmap @services; }',
    '  chain prerouting { type nat hook prerouting priority -100; policy accept; ip daddr . meta l4proto . th dport vmap @services; }',
    `  chain postrouting { type nat hook postrouting priority 100; policy accept; meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} ip daddr != 127.0.0.0/8 masquerade; }`,
    '}',
  ];
}

/** The DNAT rule of one service port with endpoints. */
function dnatRule(s: NftService): string {
  const pick = s.affinity ? 'jhash ip saddr' : 'numgen random';
  const targets = s.backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
  return `meta l4proto tcp meta mark set meta mark | ${MASQUERADE_MARK} dnat ip addr . port to ${pick} mod ${s.backends.length} map { ${targets} }`;
}

export class NftablesProxy {
  /** The chain of every service port in the table, and its map entries. */
  private installed = new Map<string, { chain: string; elements: string[] }>();
  private created = false;
  private routeLocalnet = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly table: string,
    private readonly opts: {
      /** The first endpoint on another host: the sysctls were set, or could not be (`failed`). */
      onNonLoopbackBackend?: (failed: string[]) => void;
      /** Another network namespace to work in (tests); this process's by default. */
      netns?: string;
    } = {},
  ) {}

  /** A command of nft's, in the namespace worked in. */
  private command(args: string[]): [string, string[]] {
    const nft = findProgram('nft') ?? 'nft';
    return this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, nft, ...args]] : [nft, args];
  }

  /**
   * Brings the table in line with `services` (every service port this node serves), rewriting
   * the service ports `changed` picks (all when undefined) and any not yet installed. Syncs run one
   * at a time, in order.
   */
  sync(services: NftService[], changed?: (key: string) => boolean): Promise<void> {
    const next = this.queue.then(() => this.apply(services, changed));
    this.queue = next.catch(() => {});
    return next;
  }

  private async apply(services: NftService[], changed?: (key: string) => boolean): Promise<void> {
    const t = this.table;
    const script: string[] = [];
    if (!this.created) {
      // Whatever a killed node left, replaced in the same transaction.
      script.push(`table ip ${t}`, `delete table ip ${t}`, ...baseTable(t));
      this.installed = new Map();
    }
    const wanted = new Set(services.map((s) => s.key));
    const next = new Map(this.installed);
    // Map entries first out, so that no chain to be deleted is still referred to.
    for (const [key, inst] of this.installed) {
      if (wanted.has(key) && !(changed?.(key) ?? true)) continue;
      for (const e of inst.elements) script.push(`delete element ip ${t} services { ${e} }`);
      next.set(key, { chain: inst.chain, elements: [] });
    }
    for (const s of services) {
      if (this.installed.has(s.key) && !(changed?.(s.key) ?? true)) continue;
      const chain = chainName(s.key);
      script.push(`add chain ip ${t} ${chain} { comment ${JSON.stringify(s.key)}; }`, `flush chain ip ${t} ${chain}`);
      const elements: string[] = [];
      if (s.backends.length > 0) {
        script.push(`add rule ip ${t} ${chain} ${dnatRule(s)}`);
        for (const f of s.frontends) elements.push(`${f.address} . tcp . ${f.port} : goto ${chain}`);
        if (!this.routeLocalnet && s.backends.some((b) => !isLoopback(b.ip))) this.enableRouteLocalnet();
      }
      // No endpoint: no entry, so a connection meets the closed port (refused), as in userspace.
      for (const e of elements) script.push(`add element ip ${t} services { ${e} }`);
      next.set(s.key, { chain, elements });
    }
    for (const [key, inst] of next) {
      if (wanted.has(key)) continue;
      script.push(`delete chain ip ${t} ${inst.chain}`);
      next.delete(key);
    }
    if (script.length === 0) return;
    await runNft(this.command(['-f', '-']), `${script.join('\n')}\n`);
    this.created = true;
    this.installed = next;
  }

  /**
   * A connection DNATed to another host needs the kernel to route it there: from a loopback
   * address (a ClusterIP's client on this host), route_localnet; from another host (a node
   * port), forwarding. Both in this node's network namespace, as Kubernetes' kube-proxy sets them.
   */
  private enableRouteLocalnet(): void {
    this.routeLocalnet = true;
    const failed: string[] = [];
    for (const name of ['net.ipv4.conf.all.route_localnet', 'net.ipv4.ip_forward']) {
      try {
        if (this.opts.netns) execFileSync('ip', ['netns', 'exec', this.opts.netns, 'sysctl', '-qw', `${name}=1`], { stdio: 'ignore' });
        else writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, '1');
      } catch (err) {
        failed.push(`${name}: ${(err as Error).message}`);
      }
    }
    this.opts.onNonLoopbackBackend?.(failed);
  }

  /** Deletes the table, at once (a node stopping must not leave its rules behind). */
  close(): void {
    if (!this.created) return;
    this.created = false;
    spawnSync(...this.command(['delete', 'table', 'ip', this.table]), { timeout: 5000 });
  }
}

/** Runs an nft script (`nft -f -`) as one transaction; rejects with nft's message. */
function runNft([cmd, args]: [string, string[]], script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft -f: ${err.trim() || `exit ${code}`}`))));
    child.stdin.end(script);
  });
}
