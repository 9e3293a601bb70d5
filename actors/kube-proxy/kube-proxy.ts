// kube-proxy: every service is served at its ClusterIP, on its ports, on every node; a NodePort
// service also at its node ports, at the node's own address (and at 127.0.0.1 when no other node
// on the host already does). Each new connection goes to a Ready endpoint of the service,
// wherever it runs. It follows Services and Endpoints and applies each change at once. Nodes that
// share a host share its loopback addresses: one of them serves a ClusterIP, the others try again
// in case it goes. A headless service (`clusterIP: None`) is not proxied.
import { Counter, Gauge, type Registry } from 'prom-client';
import { PROXY_CLUSTER_IP_RETRY_MS } from '../../protocol/config.ts';
import { clusterIPOf, hasNodePorts } from '../../protocol/defaults.ts';
import { NotFound } from '../../protocol/errors.ts';
import type { Condition, Endpoints, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { objectKey, type Informer } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import type { Backend, BalancerOptions, Policy } from './balancer.ts';
import type { NftablesProxy, NftService } from './nftables.ts';
import { Proxy, type Target } from './proxy.ts';

export const LOAD_BALANCING_ANNOTATION = 'skiff.io/load-balancing';
const DEFAULT_AFFINITY_SECONDS = 10_800;
const LOOPBACK = '127.0.0.1';
export const PORTS_CONDITION = 'PortsAvailable';

export interface KubeProxyDeps {
  client: ApiClient;
  nodeName: string;
  address: string;
  services: Informer<Service>;
  endpoints: Informer<Endpoints>;
  events: EventRecorder;
  log: Logger;
  registry: Registry;
  /** Nodes whose endpoints get no new connections (gossip says they are dead). */
  isDead?: (node: string) => boolean;
  /** nftables mode: services as DNATs in this table, rather than listeners in this process. */
  nftables?: NftablesProxy;
}

export function balancerOptions(svc: Service): BalancerOptions {
  const policy: Policy = svc.metadata.annotations?.[LOAD_BALANCING_ANNOTATION] === 'least-connections' ? 'least-connections' : 'round-robin';
  const affinity = svc.spec.sessionAffinity === 'ClientIP'
    ? (svc.spec as { sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } } }).sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS
    : 0;
  return { policy, ...(affinity ? { affinityMs: affinity * 1000 } : {}) };
}

/** The Ready endpoints of one service port. */
export function backendsFor(ep: Endpoints | undefined, portName: string | undefined, isDead: (node: string) => boolean = () => false): Backend[] {
  const out: Backend[] = [];
  for (const subset of ep?.subsets ?? []) {
    const ports = subset.ports ?? [];
    const port = ports.find((p) => (p.name ?? '') === (portName ?? '')) ?? (ports.length === 1 ? ports[0] : undefined);
    if (!port) continue;
    for (const a of subset.addresses ?? []) {
      if (a.nodeName && isDead(a.nodeName)) continue;
      const pod = a.targetRef?.kind === 'Pod' ? `${a.targetRef.namespace ?? ep?.metadata.namespace ?? 'default'}/${a.targetRef.name}` : undefined;
      out.push({ key: `${a.ip}:${port.port}`, ip: a.ip, port: port.port, ...(pod ? { pod } : {}) });
    }
  }
  return out;
}

/** Where one service port is served on a node: its ClusterIP, and a NodePort's node port. */
interface PortFrontends {
  /** The target's id: `namespace/name:port` (the port's name, or its number). */
  id: string;
  portName?: string;
  clusterIP?: { address: string; port: number };
  /** The node port at the node's address, and at 127.0.0.1 (optional: another node on the host may hold it). */
  nodePorts: { address: string; port: number; optional: boolean }[];
}

