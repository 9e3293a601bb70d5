// Defaulting, as Kubernetes' SetDefaults_* functions do. Runs after the structural check, so the
// shapes can be trusted; mutates and returns the object.
import type {
  Container, Deployment, HorizontalPodAutoscaler, KubeObject, NodePool, Pod, PodSpec, Probe, ReplicaSet, Service,
} from './types.ts';
import type { KindInfo } from './kinds.ts';

export const DEFAULT_NAMESPACE = 'default';
export const SYSTEM_NAMESPACE = 'kube-system';
/** Where each node's Lease lives, as in Kubernetes. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.initialDelaySeconds ??= 0;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultContainer(c: Container): void {
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  c.terminationMessagePath ??= '/dev/termination-log';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

export function defaultPodSpec(spec: PodSpec): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
}

export function applyDefaults(info: KindInfo, obj: KubeObject): KubeObject {
  obj.apiVersion = info.apiVersion;
  obj.metadata ??= {};
  if (info.namespaced) obj.metadata.namespace ??= DEFAULT_NAMESPACE;
  else delete obj.metadata.namespace;
  switch (info.kind) {
    case 'Pod':
      defaultPodSpec((obj as Pod).spec);
      break;
    case 'ReplicaSet': {
      const rs = obj as ReplicaSet;
      rs.spec.replicas ??= 1;
      rs.spec.minReadySeconds ??= 0;
      defaultPodSpec(rs.spec.template.spec);
      break;
    }
    case 'Deployment': {
      const d = obj as Deployment;
      d.spec.replicas ??= 1;
      d.spec.strategy ??= {};
      d.spec.strategy.type ??= 'RollingUpdate';
      if (d.spec.strategy.type === 'RollingUpdate') {
        d.spec.strategy.rollingUpdate ??= {};
        d.spec.strategy.rollingUpdate.maxSurge ??= '25%';
        d.spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
      }
      d.spec.revisionHistoryLimit ??= 10;
      d.spec.progressDeadlineSeconds ??= 600;
      d.spec.minReadySeconds ??= 0;
      defaultPodSpec(d.spec.template.spec);
      break;
    }
    case 'Service': {
      const s = obj as Service;
      s.spec.type ??= 'ClusterIP';
      s.spec.sessionAffinity ??= 'None';
      for (const p of s.spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      break;
    }
    case 'NodePool': {
      const p = obj as NodePool;
      p.spec.minNodes ??= 0;
      p.spec.consolidateAfter ??= DEFAULT_CONSOLIDATE_AFTER;
      p.spec.template.labels ??= {};
      p.spec.template.taints ??= [];
      break;
    }
    case 'HorizontalPodAutoscaler': {
      const h = obj as HorizontalPodAutoscaler;
      h.spec.minReplicas ??= 1;
      h.spec.scaleTargetRef.apiVersion ??= 'apps/v1';
      if (!h.spec.metrics || h.spec.metrics.length === 0) {
        h.spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
      }
      break;
    }
    case 'Event': {
      const e = obj as KubeObject & { type?: string; count?: number };
      e.type ??= 'Normal';
      e.count ??= 1;
      break;
    }
  }
  return obj;
}

/** A Node's annotation: where its node process serves /metrics (host:port), for the masters' /sd. */
export const METRICS_ADDRESS_ANNOTATION = 'skiff.io/metrics-address';

/** `spec.clusterIP: None`: a headless service, with no address of its own and no proxying. */
export const HEADLESS_CLUSTER_IP = 'None';

/** The address a service holds: its ClusterIP, unless it is headless or has none yet. */
/** A NodePool's default consolidateAfter: how long a node stands empty before it goes (Karpenter's default is 0s; cluster-autoscaler's 10 min). */
export const DEFAULT_CONSOLIDATE_AFTER = '30s';

/** Whether a service has node ports: NodePort and LoadBalancer services do (a balancer forwards to them). */
export function hasNodePorts(svc: Service | undefined): boolean {
  return svc?.spec.type === 'NodePort' || svc?.spec.type === 'LoadBalancer';
}

export function clusterIPOf(svc: Service | undefined): string | undefined {
  const ip = svc?.spec.clusterIP;
  return ip && ip !== HEADLESS_CLUSTER_IP ? ip : undefined;
}
