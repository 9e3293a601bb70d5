// What the scheduler knows of a node: its capacity and conditions, and what the pods on it (bound
// or assumed) already request. Pure data and arithmetic.
import { cpuMillis, memoryBytes } from '../../protocol/quantity.ts';
import type { Node, Pod, Taint } from '../../protocol/types.ts';

export interface Requests {
  cpu: number;
  memory: number;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  unschedulable: boolean;
  ready: boolean;
  allocatable: Requests & { pods: number };
  requested: Requests & { pods: number };
  hostPorts: Set<number>;
  /** Pods on the node per controlling owner uid, for spreading. */
  owners: Map<string, number>;
  pods: Set<string>;
}

function quantityOr(parse: (s: string) => number, text: string | undefined, fallback: number): number {
  if (!text) return fallback;
  try {
    return parse(text);
  } catch {
    return fallback;
  }
}

function containerRequests(c: Pod['spec']['containers'][number]): Requests {
  return { cpu: quantityOr(cpuMillis, c.resources?.requests?.cpu, 0), memory: quantityOr(memoryBytes, c.resources?.requests?.memory, 0) };
}

/** What a pod asks for: the sum of its containers' requests, or an init container's if larger. */
export function podRequests(pod: Pod): Requests {
  const main = { cpu: 0, memory: 0 };
  for (const c of pod.spec.containers) {
    const r = containerRequests(c);
    main.cpu += r.cpu;
    main.memory += r.memory;
  }
  for (const c of pod.spec.initContainers ?? []) {
    const r = containerRequests(c);
    main.cpu = Math.max(main.cpu, r.cpu);
    main.memory = Math.max(main.memory, r.memory);
  }
  return main;
}

export function podHostPorts(pod: Pod): number[] {
  const out: number[] = [];
  for (const c of pod.spec.containers) for (const p of c.ports ?? []) if (p.hostPort) out.push(p.hostPort);
  return out;
}

export function controllerUid(pod: Pod): string | undefined {
  return pod.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}

export function nodeInfoFrom(node: Node, previous?: NodeInfo): NodeInfo {
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return {
    name: node.metadata.name!,
    labels: node.metadata.labels ?? {},
    taints: node.spec?.taints ?? [],
    unschedulable: !!node.spec?.unschedulable,
    ready,
    allocatable: {
      cpu: quantityOr(cpuMillis, alloc.cpu, 0),
      memory: quantityOr(memoryBytes, alloc.memory, 0),
      pods: Number(alloc.pods ?? 110),
    },
    requested: previous?.requested ?? { cpu: 0, memory: 0, pods: 0 },
    hostPorts: previous?.hostPorts ?? new Set(),
    owners: previous?.owners ?? new Map(),
    pods: previous?.pods ?? new Set(),
  };
}

export function emptyNodeInfo(name: string): NodeInfo {
  return {
    name, labels: {}, taints: [], unschedulable: true, ready: false,
    allocatable: { cpu: 0, memory: 0, pods: 0 }, requested: { cpu: 0, memory: 0, pods: 0 },
    hostPorts: new Set(), owners: new Map(), pods: new Set(),
  };
}

/** Counts (sign 1) or uncounts (sign -1) a pod's requests on a node. */
export function account(info: NodeInfo, key: string, pod: Pod, sign: 1 | -1): void {
  if (sign === 1 ? info.pods.has(key) : !info.pods.has(key)) return;
  const r = podRequests(pod);
  info.requested.cpu += sign * r.cpu;
  info.requested.memory += sign * r.memory;
  info.requested.pods += sign;
  for (const p of podHostPorts(pod)) (sign === 1 ? info.hostPorts.add(p) : info.hostPorts.delete(p));
  const owner = controllerUid(pod);
  if (owner) {
    const n = (info.owners.get(owner) ?? 0) + sign;
    if (n > 0) info.owners.set(owner, n);
    else info.owners.delete(owner);
  }
  if (sign === 1) info.pods.add(key);
  else info.pods.delete(key);
}
