// The HorizontalPodAutoscaler's arithmetic, pure: what one metric proposes (Kubernetes' replica
// calculator), and how a proposal becomes a replica count (its behaviors: the stabilization
// windows, the scaling policies, min and max). No clock, store or process here: the controller
// passes `now`, the pods, their samples and the history it keeps, so that every rule can be pinned
// by a table-driven test.

/** A pod as the calculation sees it. */
export interface PodInfo {
  name: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** Being deleted: left out, as a failed pod is. */
  deleting: boolean;
  /** Its Ready condition: status and when it last changed (ms). */
  ready?: { status: 'True' | 'False' | 'Unknown'; since: number };
  /** When its containers started (ms). */
  startTime?: number;
  /**
   * The sum of its containers' requests of the resource (CPU in millicores, memory in bytes), for
   * Utilization targets; undefined when a container has none.
   */
  request?: number;
}

/** A pod's figure for one metric: its value, when it was taken and over how long a window. */
export interface Sample {
  value: number;
  at: number;
  windowMs: number;
}

export interface CalcOptions {
  now: number;
  /** No change while |1 - ratio| is within this (Kubernetes: 0.1). */
  tolerance: number;
  /** CPU only: a pod younger than this counts only once its readiness has settled (Kubernetes: 5 min). */
  cpuInitializationPeriodMs: number;
  /** CPU only: a pod not ready this soon after starting has never been ready (Kubernetes: 30 s). */
  delayOfInitialReadinessStatusMs: number;
}

export const DEFAULT_TOLERANCE = 0.1;

/** What a metric proposes, or why it proposes nothing. */
export type Proposal =
  | { replicas: number; /** the current average: a utilization percentage, or a value */ current: number }
  | { error: string };

interface Groups {
  /** Pods with a figure that counts. */
  ready: number;
  /** Pending, or (CPU) not ready: counted as 0 when scaling up, left out otherwise. */
  unready: Set<string>;
  /** Running, but without a figure. */
  missing: Set<string>;
}

/** Kubernetes' groupPods: deleting and failed pods are dropped altogether. */
function groupPods(pods: PodInfo[], samples: Map<string, Sample>, cpu: boolean, o: CalcOptions): Groups {
  const g: Groups = { ready: 0, unready: new Set(), missing: new Set() };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') continue;
    if (pod.phase === 'Pending') {
      g.unready.add(pod.name);
      continue;
    }
    const sample = samples.get(pod.name);
    if (!sample) {
      g.missing.add(pod.name);
      continue;
    }
    if (cpu && cpuSampleIgnored(pod, sample, o)) {
      g.unready.add(pod.name);
      continue;
    }
    g.ready++;
  }
  return g;
}

/**
 * A CPU sample that would mislead (a start-up burst): of a pod with no readiness or start yet;
 * of a pod still in its initialization period that is not ready, or whose sample's window began
 * before it last changed readiness; of an older pod that is not ready and has never been.
 */
function cpuSampleIgnored(pod: PodInfo, sample: Sample, o: CalcOptions): boolean {
  if (!pod.ready || pod.startTime === undefined) return true;
  if (pod.startTime + o.cpuInitializationPeriodMs > o.now) return pod.ready.status === 'False' || sample.at < pod.ready.since + sample.windowMs;
  return pod.ready.status === 'False' && pod.startTime + o.delayOfInitialReadinessStatusMs > pod.ready.since;
}

/** The counted pods' usage against target: (ratio, current average). */
type Ratio = (values: Map<string, number>) => { ratio: number; current: number } | { error: string };

/**
 * The shared part of Kubernetes' resource and plain-metric calculations: missing pods count as
 * at target when scaling down and as 0 when scaling up, unready ones as 0 when scaling up; no
 * change within the tolerance, nor one that those assumptions would turn around.
 */
