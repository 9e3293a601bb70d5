// The local provider's load balancers: a LoadBalancer service gets an address of its own
// (SKIFF_CLOUD_LOAD_BALANCER_CIDR, 127.0.2.N), kept in a record so that it stays the service's
// across restarts and leaders, and a listener on each of the service's ports there, in the leading
// cloud controller manager's process, that spreads connections over the nodes' node ports, as a
// cloud's balancer spreads them over its instances. It is kube-proxy's data path (Proxy): round
// robin, a node that refuses skipped for the next.
import { join } from 'node:path';
import type { LoadBalancerIngress, Node, Service } from '../../../protocol/types.ts';
import { Proxy, type ProxyEvents } from '../../kube-proxy/proxy.ts';
import type { Backend } from '../../kube-proxy/balancer.ts';
import type { Logger } from '../../platform/log.ts';
import type { LoadBalancers } from '../provider.ts';
import { freeAddress, RecordDir } from './records.ts';

interface BalancerRecord {
  namespace: string;
  name: string;
  address: string;
}

/** The address a node's node ports are on: its InternalIP. */
function nodeAddress(node: Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

export class LocalLoadBalancers implements LoadBalancers {
  private readonly records: RecordDir<BalancerRecord>;
  private proxy: Proxy;
  /** The listeners of each balancer served here: `address:port`, by service key. */
  private readonly served = new Map<string, Set<string>>();

  constructor(dir: string, private readonly cidr: string, private readonly log: Logger) {
    this.records = new RecordDir(join(dir, 'load-balancers'));
    this.proxy = new Proxy(this.events());
  }

  private events(): ProxyEvents {
    return {
      connection: () => {},
      refused: (t, b) => this.log.info('load balancer: a node refused a connection', { service: t.id, node: b.key }),
      noBackend: (t) => this.log.warn('load balancer: no node to send a connection to', { service: t.id }),
      listenFailed: (t, address, port, err) => this.log.error('load balancer: cannot listen', { service: t.id, address, port, err: err.message }),
      listening: (t, address, port) => this.log.info('load balancer: listening', { service: t.id, address, port }),
    };
  }

  private static key(svc: Service): string {
    return `${svc.metadata.namespace ?? 'default'}.${svc.metadata.name}`;
  }

  async ensure(svc: Service, nodes: Node[]): Promise<LoadBalancerIngress[]> {
    const key = LocalLoadBalancers.key(svc);
    let record = this.records.read(key);
    if (!record) {
      const taken = new Set([...this.records.all().values()].map((r) => r.address));
      const address = freeAddress(this.cidr, taken);
      if (!address) throw new Error(`no address left for a load balancer in ${this.cidr} (SKIFF_CLOUD_LOAD_BALANCER_CIDR)`);
      record = { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name!, address };
      this.records.write(key, record);
    }
    this.serve(svc, record.address, nodes);
    return [{ ip: record.address }];
  }

  async update(svc: Service, nodes: Node[]): Promise<void> {
    await this.ensure(svc, nodes);
  }

  /** Listens on each of the service's ports at `address`, forwarding to every node's node port for it. */
  private serve(svc: Service, address: string, nodes: Node[]): void {
    const key = LocalLoadBalancers.key(svc);
    const keep = new Set<string>();
    const addresses = nodes.flatMap((n) => nodeAddress(n) ?? []);
    for (const p of svc.spec.ports) {
      if (!p.nodePort) continue;
      const target = this.proxy.target(`${key}:${p.name ?? p.port}`, { policy: 'round-robin' });
      target.balancer.setBackends(addresses.map((ip): Backend => ({ key: `${ip}:${p.nodePort}`, ip, port: p.nodePort! })));
      this.proxy.listen(target, address, p.port, false);
      keep.add(`${address}:${p.port}`);
    }
    this.served.set(key, keep);
    this.closeUnserved();
  }

  private closeUnserved(): void {
    const all = new Set([...this.served.values()].flatMap((s) => [...s]));
    this.proxy.closeExcept(all);
  }

  async ensureDeleted(svc: Service): Promise<void> {
    const key = LocalLoadBalancers.key(svc);
    this.served.delete(key);
    this.closeUnserved();
    this.records.remove(key);
  }

  /** Every balancer this process serves, closed; their addresses stay recorded for the next leader. */
  async release(): Promise<void> {
    this.served.clear();
    this.proxy.close();
    this.proxy = new Proxy(this.events());
  }

  /** Where this process listens (address:port), for tests and logs. */
  listening(): string[] {
    return this.proxy.listening();
  }
}
