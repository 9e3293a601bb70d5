// The HorizontalPodAutoscaler controller: every HPA is synced every `hpaSyncMs` while this
// controller-manager leads. A sync reads the target's scale (a Deployment or ReplicaSet), its pods
// (by the target's selector, so that a rollout's surge counts as Kubernetes counts it) and their
// figures from the apiservers' metrics window (the kubelets' samples), asks the algorithm
// (algorithm.ts) what each metric proposes and what the behaviors allow, scales through the
// target's spec.replicas, records an Event, and writes the status: currentReplicas,
// desiredReplicas, currentMetrics, lastScaleTime, and the conditions AbleToScale, ScalingActive and
// ScalingLimited with Kubernetes' reasons.
// Metrics: Resource (cpu, memory) from the kubelets' samples; Pods requests_per_second and
// active_connections from what the kube-proxies forwarded (userspace mode).
import { cpuMillis, formatCpu, memoryBytes } from '../../../protocol/quantity.ts';
import { labelSelectorMatches } from '../../../protocol/selector.ts';
import type { Condition, Deployment, HorizontalPodAutoscaler, MetricSpec, Pod, ReplicaSet } from '../../../protocol/types.ts';
import type { ApiClient } from '../../client/client.ts';
import { objectKey } from '../../client/informer.ts';
import { QueueController } from '../context.ts';
import {
  averageValueReplicas, behaviorWithDefaults, combineProposals, decide, DEFAULT_TOLERANCE, emptyHistory, recordScale, resourceUtilizationReplicas,
  type Behavior, type CalcOptions, type History, type PodInfo, type Proposal, type Sample,
} from './algorithm.ts';

/** Kubernetes' --horizontal-pod-autoscaler-cpu-initialization-period and initial-readiness-delay. */
const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
const DELAY_OF_INITIAL_READINESS_STATUS_MS = 30_000;

type Target = Deployment | ReplicaSet;
type Usage = Awaited<ReturnType<ApiClient['podMetrics']>>[number];

/** A pod as the algorithm sees it, with its request of `resource` (millicores, bytes). */
export function podInfo(pod: Pod, resource: 'cpu' | 'memory'): PodInfo {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const requests = pod.spec.containers.map((c) => c.resources?.requests?.[resource]);
  return {
    name: pod.metadata.name!,
    phase: (pod.status?.phase ?? 'Pending') as PodInfo['phase'],
    deleting: pod.metadata.deletionTimestamp !== undefined,
    ready: ready && { status: ready.status as 'True' | 'False' | 'Unknown', since: Date.parse(ready.lastTransitionTime ?? '') || 0 },
    startTime: pod.status?.startTime ? Date.parse(pod.status.startTime) : undefined,
    request: requests.some((r) => r === undefined) ? undefined : requests.reduce<number>((sum, r) => sum + (resource === 'cpu' ? cpuMillis(r!) : memoryBytes(r!)), 0),
  };
}

/** The pods' figures for `resource`, from the metrics window: CPU in millicores, memory in bytes. */
export function samplesOf(usage: Usage[], resource: 'cpu' | 'memory'): Map<string, Sample> {
  return new Map(usage.map((u) => [u.name, {
    value: u.containers.reduce((sum, c) => sum + (resource === 'cpu' ? c.cpuCores * 1000 : c.memoryBytes), 0),
    at: u.timestamp, windowMs: u.windowMs,
  }]));
}

/** An average as a quantity: whole, or in thousandths (`12`, `12500m`). */
function formatAverage(v: number): string {
  return Number.isInteger(v) ? String(v) : `${Math.round(v * 1000)}m`;
}

/** How a metric is named in events and conditions, as Kubernetes names it. */
function describeMetric(m: MetricSpec): string {
  if (m.type === 'Resource' && m.resource) {
    return m.resource.target.type === 'Utilization' ? `${m.resource.name} resource utilization (percentage of request)` : `${m.resource.name} resource`;
  }
  return `pods metric ${m.pods?.metric.name ?? ''}`;
}

/** The Pods metrics the kube-proxies count, by their names in an HPA. */
const POD_LOADS: Record<string, 'requestsPerSecond' | 'activeConnections'> = { requests_per_second: 'requestsPerSecond', active_connections: 'activeConnections' };

/** A Pods metric's figures: those of pods the window has, where some kube-proxy counted. */
function loadSamples(usage: Usage[], field: 'requestsPerSecond' | 'activeConnections'): Map<string, Sample> {
  return new Map(usage.flatMap((u) => (u[field] === undefined ? [] : [[u.name, { value: u[field]!, at: u.timestamp, windowMs: u.windowMs }] as [string, Sample]])));
}