function replicasFor(current: number, pods: PodInfo[], samples: Map<string, Sample>, cpu: boolean, o: CalcOptions, atTarget: (pod: string) => number, ratioOf: Ratio): Proposal {
  const live = pods.filter((p) => !p.deleting && p.phase !== 'Failed');
  if (live.length === 0) return { error: 'no pods match the target\'s selector' };
  const g = groupPods(live, samples, cpu, o);
  const values = new Map<string, number>();
  for (const p of live) {
    const s = samples.get(p.name);
    if (s && !g.unready.has(p.name)) values.set(p.name, s.value);
  }
  if (values.size === 0) return { error: 'no figures for any ready pod (pods might be unready, or their figures not in yet)' };
  const first = ratioOf(values);
  if ('error' in first) return first;
  const { ratio, current: average } = first;
  const rebalanceUnready = g.unready.size > 0 && ratio > 1;
  if (!rebalanceUnready && g.missing.size === 0) {
    if (Math.abs(1 - ratio) <= o.tolerance) return { replicas: current, current: average };
    return { replicas: Math.ceil(ratio * g.ready), current: average };
  }
  if (ratio < 1) for (const p of g.missing) values.set(p, atTarget(p));
  else if (ratio > 1) for (const p of g.missing) values.set(p, 0);
  if (rebalanceUnready) for (const p of g.unready) values.set(p, 0);
  const again = ratioOf(values);
  if ('error' in again) return again;
  const next = again.ratio;
  if (Math.abs(1 - next) <= o.tolerance || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) return { replicas: current, current: average };
  const replicas = Math.ceil(next * values.size);
  if ((next < 1 && replicas > current) || (next > 1 && replicas < current)) return { replicas: current, current: average };
  return { replicas, current: average };
}

/**
 * A Resource metric with a Utilization target: usage as a whole percentage of the pods' requests
 * (truncated, as Kubernetes does), against `targetPercent`. A pod without a request makes it an error.
 */
export function resourceUtilizationReplicas(current: number, targetPercent: number, resource: string, pods: PodInfo[], samples: Map<string, Sample>, o: CalcOptions): Proposal {
  const live = pods.filter((p) => !p.deleting && p.phase !== 'Failed');
  const without = live.find((p) => p.request === undefined || p.request <= 0);
  if (without) return { error: `pod ${without.name} has no ${resource} request in some container: a utilization target needs every container's request` };
  const requests = new Map(live.map((p) => [p.name, p.request!]));
  // A pod without figures, when scaling down, counts as using exactly the target share of its request.
  return replicasFor(current, pods, samples, resource === 'cpu', o, (p) => (requests.get(p)! * targetPercent) / 100, (values) => {
    let used = 0;
    let requested = 0;
    for (const [pod, v] of values) {
      const r = requests.get(pod);
      if (r === undefined) continue;
      used += v;
      requested += r;
    }
    if (requested === 0) return { error: 'no figures matched the target\'s pods' };
    const utilization = Math.trunc((used * 100) / requested);
    return { ratio: utilization / targetPercent, current: utilization };
  });
}

/** A metric with an AverageValue target (Pods metrics; a Resource metric's raw value): the pods' average against `target`. */
export function averageValueReplicas(current: number, target: number, pods: PodInfo[], samples: Map<string, Sample>, o: CalcOptions, cpu = false): Proposal {
  return replicasFor(current, pods, samples, cpu, o, () => target, (values) => {
    let sum = 0;
    for (const v of values.values()) sum += v;
    const average = sum / values.size;
    return { ratio: average / target, current: average };
  });
}

/**
 * With several metrics the largest proposal wins. If every metric failed, or some failed and
 * the rest would scale down, there is no proposal: scaling down on partial figures could remove
 * capacity the failing metric needs (Kubernetes does the same).
 */
export function combineProposals(current: number, proposals: Proposal[]): Proposal {
  const ok = proposals.filter((p): p is Extract<Proposal, { replicas: number }> => 'replicas' in p);
  const failed = proposals.filter((p): p is { error: string } => 'error' in p);
  const replicas = Math.max(0, ...ok.map((p) => p.replicas));
  if (ok.length === 0 || (failed.length > 0 && replicas < current)) {
    return { error: `${failed.length} of ${proposals.length} metrics invalid; the first: ${failed[0]?.error ?? 'none'}` };
  }
  return { replicas, current: ok[0].current };
}

// ---- Behaviors ----

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** Kubernetes' defaults: up at once, by max(4 pods, 100%) per 15 s; down after a 300 s window, by up to 100% per 15 s. */
export const DEFAULT_BEHAVIOR: Behavior = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
};

/** The HPA's `behavior` with Kubernetes' defaults for whatever it leaves out. */
export function behaviorWithDefaults(b?: { scaleUp?: Partial<ScalingRules>; scaleDown?: Partial<ScalingRules> }): Behavior {
  const rules = (given: Partial<ScalingRules> | undefined, d: ScalingRules): ScalingRules => ({
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? d.stabilizationWindowSeconds,
    selectPolicy: given?.selectPolicy ?? d.selectPolicy,
    policies: given?.policies?.length ? given.policies : d.policies,
  });
  return { scaleUp: rules(b?.scaleUp, DEFAULT_BEHAVIOR.scaleUp), scaleDown: rules(b?.scaleDown, DEFAULT_BEHAVIOR.scaleDown) };
}

