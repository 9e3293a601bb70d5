// The Node object a kubelet registers and keeps current: capacity, allocatable, labels,
// addresses, conditions and how this node enforces limits. Pure.
import { hostname } from 'node:os';
import { METRICS_ADDRESS_ANNOTATION } from '../../protocol/defaults.ts';
import { formatCpu, formatMemory } from '../../protocol/quantity.ts';
import type { Condition, Node, Taint } from '../../protocol/types.ts';
import { SKIFF_VERSION } from '../../protocol/version.ts';
import type { LimitModes } from './limits.ts';

export const KUBELET_VERSION = `skiff-${SKIFF_VERSION}`;
export { NODE_LEASE_NAMESPACE } from '../../protocol/defaults.ts';

export interface NodeIdentity {
  name: string;
  address: string;
  cpuMillis: number;
  memoryBytes: number;
  /** Held back from allocatable for the node's own processes. */
  reservedCpuMillis: number;
  reservedMemoryBytes: number;
  maxPods: number;
  labels: Record<string, string>;
  /** Taints the Node is made with (--register-with-taints); on a Node that exists already, left as they are. */
  taints?: Taint[];
  modes: LimitModes;
  /** Where the node process serves /metrics (host:port), for Prometheus' discovery (the masters' /sd). */
  metricsAddress?: string;
}

/** The annotations a kubelet keeps on its Node. */
export function nodeAnnotations(id: NodeIdentity): Record<string, string> {
  return {
    'skiff.io/memory-limit-mode': id.modes.memory, 'skiff.io/cpu-limit-mode': id.modes.cpu,
    ...(id.metricsAddress ? { [METRICS_ADDRESS_ANNOTATION]: id.metricsAddress } : {}),
  };
}

function readyConditions(now: string, prev: Condition[] | undefined): Condition[] {
  const keep = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const before = prev?.find((c) => c.type === type);
    return {
      type, status, reason, message,
      lastHeartbeatTime: now,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
    };
  };
  return [
    keep('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    keep('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    keep('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    keep('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

export function nodeStatus(id: NodeIdentity, now: Date, prev?: Node['status']): NonNullable<Node['status']> {
  return {
    capacity: { cpu: formatCpu(id.cpuMillis), memory: formatMemory(id.memoryBytes), pods: String(id.maxPods) },
    allocatable: {
      cpu: formatCpu(Math.max(0, id.cpuMillis - id.reservedCpuMillis)),
      memory: formatMemory(Math.max(0, id.memoryBytes - id.reservedMemoryBytes)),
      pods: String(id.maxPods),
    },
    addresses: [{ type: 'InternalIP', address: id.address }, { type: 'Hostname', address: hostname() }],
    conditions: readyConditions(now.toISOString(), prev?.conditions),
    nodeInfo: {
      kubeletVersion: KUBELET_VERSION,
      operatingSystem: process.platform,
      architecture: process.arch,
      memoryLimitMode: id.modes.memory,
      cpuLimitMode: id.modes.cpu,
    },
  };
}

export function nodeLabels(id: NodeIdentity): Record<string, string> {
  return {
    'kubernetes.io/hostname': id.name,
    'kubernetes.io/os': process.platform,
    'kubernetes.io/arch': process.arch,
    ...id.labels,
  };
}

export function newNode(id: NodeIdentity, now: Date): Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: id.name, labels: nodeLabels(id), annotations: nodeAnnotations(id) },
    spec: id.taints?.length ? { taints: id.taints } : {},
    status: nodeStatus(id, now),
  };
}
