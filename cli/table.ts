// kubectl-style tables: the columns each kind shows in `skiff get`, and the ages in them.
import type {
  Deployment, Endpoints, Event, HorizontalPodAutoscaler, KubeObject, Lease, Namespace, Node, NodePool, Pod, ReplicaSet, Service,
} from '../protocol/types.ts';

export interface Column {
  header: string;
  value: (o: KubeObject, now: number) => string;
  wide?: boolean;
}

/** Kubernetes' HumanDuration: 45s, 5m3s, 45m, 2h5m, 20h, 3d4h, 30d, 2y10d. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y${d % 365}d`;
}

export function age(ts: string | undefined, now: number): string {
  const t = ts ? Date.parse(ts) : NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

const name: Column = { header: 'NAME', value: (o) => o.metadata.name ?? '' };
const ageCol: Column = { header: 'AGE', value: (o, now) => age(o.metadata.creationTimestamp, now) };

export function podStatus(p: Pod): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const c of p.status?.initContainerStatuses ?? []) {
    const t = c.state.terminated;
    if (t && t.exitCode !== 0) return `Init:${t.reason ?? 'Error'}`;
    if (c.state.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') return `Init:${c.state.waiting.reason}`;
    if (c.state.running || c.state.waiting) {
      const done = (p.status?.initContainerStatuses ?? []).filter((s) => s.state.terminated?.exitCode === 0).length;
      return `Init:${done}/${p.spec.initContainers?.length ?? 0}`;
    }
  }
  for (const c of p.status?.containerStatuses ?? []) {
    if (c.state.waiting?.reason && c.state.waiting.reason !== 'ContainerCreating') return c.state.waiting.reason;
    if (c.state.terminated?.reason && p.status?.phase !== 'Running') return c.state.terminated.reason;
  }
  if (p.status?.reason) return p.status.reason;
  const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (!p.spec.nodeName && scheduled?.status === 'False') return 'Pending';
  return p.status?.phase ?? 'Pending';
}

function condition(o: { status?: { conditions?: { type: string; status: string }[] } }, type: string): string | undefined {
  return o.status?.conditions?.find((c) => c.type === type)?.status;
}

function servicePorts(s: Service): string {
  return (s.spec.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

function endpointsList(e: Endpoints): string {
  const all: string[] = [];
  for (const s of e.subsets ?? []) for (const a of s.addresses ?? []) for (const p of s.ports ?? []) all.push(`${a.ip}:${p.port}`);
  if (all.length === 0) return '<none>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

function selectorText(sel: Record<string, string> | undefined): string {
  const parts = Object.entries(sel ?? {}).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : '<none>';
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    name,
    {
      header: 'READY',
      value: (o) => {
        const p = o as Pod;
        const ready = (p.status?.containerStatuses ?? []).filter((c) => c.ready).length;
        return `${ready}/${p.spec.containers.length}`;
      },
    },
    { header: 'STATUS', value: (o) => podStatus(o as Pod) },
    {
      header: 'RESTARTS',
      value: (o) => String((o as Pod).status?.containerStatuses?.reduce((n, c) => n + c.restartCount, 0) ?? 0),
    },
    ageCol,
    { header: 'IP', wide: true, value: (o) => (o as Pod).status?.podIP ?? '<none>' },
    { header: 'NODE', wide: true, value: (o) => (o as Pod).spec.nodeName || '<none>' },
  ],
  Deployment: [
    name,
    { header: 'READY', value: (o) => `${(o as Deployment).status?.readyReplicas ?? 0}/${(o as Deployment).spec.replicas ?? 1}` },
    { header: 'UP-TO-DATE', value: (o) => String((o as Deployment).status?.updatedReplicas ?? 0) },
    { header: 'AVAILABLE', value: (o) => String((o as Deployment).status?.availableReplicas ?? 0) },
    ageCol,
    { header: 'CONTAINERS', wide: true, value: (o) => (o as Deployment).spec.template.spec.containers.map((c) => c.name).join(',') },
    { header: 'SELECTOR', wide: true, value: (o) => selectorText((o as Deployment).spec.selector.matchLabels) },
  ],
  ReplicaSet: [
    name,
    { header: 'DESIRED', value: (o) => String((o as ReplicaSet).spec.replicas ?? 1) },
    { header: 'CURRENT', value: (o) => String((o as ReplicaSet).status?.replicas ?? 0) },
    { header: 'READY', value: (o) => String((o as ReplicaSet).status?.readyReplicas ?? 0) },
    ageCol,
    { header: 'CONTAINERS', wide: true, value: (o) => (o as ReplicaSet).spec.template.spec.containers.map((c) => c.name).join(',') },
    { header: 'SELECTOR', wide: true, value: (o) => selectorText((o as ReplicaSet).spec.selector.matchLabels) },
  ],
  Service: [
    name,
    { header: 'TYPE', value: (o) => (o as Service).spec.type ?? 'ClusterIP' },
    { header: 'CLUSTER-IP', value: (o) => (o as Service).spec.clusterIP || '<pending>' },
    { header: 'EXTERNAL-IP', value: (o) => externalIP(o as Service) },
    { header: 'PORT(S)', value: (o) => servicePorts(o as Service) },
    ageCol,
    { header: 'SELECTOR', wide: true, value: (o) => selectorText((o as Service).spec.selector) },
  ],
  Endpoints: [name, { header: 'ENDPOINTS', value: (o) => endpointsList(o as Endpoints) }, ageCol],
  Node: [
    name,
    {
      header: 'STATUS',
      value: (o) => {
        const n = o as Node;
        const ready = condition(n, 'Ready');
        const s = ready === 'True' ? 'Ready' : ready === 'False' ? 'NotReady' : 'Unknown';
        return n.spec?.unschedulable ? `${s},SchedulingDisabled` : s;
      },
    },
    { header: 'ROLES', value: (o) => Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.split('/')[1]).join(',') || '<none>' },
    ageCol,
    { header: 'VERSION', value: (o) => (o as Node).status?.nodeInfo?.kubeletVersion ?? '' },
    { header: 'INTERNAL-IP', wide: true, value: (o) => (o as Node).status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>' },
    { header: 'PROVIDER-ID', wide: true, value: (o) => (o as Node).spec.providerID || '<none>' },
    { header: 'ZONE', wide: true, value: (o) => o.metadata.labels?.['topology.kubernetes.io/zone'] ?? '<none>' },
  ],
  NodePool: [
    name,
    { header: 'NODES', value: (o) => `${(o as NodePool).status?.readyNodes ?? 0}/${(o as NodePool).status?.nodes ?? 0}` },
    { header: 'MIN', value: (o) => String((o as NodePool).spec.minNodes ?? 0) },
    { header: 'MAX', value: (o) => String((o as NodePool).spec.maxNodes) },
    { header: 'CAPACITY', value: (o) => `cpu=${(o as NodePool).spec.template.capacity.cpu},memory=${(o as NodePool).spec.template.capacity.memory}` },
    { header: 'CONSOLIDATE-AFTER', value: (o) => (o as NodePool).spec.consolidateAfter ?? '' },
    ageCol,
    { header: 'CONDITIONS', wide: true, value: (o) => ((o as NodePool).status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type).join(',') || '<none>' },
  ],
  Namespace: [name, { header: 'STATUS', value: (o) => (o as Namespace).status?.phase ?? 'Active' }, ageCol],
  HorizontalPodAutoscaler: [
    name,
    { header: 'REFERENCE', value: (o) => `${(o as HorizontalPodAutoscaler).spec.scaleTargetRef.kind}/${(o as HorizontalPodAutoscaler).spec.scaleTargetRef.name}` },
    { header: 'TARGETS', value: (o) => hpaTargets(o as HorizontalPodAutoscaler) },
    { header: 'MINPODS', value: (o) => String((o as HorizontalPodAutoscaler).spec.minReplicas ?? 1) },
    { header: 'MAXPODS', value: (o) => String((o as HorizontalPodAutoscaler).spec.maxReplicas) },
    { header: 'REPLICAS', value: (o) => String((o as HorizontalPodAutoscaler).status?.currentReplicas ?? 0) },
    ageCol,
  ],
  Lease: [
    name,
    { header: 'HOLDER', value: (o) => (o as Lease).spec.holderIdentity || '<none>' },
    { header: 'RENEWED', value: (o, now) => ((o as Lease).spec.renewTime ? `${age((o as Lease).spec.renewTime, now)} ago` : '<never>') },
    { header: 'TRANSITIONS', value: (o) => String((o as Lease).spec.leaseTransitions ?? 0) },
    ageCol,
  ],
  Event: [
    { header: 'LAST SEEN', value: (o, now) => age((o as Event).lastTimestamp ?? o.metadata.creationTimestamp, now) },
    { header: 'TYPE', value: (o) => (o as Event).type ?? 'Normal' },
    { header: 'REASON', value: (o) => (o as Event).reason ?? '' },
    { header: 'OBJECT', value: (o) => `${(o as Event).involvedObject.kind.toLowerCase()}/${(o as Event).involvedObject.name}` },
    { header: 'MESSAGE', value: (o) => (o as Event).message ?? '' },
  ],
};

export function columnsFor(kind: string, opts: { wide: boolean; allNamespaces: boolean }): Column[] {
  const cols = (COLUMNS[kind] ?? [name, ageCol]).filter((c) => opts.wide || !c.wide);
  return opts.allNamespaces ? [{ header: 'NAMESPACE', value: (o) => o.metadata.namespace ?? '' }, ...cols] : cols;
}

/** Pads columns to their widest cell, three spaces apart, as kubectl does. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function tableRows(objs: KubeObject[], cols: Column[], now = Date.now()): string[][] {
  return objs.map((o) => cols.map((c) => c.value(o, now)));
}

/** Each metric of an HPA: how kubectl's describe names it, its current figure (`<unknown>` until there is one) and its target. */
export function hpaMetricFigures(h: HorizontalPodAutoscaler): { name: string; current: string; target: string }[] {
  type Current = { type?: string; resource?: { name?: string; current?: { averageUtilization?: number; averageValue?: string } }; pods?: { metric?: { name?: string }; current?: { averageValue?: string } } };
  const currents = (h.status?.currentMetrics ?? []) as Current[];
  return (h.spec.metrics ?? []).map((m) => {
    if (m.type === 'Resource' && m.resource) {
      const c = currents.find((x) => x.type === 'Resource' && x.resource?.name === m.resource!.name)?.resource?.current;
      const t = m.resource.target;
      if (t.type === 'Utilization') {
        const name = `resource ${m.resource.name} on pods  (as a percentage of request)`;
        return { name, current: c?.averageUtilization !== undefined ? `${c.averageUtilization}%` : '<unknown>', target: `${t.averageUtilization}%` };
      }
      return { name: `resource ${m.resource.name} on pods`, current: c?.averageValue ?? '<unknown>', target: String(t.averageValue) };
    }
    const c = currents.find((x) => x.type === 'Pods' && x.pods?.metric?.name === m.pods?.metric.name)?.pods?.current;
    return { name: `"${m.pods?.metric.name ?? '?'}" on pods`, current: c?.averageValue ?? '<unknown>', target: m.pods?.target.averageValue ?? '?' };
  });
}

/** kubectl's EXTERNAL-IP: a LoadBalancer's ingress, `<pending>` until it has one; `<none>` for other types. */
function externalIP(s: Service): string {
  if (s.spec.type !== 'LoadBalancer') return '<none>';
  const ips = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname).filter(Boolean);
  return ips.length ? ips.join(',') : '<pending>';
}

/** kubectl's TARGETS: each metric's current figure against its target (`80%/50%`, `12/50`), `<unknown>` until there is one. */
export function hpaTargets(h: HorizontalPodAutoscaler): string {
  const figures = hpaMetricFigures(h);
  return figures.length ? figures.map((f) => `${f.current}/${f.target}`).join(', ') : '<none>';
}