/** What the controller remembers of one HPA between syncs. */
export interface History {
  /** Every recommendation (before stabilization), with when it was made. */
  recommendations: { at: number; replicas: number }[];
  /** The scalings carried out: how many replicas each added or removed, and when. */
  scaleUps: { at: number; change: number }[];
  scaleDowns: { at: number; change: number }[];
}

export const emptyHistory = (): History => ({ recommendations: [], scaleUps: [], scaleDowns: [] });

export interface Decision {
  replicas: number;
  /** AbleToScale=True: ReadyForNewScale, ScaleUpStabilized or ScaleDownStabilized. */
  stabilized: { reason: string; message: string };
  /** ScalingLimited: True when min, max or a policy held the count back. */
  limited: { status: 'True' | 'False'; reason: string; message: string };
}

const changeSince = (events: { at: number; change: number }[], periodSeconds: number, now: number) =>
  events.reduce((sum, e) => (e.at > now - periodSeconds * 1000 ? sum + e.change : sum), 0);

/**
 * Stabilization: the count moves up only as far as the lowest recommendation of the scale-up
 * window, and down only as far as the highest of the scale-down window. Records `desired`.
 */
function stabilize(h: History, b: Behavior, current: number, desired: number, now: number): { replicas: number; reason: string; message: string } {
  const upCutoff = now - b.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - b.scaleDown.stabilizationWindowSeconds * 1000;
  let up = desired;
  let down = desired;
  for (const r of h.recommendations) {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
  }
  const keepFrom = Math.min(upCutoff, downCutoff);
  h.recommendations = h.recommendations.filter((r) => r.at > keepFrom);
  h.recommendations.push({ at: now, replicas: desired });
  const replicas = Math.min(Math.max(current, up), down);
  return desired >= current
    ? { replicas, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
    : { replicas, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
}

/** The most the policies allow scaling up to now, counting what the periods already added and removed. */
export function scaleUpLimit(current: number, h: History, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const start = current - changeSince(h.scaleUps, p.periodSeconds, now) + changeSince(h.scaleDowns, p.periodSeconds, now);
    result = pick(result, p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100)));
  }
  return result;
}

/** The least the policies allow scaling down to now (Min picks the policy that removes fewest). */
export function scaleDownLimit(current: number, h: History, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = current - changeSince(h.scaleUps, p.periodSeconds, now) + changeSince(h.scaleDowns, p.periodSeconds, now);
    result = pick(result, p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100)));
  }
  return result;
}

/**
 * A metric's proposal (`desired`) made into the replica count to scale to, as Kubernetes'
 * normalizeDesiredReplicasWithBehaviors does: stabilized, then held to the policies' rate and to
 * min and max. Updates the history's recommendations; `recordScale` adds the scaling once done.
 */
export function decide(h: History, b: Behavior, current: number, desired: number, min: number, max: number, now: number): Decision {
  const s = stabilize(h, b, current, desired, now);
  const stabilized = s.replicas !== desired ? { reason: s.reason, message: s.message } : { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
  let replicas = s.replicas;
  let limit = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
  if (replicas > current) {
    const rate = Math.max(current, scaleUpLimit(current, h, b.scaleUp, now));
    const ceiling = Math.min(max, rate);
    const why = max > rate
      ? { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' }
      : { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
    if (replicas > ceiling) [replicas, limit] = [ceiling, why];
  } else if (replicas < current) {
    const rate = Math.min(current, scaleDownLimit(current, h, b.scaleDown, now));
    const floor = Math.max(min, rate);
    const why = min < rate
      ? { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' }
      : { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
    if (replicas < floor) [replicas, limit] = [floor, why];
  }
  return { replicas, stabilized, limited: { status: replicas === s.replicas ? 'False' : 'True', ...limit } };
}

/** A scaling carried out, for the policies' periods; events older than the longest period go. */
export function recordScale(h: History, b: Behavior, from: number, to: number, now: number): void {
  const longest = (r: ScalingRules) => Math.max(0, ...r.policies.map((p) => p.periodSeconds)) * 1000;
  h.scaleUps = h.scaleUps.filter((e) => e.at > now - longest(b.scaleUp));
  h.scaleDowns = h.scaleDowns.filter((e) => e.at > now - longest(b.scaleDown));
  if (to > from) h.scaleUps.push({ at: now, change: to - from });
  else if (to < from) h.scaleDowns.push({ at: now, change: from - to });
}
