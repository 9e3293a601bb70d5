// The objects' state as metrics, named and labelled as kube-state-metrics does, so that its
// dashboards and alerts work: read at scrape time from the controller-manager's informers, and
// exported only by the leader, so that two masters do not double every series.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Deployment, Node, Pod, Service } from '../../protocol/types.ts';
import type { Informers } from './context.ts';
import { oncePerScrape } from '../platform/metrics.ts';

export interface StateSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

/** Every series, from the objects as they are. */
export function stateSamples(o: { deployments: Deployment[]; pods: Pod[]; nodes: Node[]; services: Service[] }): StateSample[] {
  const out: StateSample[] = [];
  for (const d of o.deployments) {
    const labels = { namespace: d.metadata.namespace!, deployment: d.metadata.name! };
    out.push({ name: 'kube_deployment_spec_replicas', labels, value: d.spec.replicas ?? 1 });
    out.push({ name: 'kube_deployment_status_replicas_available', labels, value: d.status?.availableReplicas ?? 0 });
  }
  for (const p of o.pods) {
    const base = { namespace: p.metadata.namespace!, pod: p.metadata.name!, uid: p.metadata.uid ?? '' };
    const phase = p.status?.phase ?? 'Pending';
    for (const ph of PHASES) out.push({ name: 'kube_pod_status_phase', labels: { ...base, phase: ph }, value: ph === phase ? 1 : 0 });
    for (const c of p.status?.containerStatuses ?? []) {
      out.push({ name: 'kube_pod_container_status_restarts_total', labels: { ...base, container: c.name }, value: c.restartCount ?? 0 });
    }
  }
  for (const n of o.nodes) {
    for (const c of n.status?.conditions ?? []) {
      for (const status of ['true', 'false', 'unknown']) {
        out.push({ name: 'kube_node_status_condition', labels: { node: n.metadata.name!, condition: c.type, status }, value: c.status.toLowerCase() === status ? 1 : 0 });
      }
    }
  }
  for (const s of o.services) {
    out.push({ name: 'kube_service_info', labels: { namespace: s.metadata.namespace!, service: s.metadata.name!, type: s.spec?.type ?? 'ClusterIP' }, value: 1 });
  }
  return out;
}

/** What reads a controller-manager's informers from outside (the state metrics, /sd): attached while it runs. */
export interface InformerView {
  attach(source: InformerSource): () => void;
}

export interface InformerSource {
  informers: Informers;
  /** Whether this controller-manager leads now. */
  leading(): boolean;
}

const HELP: Record<string, [string, 'gauge' | 'counter', string[]]> = {
  kube_deployment_spec_replicas: ['Number of desired pods for a deployment.', 'gauge', ['namespace', 'deployment']],
  kube_deployment_status_replicas_available: ['The number of available replicas per deployment.', 'gauge', ['namespace', 'deployment']],
  kube_pod_status_phase: ['The pods current phase.', 'gauge', ['namespace', 'pod', 'uid', 'phase']],
  kube_pod_container_status_restarts_total: ['The number of container restarts per container.', 'counter', ['namespace', 'pod', 'uid', 'container']],
  kube_node_status_condition: ['The condition of a cluster node.', 'gauge', ['node', 'condition', 'status']],
  kube_service_info: ['Information about service.', 'gauge', ['namespace', 'service', 'type']],
};

/** Registered once per process; `attach` points it at a controller-manager (a restarted one replaces it). */
export function stateMetrics(registry: Registry): InformerView {
  let source: InformerSource | undefined;
  const current = oncePerScrape(() => {
    const i = source?.informers;
    return i && source!.leading() ? stateSamples({ deployments: i.deployments.list(), pods: i.pods.list(), nodes: i.nodes.list(), services: i.services.list() }) : [];
  });
  for (const [name, [help, type, labelNames]] of Object.entries(HELP)) {
    const Metric = type === 'counter' ? Counter : Gauge;
    new Metric({
      name, help, labelNames, registers: [registry],
      collect(this: Gauge | Counter) {
        this.reset();
        for (const s of current()) {
          if (s.name !== name) continue;
          if (this instanceof Counter) this.inc(s.labels, s.value);
          else this.set(s.labels, s.value);
        }
      },
    });
  }
  return {
    attach(s) {
      source = s;
      return () => { if (source === s) source = undefined; };
    },
  };
}