/** What one metric proposes, and the currentMetrics entry it reports. */
function proposalFor(m: MetricSpec, current: number, pods: Pod[], usage: Usage[], o: CalcOptions): { proposal: Proposal; status?: Record<string, unknown> } {
  if (m.type === 'Pods' && m.pods) {
    const name = m.pods.metric.name;
    const field = POD_LOADS[name];
    if (!field) return { proposal: { error: `${describeMetric(m)}: unknown (the kube-proxies count ${Object.keys(POD_LOADS).join(' and ')})` } };
    if (m.pods.target.averageValue === undefined) return { proposal: { error: `${describeMetric(m)}: needs an AverageValue target` } };
    const target = cpuMillis(m.pods.target.averageValue) / 1000;
    const proposal = averageValueReplicas(current, target, pods.map((p) => podInfo(p, 'cpu')), loadSamples(usage, field), o);
    return { proposal, status: 'replicas' in proposal ? { type: 'Pods', pods: { metric: { name }, current: { averageValue: formatAverage(proposal.current) } } } : undefined };
  }
  if (m.type !== 'Resource' || !m.resource) return { proposal: { error: `${describeMetric(m)}: not a metric this controller reads (Resource or Pods)` } };
  const resource = m.resource.name as 'cpu' | 'memory';
  const infos = pods.map((p) => podInfo(p, resource));
  const samples = samplesOf(usage, resource);
  const t = m.resource.target;
  if (t.type === 'Utilization' && t.averageUtilization) {
    const proposal = resourceUtilizationReplicas(current, t.averageUtilization, resource, infos, samples, o);
    return { proposal, status: 'replicas' in proposal ? { type: 'Resource', resource: { name: resource, current: { averageUtilization: proposal.current } } } : undefined };
  }
  if (t.type === 'AverageValue' && t.averageValue !== undefined) {
    const target = resource === 'cpu' ? cpuMillis(t.averageValue) : memoryBytes(t.averageValue);
    const proposal = averageValueReplicas(current, target, infos, samples, o, resource === 'cpu');
    const value = 'replicas' in proposal ? (resource === 'cpu' ? formatCpu(Math.round(proposal.current)) : String(Math.round(proposal.current))) : undefined;
    return { proposal, status: value === undefined ? undefined : { type: 'Resource', resource: { name: resource, current: { averageValue: value } } } };
  }
  return { proposal: { error: `${describeMetric(m)}: a target of type ${t.type} is not supported (use Utilization or AverageValue)` } };
}

export class HpaController extends QueueController {
  readonly name = 'horizontal-pod-autoscaler';
  /** Each HPA's recommendations and scalings, for the stabilization windows and the policies. */
  private readonly histories = new Map<string, History>();

  register(): void {
    const hpas = this.ctx.informers.hpas;
    hpas.on({ add: (h) => this.enqueue(objectKey(h)), update: (_o, h) => this.enqueue(objectKey(h)), delete: (h) => this.histories.delete(objectKey(h)) });
  }

  resyncAll(): void {
    for (const h of this.ctx.informers.hpas.list()) this.enqueue(objectKey(h));
  }

  protected async sync(key: string, writer: ApiClient): Promise<void> {
    const hpa = this.ctx.informers.hpas.get(key);
    if (!hpa) {
      this.histories.delete(key);
      return;
    }
    try {
      await this.reconcile(hpa, writer, Date.now());
    } finally {
      // The next look, whether or not anything changed: figures move without any object changing.
      if (this.ctx.informers.hpas.get(key)) this.queue.addAfter(key, this.ctx.cfg.hpaSyncMs);
    }
  }