/** The service's ports that are served on a node at `address`, and where: the same in userspace and in nftables mode. */
function frontendsOf(svc: Service, address: string): PortFrontends[] {
  const key = objectKey(svc);
  const clusterIP = clusterIPOf(svc);
  return (svc.spec.ports ?? []).flatMap((sp) => {
    const nodePort = hasNodePorts(svc) ? sp.nodePort : undefined;
    if (!clusterIP && !nodePort) return [];
    const nodePorts = nodePort ? [{ address, port: nodePort, optional: false }, ...(address !== LOOPBACK ? [{ address: LOOPBACK, port: nodePort, optional: true }] : [])] : [];
    return [{ id: `${key}:${sp.name ?? sp.port}`, portName: sp.name, clusterIP: clusterIP ? { address: clusterIP, port: sp.port } : undefined, nodePorts }];
  });
}

export class KubeProxy {
  readonly proxy: Proxy;
  private scheduled = false;
  /** Services (namespace/name) whose Service or Endpoints changed since the last sync. */
  private readonly dirty = new Set<string>();
  /** Every service wants looking at again. */
  private all = false;
  /** Ports that could not be listened on (`address:port`): their service (`namespace/name`, and which object of that name) and what was told. */
  private readonly conflicts = new Map<string, { service: string; uid?: string; message: string }>();
  /** The message of the PortsAvailable=False this node last wrote, by service: what is this node's to change. */
  private readonly told = new Map<string, string>();
  private readonly connections: Counter<'service'>;
  private readonly refusals: Counter<'service'>;
  private readonly deadSkips: Counter;
  /** Nodes whose endpoints the last sync left out as gossip-dead. */
  private deadNodes = new Set<string>();
  /** Each target's connection counter, found once rather than by its labels on every connection. */
  private readonly connectionCounters = new WeakMap<Target, { inc(): void }>();

  constructor(private readonly deps: KubeProxyDeps) {
    const registers = [deps.registry];
    this.connections = new Counter({ name: 'skiff_proxy_connections_total', help: 'Connections forwarded, by service.', labelNames: ['service'], registers });
    this.refusals = new Counter({ name: 'skiff_proxy_endpoint_refusals_total', help: 'Endpoints that refused a connection (the next one was tried).', labelNames: ['service'], registers });
    this.deadSkips = new Counter({ name: 'skiff_proxy_dead_endpoints_skipped_total', help: 'Endpoints left out of a balancer because gossip had declared their node dead before the Endpoints object said so.', registers });
    const unserved = new Counter({ name: 'skiff_proxy_no_endpoint_total', help: 'Connections closed because no endpoint was Ready.', labelNames: ['service'], registers });
    const proxy = (this.proxy = new Proxy({
      connection: (t) => this.connectionsOf(t).inc(),
      refused: (t, b) => {
        this.refusals.inc({ service: serviceOf(t) });
        deps.log.debug('endpoint refused a connection; trying the next', { service: t.id, endpoint: b.key });
      },
      noBackend: (t) => unserved.inc({ service: serviceOf(t) }),
      listenFailed: (t, address, port, err) => this.listenFailed(t, address, port, err),
      listening: (t, address, port) => this.listenRecovered(t, address, port),
    }));
    new Gauge({ name: 'skiff_proxy_listeners', help: 'Ports this kube-proxy listens on.', registers, collect() { this.set(proxy.listening().length); } });
  }

  private connectionsOf(t: Target): { inc(): void } {
    let c = this.connectionCounters.get(t);
    if (!c) this.connectionCounters.set(t, (c = this.connections.labels({ service: serviceOf(t) })));
    return c;
  }

  start(): void {
    // A Service and its Endpoints share a key (namespace/name): an event makes that service dirty.
    const changed = (obj: Service | Endpoints) => this.changed(objectKey(obj));
    this.deps.services.on({ add: changed, update: (_old, obj) => changed(obj), delete: changed });
    this.deps.endpoints.on({ add: changed, update: (_old, obj) => changed(obj), delete: changed });
  }

  stop(): void {
    this.proxy.close();
    this.deps.nftables?.close();
  }

  /** Every service is looked at again (gossip's verdict on a node changed). */
  scheduleSync(): void {
    this.all = true;
    this.schedule();
  }

  private changed(service: string): void {
    this.dirty.add(service);
    this.schedule();
  }

