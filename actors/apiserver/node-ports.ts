// NodePort allocation, as Kubernetes' apiserver does it: a NodePort service's ports get a port
// from the range (30000-32767 by default) unless they name one, and no two services share one.
import { Invalid, type FieldError } from '../../protocol/errors.ts';
import type { Service } from '../../protocol/types.ts';
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
 * The service with its node ports filled in. `taken` maps every port other services hold to the
 * one holding it; `previous` is the stored service on an update, whose ports are kept.
 */
export function allocateNodePorts(svc: Service, taken: Map<number, string>, range: PortRange, previous?: Service, random = Math.random): Service {
  if (svc.spec.type !== 'NodePort') return svc;
  const errors: FieldError[] = [];
  const mine = new Set<number>();
  const ports = svc.spec.ports.map((p, i) => {
    const kept = p.nodePort || previous?.spec.ports.find((q) => q.name === p.name && q.port === p.port)?.nodePort;
    if (kept) {
      const path = `spec.ports[${i}].nodePort`;
      if (kept < range.min || kept > range.max) errors.push({ path, message: `${kept} is outside the node port range ${range.min}-${range.max}` });
      else if (taken.has(kept)) errors.push({ path, message: `${kept} is already allocated to service ${taken.get(kept)}` });
      else if (mine.has(kept)) errors.push({ path, message: `${kept} is given twice` });
      mine.add(kept);
      return { ...p, nodePort: kept };
    }
    return p;
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

export function nodePortAllocator(range: PortRange, services: () => Service[]): AdmissionPlugin {
  return {
    name: 'ServiceNodePorts',
    admit(req) {
      if (req.info.kind !== 'Service' || req.operation === 'DELETE') return;
      const svc = req.object as Service;
      const taken = new Map<number, string>();
      for (const other of services()) {
        if (other.metadata.uid === svc.metadata.uid || (other.metadata.namespace === svc.metadata.namespace && other.metadata.name === svc.metadata.name)) continue;
        for (const p of other.spec.ports ?? []) if (p.nodePort) taken.set(p.nodePort, `${other.metadata.namespace}/${other.metadata.name}`);
      }
      const next = allocateNodePorts(svc, taken, range, req.oldObject as Service | undefined);
      svc.spec = next.spec;
    },
  };
}
