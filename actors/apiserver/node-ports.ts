// The ports a service holds on every node, as Kubernetes' apiserver allocates NodePorts: a
// NodePort service's ports get a port from the range (30000-32767 by default) unless they name
// one, and no two services share a node port. A service's own `port` is served at its ClusterIP
// (cluster-ips.ts), so any number of services may use port 80.
import { Conflict, Invalid, type FieldError } from '../../protocol/errors.ts';
import { hasNodePorts } from '../../protocol/defaults.ts';
import type { Service } from '../../protocol/types.ts';
import type { AdmissionPlugin } from './admission.ts';
import { ALLOCATION_ATTEMPTS, claim, holderOf, release, type ClaimStore } from './claims.ts';

export interface PortRange {
  min: number;
  max: number;
}

export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  const range = m ? { min: Number(m[1]), max: Number(m[2]) } : undefined;
  if (!range || range.min < 1 || range.max > 65535 || range.min > range.max) {
    throw new Error(`node port range ${JSON.stringify(text)} (SKIFF_NODE_PORT_RANGE): use FROM-TO, e.g. 30000-32767`);
  }
  return range;
}

/**
 * The service with its node ports filled in, once its ports are checked. `taken` maps every node
 * port other services hold to the one holding it; `previous` is the stored service on an update,
 * whose node ports are kept.
 */
export function allocateServicePorts(svc: Service, taken: Map<number, string>, range: PortRange, previous?: Service, random = Math.random): Service {
  const errors: FieldError[] = [];
  const servicePorts = new Set<number>();
  svc.spec.ports.forEach((p, i) => {
    if (servicePorts.has(p.port)) errors.push({ path: `spec.ports[${i}].port`, message: `${p.port} is given twice` });
    servicePorts.add(p.port);
  });
  const mine = new Set<number>();
  // What the stored service holds stays its own (a store from before node ports were claimed may
  // hold two services on one: each must still be writable).
  const held = new Set(portsOf(previous));
  const check = (port: number, path: string) => {
    if (taken.has(port) && !held.has(port)) errors.push({ path, message: `${port} is already allocated to service ${taken.get(port)} (a node port is a port on every node; choose another, or leave it out to be given one)` });
    else if (mine.has(port)) errors.push({ path, message: `${port} is given twice` });
    mine.add(port);
  };
  if (!hasNodePorts(svc)) {
    if (errors.length) throw new Invalid(`Service ${JSON.stringify(svc.metadata.name)}`, errors);
    return svc;
  }
  const ports = svc.spec.ports.map((p, i) => {
    const kept = p.nodePort || previous?.spec.ports.find((q) => q.name === p.name && q.port === p.port)?.nodePort;
    if (kept) {
      const path = `spec.ports[${i}].nodePort`;
      if (kept < range.min || kept > range.max) errors.push({ path, message: `${kept} is outside the node port range ${range.min}-${range.max}` });
      else check(kept, path);
      return { ...p, nodePort: kept };
    }
    return { ...p };
  });
  if (errors.length) throw new Invalid(`Service ${JSON.stringify(svc.metadata.name)}`, errors);
  const size = range.max - range.min + 1;
  for (const p of ports) {
    if (p.nodePort) continue;
    const start = Math.floor(random() * size);
    let chosen: number | undefined;
    for (let k = 0; k < size && chosen === undefined; k++) {
      const candidate = range.min + ((start + k) % size);
      if (!taken.has(candidate) && !mine.has(candidate)) chosen = candidate;
    }
    if (chosen === undefined) throw new Invalid(`Service ${JSON.stringify(svc.metadata.name)}`, [{ path: 'spec.ports', message: `no free node port left in ${range.min}-${range.max}` }]);
    mine.add(chosen);
    p.nodePort = chosen;
  }
  return { ...svc, spec: { ...svc.spec, ports } };
}

// `nodeport.N` for every node port a service holds.
const claimKey = (port: number) => `nodeport.${port}`;

/**
 * Claims node port `port` for `holder` (namespace/name) in the store: undefined when it is the
 * holder's, else who has it (claims.ts).
 */
export function claimPort(store: ClaimStore, port: number, holder: string, holds: (holder: string) => boolean, now = Date.now()): Promise<string | undefined> {
  return claim(store, claimKey(port), holder, holds, now);
}

/** Drops `holder`'s claim on node port `port`, if it is still its. */
export function releasePort(store: ClaimStore, port: number, holder: string): Promise<void> {
  return release(store, claimKey(port), holder);
}

/** Every port `svc` holds on the nodes: its node ports. */
function portsOf(svc: Service | undefined): number[] {
  if (!svc || !hasNodePorts(svc)) return [];
  return svc.spec.ports.flatMap((p) => (p.nodePort ? [p.nodePort] : []));
}

/**
 * The ServicePorts admission plugin. A service's node ports are checked or chosen,
 * against this apiserver's cache of services, then claimed in the store (without `claims`, as in
 * unit tests, the cache alone decides); a port another apiserver has just given away counts as
 * taken, and the choice is made again. A deleted service releases its claims once the delete is
 * written (`deleted`), an updated one those of the ports it gave up (`updated`); claims won by a
 * write that then fails (a conflict, a stale fence) stay until CLAIM_GRACE_MS lets
 * another service take them over.
 */
export function servicePortAllocator(range: PortRange, services: () => Service[], claims?: ClaimStore): AdmissionPlugin {
  return {
    name: 'ServicePorts',
    async deleted(info, object) {
      if (info.kind !== 'Service' || !claims) return;
      for (const p of portsOf(object as Service)) await releasePort(claims, p, holderOf(object));
    },
    async updated(info, old, next) {
      if (info.kind !== 'Service' || !claims) return;
      const kept = new Set(portsOf(next as Service));
      for (const p of portsOf(old as Service)) if (!kept.has(p)) await releasePort(claims, p, holderOf(old));
    },
    async admit(req) {
      if (req.info.kind !== 'Service' || req.operation === 'DELETE') return;
      const svc = req.object as Service;
      const holder = holderOf(svc);
      const taken = new Map<number, string>();
      for (const other of services()) {
        if (other.metadata.uid === svc.metadata.uid || (other.metadata.namespace === svc.metadata.namespace && other.metadata.name === svc.metadata.name)) continue;
        for (const p of portsOf(other)) taken.set(p, holderOf(other));
      }
      const old = req.oldObject as Service | undefined;
      const held = new Set(portsOf(old));
      for (let attempt = 1; ; attempt++) {
        const next = allocateServicePorts(svc, taken, range, old);
        if (!claims || req.dryRun) {
          svc.spec = next.spec;
          return;
        }
        const won: number[] = [];
        let lost = false;
        for (const port of portsOf(next)) {
          if (held.has(port)) continue;
          const other = await claimPort(claims, port, holder, (h) => taken.get(port) === h);
          if (other === undefined) won.push(port);
          else {
            taken.set(port, other);
            lost = true;
          }
        }
        if (!lost) {
          svc.spec = next.spec;
          return;
        }
        for (const port of won) await releasePort(claims, port, holder).catch(() => {});
        if (attempt === ALLOCATION_ATTEMPTS) throw new Conflict(`Service ${JSON.stringify(svc.metadata.name)}: its node ports were taken by other services while it was admitted ${ALLOCATION_ATTEMPTS} times; try again`);
      }
    },
  };
}
