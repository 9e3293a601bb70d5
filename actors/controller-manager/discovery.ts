// Prometheus HTTP service discovery (the http_sd_configs format), as the masters serve it at /sd:
// pure, from what the informers hold. Every skiff process (nodes from their Node objects, the rest
// as skiff up names them in SKIFF_SD_TARGETS), and every Running pod annotated
// `prometheus.io/scrape: "true"`, at its node's address and the host port its port was given.
import { METRICS_ADDRESS_ANNOTATION } from '../../protocol/defaults.ts';
import type { Node, Pod } from '../../protocol/types.ts';
import type { InformerSource, InformerView } from './state-metrics.ts';

/** One group of targets with their labels (`__metrics_path__` sets the path). */
export interface SdGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** A process named in SKIFF_SD_TARGETS: `nats-1@127.0.0.1:5000`. */
export interface ProcessTarget {
  instance: string;
  address: string;
}

/** SKIFF_SD_TARGETS: comma-separated `instance@host:port`; the job is the instance's name up to its number. */
export function parseSdTargets(text: string | undefined): ProcessTarget[] {
  return (text ?? '').split(',').map((t) => t.trim()).filter(Boolean).flatMap((t) => {
    const [instance, address] = t.split('@');
    return instance && address && /:\d+$/.test(address) ? [{ instance, address }] : [];
  });
}

const jobOf = (instance: string) => instance.replace(/-\d+$/, '');

/** The port a pod's `prometheus.io/port` names (a number or a port's name), as allocated on its node. */
function scrapePort(pod: Pod): { hostPort: number; container: string } | undefined {
  const wanted = pod.metadata.annotations?.['prometheus.io/port'];
  const ports = pod.status?.hostPorts ?? [];
  const found = wanted === undefined ? ports[0]
    : /^\d+$/.test(wanted) ? ports.find((p) => p.containerPort === Number(wanted)) ?? ports.find((p) => p.hostPort === Number(wanted))
      : ports.find((p) => p.name === wanted);
  return found && { hostPort: found.hostPort, container: found.container };
}

/** The Deployment or ReplicaSet a pod belongs to, as labels. */
function ownerLabels(pod: Pod): Record<string, string> {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  if (owner?.kind !== 'ReplicaSet') return owner ? { [owner.kind.toLowerCase()]: owner.name } : {};
  // A Deployment's ReplicaSet is named <deployment>-<template hash>.
  const hash = pod.metadata.labels?.['pod-template-hash'];
  const deployment = hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : undefined;
  return { replicaset: owner.name, ...(deployment ? { deployment } : {}) };
}

/** Every target Prometheus should scrape, grouped one per target so that each carries its own labels. */
export function discoveryTargets(input: { nodes: Node[]; pods: Pod[]; processes: ProcessTarget[] }): SdGroup[] {
  const groups: SdGroup[] = [];
  const nodeNames = new Set(input.nodes.map((n) => n.metadata.name!));
  for (const p of input.processes) {
    if (nodeNames.has(p.instance)) continue; // its Node says where it is now
    groups.push({ targets: [p.address], labels: { job: jobOf(p.instance), instance: p.instance, node: p.instance } });
  }
  for (const n of input.nodes) {
    const address = n.metadata.annotations?.[METRICS_ADDRESS_ANNOTATION];
    if (address) groups.push({ targets: [address], labels: { job: 'node', instance: n.metadata.name!, node: n.metadata.name! } });
  }
  const nodeAddress = new Map(input.nodes.map((n) => [n.metadata.name!, n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address]));
  for (const pod of input.pods) {
    const a = pod.metadata.annotations ?? {};
    if (a['prometheus.io/scrape'] !== 'true' || pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) continue;
    const node = pod.spec.nodeName;
    const host = pod.status?.hostIP ?? (node ? nodeAddress.get(node) : undefined);
    const port = scrapePort(pod);
    if (!node || !host || !port) continue;
    groups.push({
      targets: [`${host}:${port.hostPort}`],
      labels: {
        job: 'pods', namespace: pod.metadata.namespace ?? 'default', pod: pod.metadata.name!, node, container: port.container,
        ...ownerLabels(pod),
        ...(a['prometheus.io/path'] ? { __metrics_path__: a['prometheus.io/path'] } : {}),
      },
    });
  }
  return groups;
}

/** /sd's answer, from the attached controller-manager's informers (none attached: the processes alone). */
export function serviceDiscovery(processes: ProcessTarget[]): InformerView & { targets(): SdGroup[] } {
  let source: InformerSource | undefined;
  return {
    attach(s) {
      source = s;
      return () => { if (source === s) source = undefined; };
    },
    targets: () => discoveryTargets({ nodes: source?.informers.nodes.list() ?? [], pods: source?.informers.pods.list() ?? [], processes }),
  };
}