  /** Changes that arrive together are applied together, in the same turn of the event loop. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.all) this.sync();
      else this.syncServices([...this.dirty]);
      this.dirty.clear();
    });
  }

  /** Every service, and nothing else: listeners of services that are gone close. */
  sync(): void {
    this.all = false;
    this.dirty.clear();
    const skipped = this.apply(this.deps.services.list(), () => true);
    // Counted once, when a node's endpoints first drop out, not again on every later sync.
    for (const [node, n] of skipped) if (!this.deadNodes.has(node)) this.deadSkips.inc(n);
    this.deadNodes = new Set(skipped.keys());
  }

  /**
   * The named services only (namespace/name), as their Service and Endpoints now are: the cost of
   * an event is its service's, not every service's. Skipped endpoints are counted by the full sync
   * every change of gossip's verdict brings, which sees them all; a partial one would count only
   * its own services' and hide the rest.
   */
  private syncServices(names: string[]): void {
    const mine = new Set(names);
    const services = names.flatMap((name) => this.deps.services.get(name) ?? []);
    this.apply(services, (service) => mine.has(service));
  }

  /**
   * Serves `services`, and closes what else of the services `among` picks is listened on (one
   * deleted, a port dropped); returns the endpoints skipped as on dead nodes, by node.
   */
  private apply(services: Service[], among: (service: string) => boolean): Map<string, number> {
    if (this.deps.nftables) return this.applyNftables(among);
    const skipped = new Map<string, number>();
    const keep = new Set<string>();
    for (const svc of services) this.serve(svc, keep, skipped);
    this.proxy.closeExcept(keep, (t) => among(serviceOf(t)));
    this.forgetFailures(keep, among);
    return skipped;
  }

  /**
   * nftables mode: every service's rules, of which those of the services `among` picks are
   * written again (the table needs every service to know which are gone).
   */
  private applyNftables(among: (service: string) => boolean): Map<string, number> {
    const skipped = new Map<string, number>();
    const rules = this.deps.services.list().flatMap((svc) => {
      const ep = this.deps.endpoints.get(objectKey(svc));
      const affinity = balancerOptions(svc).affinityMs !== undefined;
      const isDead = this.deadCounter(among(objectKey(svc)) ? skipped : undefined);
      return frontendsOf(svc, this.deps.address).map((f): NftService => ({
        key: f.id, frontends: [...(f.clusterIP ? [f.clusterIP] : []), ...f.nodePorts], backends: backendsFor(ep, f.portName, isDead), affinity,
      }));
    });
    const nft = this.deps.nftables!;
    nft.sync(rules, (id) => among(serviceOfId(id))).catch((err: Error) => this.deps.log.error('could not write the nftables rules', { table: nft.table, err: err.message }));
    return skipped;
  }

  /** Listens on the service's ports and gives each its backends; the listener keys go into `keep`. */
  private serve(svc: Service, keep: Set<string>, skipped: Map<string, number>): void {
    const ep = this.deps.endpoints.get(objectKey(svc));
    const opts = balancerOptions(svc);
    const isDead = this.deadCounter(skipped);
    for (const f of frontendsOf(svc, this.deps.address)) {
      const target = this.proxy.target(f.id, opts);
      target.balancer.setBackends(backendsFor(ep, f.portName, isDead));
      if (f.clusterIP) {
        this.proxy.listen(target, f.clusterIP.address, f.clusterIP.port, true, PROXY_CLUSTER_IP_RETRY_MS);
        keep.add(`${f.clusterIP.address}:${f.clusterIP.port}`);
      }
      for (const n of f.nodePorts) {
        this.proxy.listen(target, n.address, n.port, n.optional);
        keep.add(`${n.address}:${n.port}`);
      }
    }
  }

  /** Gossip's verdict on a node, counting in `skipped` (when given) the endpoints it leaves out. */
  private deadCounter(skipped?: Map<string, number>): (node: string) => boolean {
    return (node) => {
      if (!this.deps.isDead?.(node)) return false;
      skipped?.set(node, (skipped.get(node) ?? 0) + 1);
      return true;
    };
  }


