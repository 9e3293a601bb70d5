// The ports a service holds on every node, as Kubernetes' apiserver allocates NodePorts: a
// NodePort service's ports get a port from the range (30000-32767 by default) unless they name
// one. In skiff a service's own `port` is also a port on every node (there are no virtual IPs:
// README, "ClusterIP, the skiff way"), so no two services may share any of these ports: a second
// service on port 80 would otherwise take the first one's traffic on every node.
import { NODE_PORT_CLAIM_GRACE_MS } from '../../protocol/config.ts';
import { Conflict, Invalid, type FieldError } from '../../protocol/errors.ts';
import type { KubeObject, Service } from '../../protocol/types.ts';
import type { AdmissionPlugin } from './admission.ts';

export interface PortRange {
  min: number;
  max: number;
}

export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  const range = m ? { min: Number(m[1]), max: Number(m[2]) } : undefined;
  if (!range || range.min < 1 || range.max > 65535 || range.min > range.max) {
    throw new Error(`node port range ${JSON.stringify(text)}: use FROM-TO, e.g. 30000-32767`);
  }
  return range;
}

/**
 * The service with its node ports filled in, once its ports are checked. `taken` maps every port
 * other services hold on the nodes (their ports and node ports) to the one holding it;
 * `previous` is the stored service on an update, whose node ports are kept.
 */
export function allocateServicePorts(svc: Service, taken: Map<number, string>, range: PortRange, previous?: Service, random = Math.random): Service {
  const errors: FieldError[] = [];
  const mine = new Set<number>();
  // What the stored service holds stays its own (a store from before service ports were checked
  // may hold two services on one port: each must still be writable).
  const held = new Set(portsOf(previous));
  const check = (port: number, path: string) => {
    if (taken.has(port) && !held.has(port)) errors.push({ path, message: `${port} is already allocated to service ${taken.get(port)} (a service's ports are ports on every node; choose another)` });
    else if (mine.has(port)) errors.push({ path, message: `${port} is given twice` });
    mine.add(port);
  };
  svc.spec.ports.forEach((p, i) => check(p.port, `spec.ports[${i}].port`));
  if (svc.spec.type !== 'NodePort') {
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

/** What the allocator needs of the store to agree with other apiservers (Store has it; tests use a map). */
export interface ClaimStore {
  getClaim(key: string): Promise<{ value?: Uint8Array; revision: number } | null>;
  putClaim(key: string, value: Uint8Array, revision: number): Promise<boolean>;
  dropClaim(key: string, revision: number): Promise<void>;
}

const ALLOCATION_ATTEMPTS = 5;

interface Claim {
  holder: string;
  at: number;
}

// `nodeport.` for every port a service holds on the nodes (the key predates service ports' claims).
const claimKey = (port: number) => `nodeport.${port}`;
const readClaim = (value: Uint8Array) => JSON.parse(new TextDecoder().decode(value)) as Claim;

/**
 * Claims `port` for `holder` (namespace/name) in the store, which every apiserver writes through
 * compare-and-swap: two apiservers admitting two services at once cannot both have it. Returns
 * undefined when the port is the holder's, else who has it. A claim is taken over once its holder
 * no longer has the port (`holds`, from this apiserver's cache) and the grace has passed: claims
 * of services deleted without their release, or whose ports changed.
 */
export async function claimPort(store: ClaimStore, port: number, holder: string, holds: (holder: string) => boolean, now = Date.now()): Promise<string | undefined> {
  const mine = new TextEncoder().encode(JSON.stringify({ holder, at: now } satisfies Claim));
  for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
    const current = await store.getClaim(claimKey(port));
    if (current?.value) {
      const claim = readClaim(current.value);
      if (claim.holder === holder) return undefined;
      if (holds(claim.holder) || now - claim.at < NODE_PORT_CLAIM_GRACE_MS) return claim.holder;
    }
    if (await store.putClaim(claimKey(port), mine, current?.revision ?? 0)) return undefined;
  }
  return 'another service';
}

/** Drops `holder`'s claim on `port`, if it is still its. */
export async function releasePort(store: ClaimStore, port: number, holder: string): Promise<void> {
  const current = await store.getClaim(claimKey(port));
  if (current?.value && readClaim(current.value).holder === holder) await store.dropClaim(claimKey(port), current.revision);
}

const holderOf = (obj: KubeObject) => `${obj.metadata.namespace}/${obj.metadata.name}`;

/** Every port `svc` holds on the nodes: its ports, and its node ports. */
function portsOf(svc: Service | undefined): number[] {
  const out: number[] = [];
  for (const p of svc?.spec.ports ?? []) {
    out.push(p.port);
    if (svc!.spec.type === 'NodePort' && p.nodePort) out.push(p.nodePort);
  }
  return out;
}

/**
 * The ServicePorts admission plugin. A service's ports are checked, and its node ports chosen,
 * against this apiserver's cache of services, then claimed in the store (without `claims`, as in
 * unit tests, the cache alone decides); a port another apiserver has just given away counts as
 * taken, and the choice is made again. A deleted service releases its claims once the delete is
 * written (`deleted`), an updated one those of the ports it gave up (`updated`); claims won by a
 * write that then fails (a conflict, a stale fence) stay until NODE_PORT_CLAIM_GRACE_MS lets
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
        if (attempt === ALLOCATION_ATTEMPTS) throw new Conflict(`Service ${JSON.stringify(svc.metadata.name)}: its ports were taken by other services while it was admitted ${ALLOCATION_ATTEMPTS} times; try again`);
      }
    },
  };
}