  private async reconcile(hpa: HorizontalPodAutoscaler, writer: ApiClient, now: number): Promise<void> {
    const key = objectKey(hpa);
    const ns = hpa.metadata.namespace!;
    const ref = hpa.spec.scaleTargetRef;
    const conditions: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>[] = [];
    const set = (type: string, status: 'True' | 'False', reason: string, message: string) => {
      const i = conditions.findIndex((c) => c.type === type);
      if (i >= 0) conditions.splice(i, 1);
      conditions.push({ type, status, reason, message });
    };
    const informer = ref.kind === 'ReplicaSet' ? this.ctx.informers.replicasets : this.ctx.informers.deployments;
    const target = informer.get(`${ns}/${ref.name}`) as Target | undefined;
    if (!target) {
      set('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${ref.kind.toLowerCase()}s ${JSON.stringify(ref.name)} not found`);
      await this.writeStatus(hpa, writer, { currentReplicas: 0, desiredReplicas: hpa.status?.desiredReplicas ?? 0, conditions });
      return;
    }
    const current = target.spec.replicas ?? 1;
    const min = hpa.spec.minReplicas ?? 1; // defaulted by the apiserver; kept for the type
    const max = hpa.spec.maxReplicas;
    const behavior: Behavior = behaviorWithDefaults(hpa.spec.behavior as Parameters<typeof behaviorWithDefaults>[0]);
    // First seen (made, or this controller just took over): the scale-down window starts now, at
    // the current size, as Kubernetes' maybeInitScaleDownStabilizationWindow does; so a new HPA
    // does not shrink its target on its first figures, before the load has shown itself.
    let history = this.histories.get(key);
    if (!history) this.histories.set(key, (history = { ...emptyHistory(), recommendations: [{ at: now, replicas: current }] }));
    let desired = current;
    let reason = '';
    let currentMetrics: Record<string, unknown>[] | undefined;
    set('AbleToScale', 'True', 'SucceededGetScale', 'the HPA controller was able to get the target\'s current scale');
    if (current === 0 && min !== 0) {
      set('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (current > max) {
      [desired, reason] = [max, 'Current number of replicas above Spec.MaxReplicas'];
      set('ScalingLimited', 'True', 'TooManyReplicas', 'the desired replica count is more than the maximum replica count');
    } else if (current < min) {
      [desired, reason] = [min, 'Current number of replicas below Spec.MinReplicas'];
      set('ScalingLimited', 'True', 'TooFewReplicas', 'the desired replica count is less than the minimum replica count');
    } else {
      const selector = target.spec.selector;
      const pods = this.ctx.informers.pods.candidates(ns, selector.matchLabels ?? {}).filter((p) => labelSelectorMatches(selector, p.metadata.labels));
      const usage = await writer.podMetrics(ns);
      const o: CalcOptions = { now, tolerance: DEFAULT_TOLERANCE, cpuInitializationPeriodMs: CPU_INITIALIZATION_PERIOD_MS, delayOfInitialReadinessStatusMs: DELAY_OF_INITIAL_READINESS_STATUS_MS };
      // The apiserver's defaulting gave an HPA without metrics Kubernetes' 80% of CPU.
      const metrics = hpa.spec.metrics ?? [];
      const each = metrics.map((m) => proposalFor(m, current, pods, usage, o));
      const combined = combineProposals(current, each.map((e) => e.proposal));
      currentMetrics = each.flatMap((e) => (e.status ? [e.status] : []));
      if ('error' in combined) {
        set('ScalingActive', 'False', metrics.some((m) => m.type === 'Pods') ? 'FailedGetPodsMetric' : 'FailedGetResourceMetric', `the HPA was unable to compute the replica count: ${combined.error}`);
      } else {
        const deciding = describeMetric(metrics[Math.max(0, each.findIndex((e) => 'replicas' in e.proposal && e.proposal.replicas === combined.replicas))]);
        set('ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${deciding}`);
        const d = decide(history, behavior, current, combined.replicas, min, max, now);
        desired = d.replicas;
        reason = `${deciding} ${combined.replicas > current ? 'above' : 'below'} target`;
        set('AbleToScale', 'True', d.stabilized.reason, d.stabilized.message);
        set('ScalingLimited', d.limited.status, d.limited.reason, d.limited.message);
      }
    }
    let lastScaleTime = hpa.status?.lastScaleTime;
    if (desired !== current) {
      const resource = ref.kind === 'ReplicaSet' ? 'replicasets' : 'deployments';
      try {
        await writer.patch(resource, ref.name, ns, { spec: { replicas: desired } });
      } catch (err) {
        set('AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${(err as Error).message}`);
        this.ctx.events.record(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${(err as Error).message}`);
        await this.writeStatus(hpa, writer, { currentReplicas: current, desiredReplicas: desired, currentMetrics, lastScaleTime, conditions });
        throw err;
      }
      recordScale(history, behavior, current, desired, now);
      lastScaleTime = new Date(now).toISOString();
      set('AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      this.ctx.events.record(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
    }
    await this.writeStatus(hpa, writer, { currentReplicas: current, desiredReplicas: desired, currentMetrics, lastScaleTime, conditions });
  }

  /** The status, written when it changed; a condition keeps its transition time while its status stays. */
  private async writeStatus(hpa: HorizontalPodAutoscaler, writer: ApiClient, s: {
    currentReplicas: number; desiredReplicas: number; currentMetrics?: unknown[]; lastScaleTime?: string; conditions: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>[];
  }): Promise<void> {
    const before = hpa.status?.conditions ?? [];
    const conditions: Condition[] = s.conditions.map((c) => {
      const prev = before.find((p) => p.type === c.type);
      return { ...c, lastTransitionTime: prev?.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : new Date().toISOString() };
    });
    const status = { currentReplicas: s.currentReplicas, desiredReplicas: s.desiredReplicas, ...(s.currentMetrics ? { currentMetrics: s.currentMetrics } : {}), ...(s.lastScaleTime ? { lastScaleTime: s.lastScaleTime } : {}), conditions };
    if (JSON.stringify(status) === JSON.stringify(hpa.status ?? {})) return;
    await writer.patch('horizontalpodautoscalers', hpa.metadata.name!, hpa.metadata.namespace, { status }, { subresource: 'status' });
  }
}
