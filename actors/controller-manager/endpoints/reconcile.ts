// The Endpoints of a Service, from the pods its selector picks: Ready pods as addresses, the
// others as notReadyAddresses, each at its node's address and the host port its kubelet
// allocated for the service's targetPort. Pods whose ports differ go in subsets of their own.
// Pure, and deterministic, so that an unchanged world writes nothing.
import type { EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service } from '../../../protocol/types.ts';
import { deepEqual } from '../../../protocol/merge-patch.ts';
import { podReady } from '../../../protocol/pods.ts';
import { isActive } from '../replicaset/reconcile.ts';

/** The service's selector picks these labels; a service without a selector picks nothing. */
export function selects(svc: Service, labels: Record<string, string> | undefined): boolean {
  const sel = svc.spec.selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  for (const k in sel) if (labels?.[k] !== sel[k]) return false;
  return true;
}

function selected(svc: Service, pod: Pod): boolean {
  return pod.metadata.namespace === svc.metadata.namespace && isActive(pod) && selects(svc, pod.metadata.labels);
}

/** The host port where a pod serves a service port's targetPort, if it does. */
export function hostPortFor(pod: Pod, targetPort: number | string): number | undefined {
  const allocated = pod.status?.hostPorts ?? [];
  if (typeof targetPort === 'string') {
    for (const c of pod.spec.containers) {
      const p = c.ports?.find((x) => x.name === targetPort);
      if (p) return allocated.find((a) => a.container === c.name && a.containerPort === p.containerPort)?.hostPort;
    }
    return undefined;
  }
  // A declared port was given a host port; an undeclared one is taken as the process's own.
  return allocated.find((a) => a.containerPort === targetPort)?.hostPort ?? targetPort;
}

export function endpointSubsets(svc: Service, pods: Pod[]): EndpointSubset[] {
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of [...pods].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))) {
    if (!selected(svc, pod) || !pod.status?.podIP) continue;
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports) {
      const port = hostPortFor(pod, sp.targetPort ?? sp.port);
      if (port !== undefined) ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: 'TCP' });
    }
    if (ports.length === 0) continue;
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, ready: [], notReady: [] }));
    const address: EndpointAddress = {
      ip: pod.status.podIP,
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', name: pod.metadata.name!, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
    };
    (podReady(pod) ? g.ready : g.notReady).push(address);
  }
  return [...groups.keys()].sort().map((k) => {
    const g = groups.get(k)!;
    return { ...(g.ready.length ? { addresses: g.ready } : {}), ...(g.notReady.length ? { notReadyAddresses: g.notReady } : {}), ports: g.ports };
  });
}

export function desiredEndpoints(svc: Service, pods: Pod[]): Endpoints {
  return {
    apiVersion: 'v1', kind: 'Endpoints',
    metadata: {
      name: svc.metadata.name, namespace: svc.metadata.namespace,
      ...(svc.metadata.labels ? { labels: { ...svc.metadata.labels } } : {}),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true }],
    },
    subsets: endpointSubsets(svc, pods),
  };
}

export function sameEndpoints(a: Endpoints, b: Endpoints): boolean {
  return deepEqual(a.subsets ?? [], b.subsets ?? []) && deepEqual(a.metadata.labels ?? {}, b.metadata.labels ?? {});
}
