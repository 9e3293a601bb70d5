// NodePool admission: a pool whose template no machine of the provider could be is refused when it
// is written, with what the largest machine has, rather than left to fail at its first scale-up.
import { cpus, totalmem } from 'node:os';
import { ConfigError } from '../../protocol/config.ts';
import { Invalid, type FieldError } from '../../protocol/errors.ts';
import { cpuMillis, formatCpu, formatMemory, memoryBytes } from '../../protocol/quantity.ts';
import type { NodePool } from '../../protocol/types.ts';
import type { AdmissionPlugin } from './admission.ts';

/** The largest machine a provider has: what a pool's template may ask for at most. */
export interface Machine {
  cpuMillis: number;
  memoryBytes: number;
  /** Where the figure comes from, for the message. */
  source: string;
}

/** SKIFF_CLOUD_MACHINE (`cpu=4,memory=16Gi`), or this host's CPUs and memory when empty. */
export function largestMachine(spec: string): Machine {
  if (!spec.trim()) return { cpuMillis: cpus().length * 1000, memoryBytes: totalmem(), source: 'this host, whose resources the local provider\'s nodes share' };
  const parts = Object.fromEntries(spec.split(',').map((p) => p.trim().split('=').map((x) => x.trim())));
  try {
    if (!parts.cpu || !parts.memory) throw new Error('needs both');
    return { cpuMillis: cpuMillis(parts.cpu), memoryBytes: memoryBytes(parts.memory), source: `SKIFF_CLOUD_MACHINE=${spec}` };
  } catch {
    throw new ConfigError(`SKIFF_CLOUD_MACHINE=${JSON.stringify(spec)}: use cpu=N,memory=Q, such as cpu=4,memory=16Gi`);
  }
}

/** What of a template is larger than the machine, as field errors. */
export function templateTooLarge(pool: NodePool, m: Machine): FieldError[] {
  const c = pool.spec.template.capacity;
  const errs: FieldError[] = [];
  if (cpuMillis(c.cpu) > m.cpuMillis) errs.push({ path: 'spec.template.capacity.cpu', message: `${c.cpu} is more than the largest machine has (${formatCpu(m.cpuMillis)} CPUs: ${m.source})` });
  if (memoryBytes(c.memory) > m.memoryBytes) errs.push({ path: 'spec.template.capacity.memory', message: `${c.memory} is more than the largest machine has (${formatMemory(m.memoryBytes)}: ${m.source})` });
  return errs;
}

export function nodePoolAdmission(machine: Machine): AdmissionPlugin {
  return {
    name: 'NodePoolTemplate',
    admit(req) {
      if (req.info.kind !== 'NodePool' || req.operation === 'DELETE') return;
      const errs = templateTooLarge(req.object as NodePool, machine);
      if (errs.length) throw new Invalid(`NodePool ${JSON.stringify(req.object.metadata.name)}`, errs);
    },
  };
}