  /** A failing port no longer asked for (of the services `among` picks) fails no more: its service's condition is settled again. */
  private forgetFailures(keep: Set<string>, among: (service: string) => boolean): void {
    const unasked = new Set<string>();
    for (const [key, c] of this.conflicts) {
      if (keep.has(key) || !among(c.service)) continue;
      this.conflicts.delete(key);
      unasked.add(c.service);
    }
    for (const service of this.told.keys()) if (among(service) && !this.deps.services.get(service)) this.told.delete(service);
    for (const service of unasked) this.settle(service, `no port of the service fails on node ${this.deps.nodeName} any more`);
  }

  private listenFailed(t: Target, address: string, port: number, err: NodeJS.ErrnoException): void {
    const message = `port ${port} is not available on node ${this.deps.nodeName} (${address}): ${err.code === 'EADDRINUSE' ? 'another process uses it' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : err.message}`;
    // The port is tried again every PROXY_LISTEN_RETRY_MS; the same failure is told once (to each
    // object of the service's name: one deleted and made again is told anew).
    const key = `${address}:${port}`;
    const svc = this.deps.services.get(serviceOf(t));
    const known = this.conflicts.get(key);
    if (known?.message === message && known.uid === svc?.metadata.uid) return;
    this.conflicts.set(key, { service: serviceOf(t), uid: svc?.metadata.uid, message });
    this.deps.log.warn('cannot listen for a service port', { service: t.id, address, port, err: err.code ?? err.message });
    if (!svc) return;
    this.deps.events.record(svc, 'Warning', 'PortInUse', message);
    this.setPortsCondition(svc, { status: 'False', reason: 'PortInUse', message });
  }

  /** A port that had failed is served now: the condition is settled again. */
  private listenRecovered(t: Target, address: string, port: number): void {
    if (!this.conflicts.delete(`${address}:${port}`)) return;
    this.deps.log.info('listening on a service port that was not available', { service: t.id, address, port });
    this.settle(serviceOf(t), `port ${port} is available again on node ${this.deps.nodeName} (${address})`);
  }

  /**
   * If the service's condition holds what this node told (not another node's failure, told since),
   * it now names this node's next failing port of the service, or turns True, saying `why`, when
   * there is none.
   */
  private settle(service: string, why: string): void {
    const svc = this.deps.services.get(service);
    const current = svc?.status?.conditions?.find((c) => c.type === PORTS_CONDITION);
    if (!svc || current?.status !== 'False' || current.message !== this.told.get(service)) return;
    const still = [...this.conflicts.values()].find((c) => c.service === service);
    if (still) {
      if (still.message !== current.message) this.setPortsCondition(svc, { status: 'False', reason: 'PortInUse', message: still.message });
      return;
    }
    this.setPortsCondition(svc, { status: 'True', reason: 'Listening', message: why });
  }

  /** Writes the condition; what this node has told is what it may change later (settle). */
  private setPortsCondition(svc: Service, c: Pick<Condition, 'status' | 'reason' | 'message'>): void {
    const service = objectKey(svc);
    if (c.status === 'False') this.told.set(service, c.message!);
    else this.told.delete(service);
    const prev = svc.status?.conditions?.find((x) => x.type === PORTS_CONDITION);
    const conditions: Condition[] = [
      ...(svc.status?.conditions ?? []).filter((x) => x.type !== PORTS_CONDITION),
      // The transition time is when the status last changed, not the message.
      { type: PORTS_CONDITION, ...c, lastTransitionTime: prev?.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : new Date().toISOString() },
    ];
    void this.deps.client.patch('services', svc.metadata.name!, svc.metadata.namespace, { status: { conditions } }, { subresource: 'status' })
      .catch((e) => {
        // Not written: the condition does not hold this, so it is not this node's to change.
        if (c.status === 'False' && this.told.get(service) === c.message) this.told.delete(service);
        if (!(e instanceof NotFound)) this.deps.log.warn('could not record the ports condition on the service', { service, err: e });
      });
  }
}

/** A target's service, as its informer key (`namespace/name`). */
function serviceOf(t: Target): string {
  return serviceOfId(t.id);
}

/** The service of a target id (`namespace/name:port`), as its informer key. */
function serviceOfId(id: string): string {
  return id.slice(0, id.lastIndexOf(':'));
}
