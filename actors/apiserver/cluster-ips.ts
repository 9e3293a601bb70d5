// ClusterIPs, as Kubernetes' apiserver allocates them: every ClusterIP and NodePort service gets an
// address of its own from the service range (127.1.0.0/16 by default, SKIFF_SERVICE_CIDR), unless
// it names one that is free, or is headless (`clusterIP: None`). Linux gives a host every address
// of 127.0.0.0/8, in every network namespace, so kube-proxy can serve the address on every node
// with no virtual-IP tricks; the range must lie there. Two apiservers admitting at once agree
// through claims in the store (claims.ts), as for node ports.
import { clusterIPOf, hasNodePorts, HEADLESS_CLUSTER_IP } from '../../protocol/defaults.ts';
import { Conflict, Invalid, type FieldError } from '../../protocol/errors.ts';
import type { Service } from '../../protocol/types.ts';
import type { AdmissionPlugin } from './admission.ts';
import { ALLOCATION_ATTEMPTS, claim, holderOf, release, type ClaimStore } from './claims.ts';


export interface ServiceCidr {
  /** The range as given, `127.1.0.0/16`. */
  text: string;
  /** Its first address, as a 32-bit number. */
  base: number;
  /** How many addresses it spans. */
  size: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 address as a number; undefined if it is not one. */
export function ipv4ToNumber(ip: string): number | undefined {
  const m = IPV4.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseServiceCidr(text: string): ServiceCidr {
  const [ip, bits, extra] = text.trim().split('/');
  const base = ipv4ToNumber(ip ?? '');
  const prefix = /^\d+$/.test(bits ?? '') ? Number(bits) : NaN;
  const fix = 'use an IPv4 range inside 127.0.0.0/8 of at least 4 addresses, e.g. 127.1.0.0/16 (kube-proxy listens on the addresses, and only 127.0.0.0/8 is every host\'s own)';
  if (base === undefined || extra !== undefined || !(prefix >= 8 && prefix <= 30) || base >>> 24 !== 127) throw new Error(`service range ${JSON.stringify(text)} (SKIFF_SERVICE_CIDR): ${fix}`);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new Error(`service range ${JSON.stringify(text)} (SKIFF_SERVICE_CIDR): ${numberToIpv4(base)} is not the start of a /${prefix}; ${fix}`);
  return { text: text.trim(), base, size };
}

/** Whether `ip` is one the range hands out (not its first or last address). */
export function inServiceRange(ip: string, cidr: ServiceCidr): boolean {
  const n = ipv4ToNumber(ip);
  return n !== undefined && n > cidr.base && n < cidr.base + cidr.size - 1;
}

/**
 * The service with its ClusterIP filled in. `taken` maps every address other services hold to
 * the one holding it; `previous` is the stored service on an update, whose address is kept (it
 * cannot change, as in Kubernetes).
 */
export function allocateClusterIP(svc: Service, taken: Map<string, string>, cidr: ServiceCidr, previous?: Service, random = Math.random): Service {
  const what = `Service ${JSON.stringify(svc.metadata.name)}`;
  const refuse = (message: string): never => {
    throw new Invalid(what, [{ path: 'spec.clusterIP', message } satisfies FieldError]);
  };
  const requested = svc.spec.clusterIP || undefined;
  const stored = previous?.spec.clusterIP || undefined;
  if (stored) {
    if (requested && requested !== stored) refuse(`${JSON.stringify(requested)}: the field is immutable (the service has ${stored}); delete and create the service to change it`);
    return requested ? svc : { ...svc, spec: { ...svc.spec, clusterIP: stored } };
  }
  if (requested === HEADLESS_CLUSTER_IP) {
    if (hasNodePorts(svc)) refuse(`may not be None for a ${svc.spec.type} service: its node ports need an address to forward to`);
    return svc;
  }
  if (requested) {
    if (ipv4ToNumber(requested) === undefined) refuse(`${JSON.stringify(requested)}: use an IPv4 address from ${cidr.text}, "None" for a headless service, or leave it out to be given one`);
    if (!inServiceRange(requested, cidr)) refuse(`${requested} is not in the service range ${cidr.text} (SKIFF_SERVICE_CIDR), less its first and last addresses`);
    if (taken.has(requested)) refuse(`${requested} is already allocated to service ${taken.get(requested)}; choose another, or leave it out to be given one`);
    return svc;
  }
  const usable = cidr.size - 2;
  const start = Math.floor(random() * usable);
  for (let k = 0; k < usable; k++) {
    const ip = numberToIpv4(cidr.base + 1 + ((start + k) % usable));
    if (!taken.has(ip)) return { ...svc, spec: { ...svc.spec, clusterIP: ip } };
  }
  return refuse(`no free address left in the service range ${cidr.text} (${usable} addresses, SKIFF_SERVICE_CIDR): delete a service, or widen the range`);
}

const claimKey = (ip: string) => `clusterip.${ip}`;

/**
 * The ServiceClusterIP admission plugin: a service's address is chosen against this apiserver's
 * cache of services, then claimed in the store; an address another apiserver has just given away
 * counts as taken, and the choice is made again (or refused, if the service named it). A deleted
 * service releases its claim once the delete is written.
 */
export function serviceClusterIPAllocator(cidr: ServiceCidr, services: () => Service[], claims?: ClaimStore): AdmissionPlugin {
  return {
    name: 'ServiceClusterIP',
    async deleted(info, object) {
      const ip = clusterIPOf(object as Service);
      if (info.kind !== 'Service' || !claims || !ip) return;
      await release(claims, claimKey(ip), holderOf(object));
    },
    async admit(req) {
      if (req.info.kind !== 'Service' || req.operation === 'DELETE') return;
      const svc = req.object as Service;
      const holder = holderOf(svc);
      const old = req.oldObject as Service | undefined;
      const taken = new Map<string, string>();
      for (const other of services()) {
        const ip = clusterIPOf(other);
        if (!ip || other.metadata.uid === svc.metadata.uid || holderOf(other) === holder) continue;
        taken.set(ip, holderOf(other));
      }
      for (let attempt = 1; ; attempt++) {
        const next = allocateClusterIP(svc, taken, cidr, old);
        const ip = clusterIPOf(next);
        if (!claims || req.dryRun || !ip || ip === clusterIPOf(old)) {
          svc.spec = next.spec;
          return;
        }
        const other = await claim(claims, claimKey(ip), holder, (h) => taken.get(ip) === h);
        if (other === undefined) {
          svc.spec = next.spec;
          return;
        }
        taken.set(ip, other);
        if (attempt === ALLOCATION_ATTEMPTS) throw new Conflict(`Service ${JSON.stringify(svc.metadata.name)}: the addresses chosen for it were taken by other services ${ALLOCATION_ATTEMPTS} times; try again`);
      }
    },
  };
}
