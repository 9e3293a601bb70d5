// Rollout planning, as Kubernetes' deployment controller does it (sync.go, rolling.go,
// recreate.go, deployment_util.go): which ReplicaSet is new, how far to scale it up and the old
// ones down within maxSurge and maxUnavailable, history cleanup, and the Deployment's status.
// Pure: it returns actions for the controller to carry out.
import type { Condition, Deployment, DeploymentStatus, IntOrString, PodTemplateSpec, ReplicaSet } from '../../../protocol/types.ts';
import { fnv1a } from '../../../protocol/hash.ts';
import {
  CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION, revisionOf, sameTemplate, TEMPLATE_HASH_LABEL, templateWithoutHash,
} from '../../../protocol/workloads.ts';

export { REVISION_ANNOTATION, revisionOf };

/** Kubernetes' intstr scaling: `25%` of 10 is 3 rounded up, 2 rounded down. */
export function scaled(value: IntOrString | undefined, total: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  const n = m ? Number(m[1]) : Number(v);
  if (!m) return Number.isFinite(n) ? n : 0;
  const exact = (n * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge rounds up, maxUnavailable down; both zero would deadlock, so unavailable becomes 1. */
export function rollingParams(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec.replicas ?? 1;
  const ru = d.spec.strategy?.rollingUpdate;
  const maxSurge = scaled(ru?.maxSurge, replicas, true, '25%');
  let maxUnavailable = scaled(ru?.maxUnavailable, replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

/** FNV-1a over the canonical JSON of the template, spelled in Kubernetes' safe alphabet. */
export function templateHash(t: PodTemplateSpec, collisionCount = 0): string {
  const canon = (v: unknown): unknown => (Array.isArray(v) ? v.map(canon)
    : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v);
  const text = JSON.stringify(canon(t)) + (collisionCount ? String(collisionCount) : '');
  const h = fnv1a(text);
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let n = h; out.length < 10; n = Math.floor(n / alphabet.length) || h + out.length * 7919) out += alphabet[n % alphabet.length];
  return out;
}

/** The template a ReplicaSet runs, without the hash label the controller added. */
export function templateOf(rs: ReplicaSet): PodTemplateSpec {
  return templateWithoutHash(rs.spec.template);
}

export interface RsView {
  rs: ReplicaSet;
  /** Pods of this ReplicaSet that still exist (for Recreate, which waits until none of the old do). */
  podCount: number;
}

export type RolloutAction =
  | { type: 'create'; rs: ReplicaSet }
  | { type: 'scale'; name: string; replicas: number }
  | { type: 'setRevision'; name: string; revision: number }
  | { type: 'delete'; name: string };

export interface RolloutPlan {
  actions: RolloutAction[];
  status: DeploymentStatus;
}

export function newReplicaSetFor(d: Deployment, revision: number, replicas: number): ReplicaSet {
  const hash = templateHash(d.spec.template, d.status?.collisionCount ?? 0);
  const labels = { ...(d.spec.template.metadata?.labels ?? {}), [TEMPLATE_HASH_LABEL]: hash };
  const cause = d.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels,
      annotations: { [REVISION_ANNOTATION]: String(revision), ...(cause ? { [CHANGE_CAUSE_ANNOTATION]: cause } : {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      replicas,
      minReadySeconds: d.spec.minReadySeconds ?? 0,
      selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector.matchLabels ?? {}), [TEMPLATE_HASH_LABEL]: hash } },
      template: { ...d.spec.template, metadata: { ...d.spec.template.metadata, labels } },
    },
  };
}

const replicasOf = (v: RsView) => v.rs.spec.replicas ?? 0;
const availableOf = (v: RsView) => v.rs.status?.availableReplicas ?? 0;

function condition(prev: Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime' | 'lastUpdateTime'>, now: string, progressed: boolean): Condition {
  const before = prev?.find((x) => x.type === c.type);
  const same = before && before.status === c.status && before.reason === c.reason;
  return {
    ...c,
    lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : now,
    lastUpdateTime: same && !progressed ? before!.lastUpdateTime ?? now : now,
  };
}

export function planRollout(d: Deployment, views: RsView[], nowMs: number): RolloutPlan {
  const now = new Date(nowMs).toISOString();
  const replicas = d.spec.replicas ?? 1;
  const { maxSurge, maxUnavailable } = rollingParams(d);
  const actions: RolloutAction[] = [];
  const wanted = d.spec.template;
  const maxRevision = Math.max(0, ...views.map((v) => revisionOf(v.rs)));
  let current = views.find((v) => sameTemplate(templateOf(v.rs), wanted));
  const old = views.filter((v) => v !== current);
  const paused = !!d.spec.paused;

  if (!current && !paused) {
    const fresh = newReplicaSetFor(d, maxRevision + 1, 0);
    actions.push({ type: 'create', rs: fresh });
    current = { rs: fresh, podCount: 0 };
  } else if (current && !paused && revisionOf(current.rs) < maxRevision) {
    // Rolling back to an older template makes its ReplicaSet the newest revision again.
    actions.push({ type: 'setRevision', name: current.rs.metadata.name!, revision: maxRevision + 1 });
  }
  const scale = (v: RsView, to: number) => {
    if (to !== replicasOf(v)) actions.push({ type: 'scale', name: v.rs.metadata.name!, replicas: to });
    v.rs = { ...v.rs, spec: { ...v.rs.spec, replicas: to } };
  };

  if (paused) {
    // A paused rollout only follows scaling, and only when there is nothing half-rolled.
    if (current && old.every((v) => replicasOf(v) === 0)) scale(current, replicas);
  } else if (d.spec.strategy?.type === 'Recreate') {
    for (const v of old) scale(v, 0);
    if (old.every((v) => v.podCount === 0)) scale(current!, replicas);
  } else {
    const cur = current!;
    const total = () => views.reduce((n, v) => n + replicasOf(v), 0) + (views.includes(cur) ? 0 : replicasOf(cur));
    if (replicasOf(cur) > replicas) scale(cur, replicas);
    // Scaled down mid-rollout (an autoscaler, a user): more pods than the new count and its surge
    // allow. The excess goes in this sync, as Kubernetes' proportional scaling takes it, but
    // where it costs least: pods not available first (old, then new), then old available ones,
    // oldest first.
    let excess = total() - (replicas + maxSurge);
    const byAge = [...old].sort((a, b) => revisionOf(a.rs) - revisionOf(b.rs));
    for (const [v, unavailableOnly] of [...byAge.map((o) => [o, true] as const), [cur, true] as const, ...byAge.map((o) => [o, false] as const)]) {
      if (excess <= 0) break;
      const cut = Math.min(excess, unavailableOnly ? Math.max(0, replicasOf(v) - availableOf(v)) : replicasOf(v));
      if (cut > 0) {
        scale(v, replicasOf(v) - cut);
        excess -= cut;
      }
    }
    if (replicasOf(cur) < replicas) {
      const up = Math.min(replicas + maxSurge - total(), replicas - replicasOf(cur));
      if (up > 0) scale(cur, replicasOf(cur) + up);
    }
    const oldTotal = old.reduce((n, v) => n + replicasOf(v), 0);
    if (oldTotal > 0) {
      const minAvailable = replicas - maxUnavailable;
      const newUnavailable = Math.max(0, replicasOf(cur) - availableOf(cur));
      let budget = total() - minAvailable - newUnavailable;
      // First the old replicas that are not available anyway: removing them costs nothing.
      for (const v of [...old].sort((a, b) => revisionOf(a.rs) - revisionOf(b.rs))) {
        if (budget <= 0) break;
        const unhealthy = Math.max(0, replicasOf(v) - availableOf(v));
        const cut = Math.min(unhealthy, budget);
        if (cut > 0) {
          scale(v, replicasOf(v) - cut);
          budget -= cut;
        }
      }
      const available = views.reduce((n, v) => n + Math.min(availableOf(v), replicasOf(v)), 0);
      let down = Math.min(budget, available - minAvailable);
      for (const v of [...old].sort((a, b) => revisionOf(a.rs) - revisionOf(b.rs))) {
        if (down <= 0) break;
        const cut = Math.min(replicasOf(v), down);
        if (cut > 0) {
          scale(v, replicasOf(v) - cut);
          down -= cut;
        }
      }
    }
  }

  // History: old ReplicaSets scaled to zero and empty, beyond revisionHistoryLimit, oldest first.
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const idle = old.filter((v) => replicasOf(v) === 0 && (v.rs.status?.replicas ?? 0) === 0 && v.podCount === 0)
    .sort((a, b) => revisionOf(a.rs) - revisionOf(b.rs));
  for (const v of idle.slice(0, Math.max(0, idle.length - limit))) actions.push({ type: 'delete', name: v.rs.metadata.name! });

  return { actions, status: rolloutStatus(d, current, old, nowMs, now, maxUnavailable) };
}

export function rolloutStatus(d: Deployment, current: RsView | undefined, old: RsView[], nowMs: number, now: string, maxUnavailable: number): DeploymentStatus {
  const replicas = d.spec.replicas ?? 1;
  const all = current ? [current, ...old] : old;
  const sum = (f: (v: RsView) => number) => all.reduce((n, v) => n + f(v), 0);
  const updated = current?.rs.status?.replicas ?? 0;
  const available = sum((v) => v.rs.status?.availableReplicas ?? 0);
  const total = sum((v) => v.rs.status?.replicas ?? 0);
  const prev = d.status;
  const complete = updated === replicas && total === replicas && available === replicas && (current?.rs.status?.availableReplicas ?? 0) === replicas;
  const progressed = !prev || updated > (prev.updatedReplicas ?? 0) || available > (prev.availableReplicas ?? 0) || d.metadata.generation !== prev.observedGeneration;
  const before = prev?.conditions?.find((c) => c.type === 'Progressing');
  const lastUpdate = Date.parse(before?.lastUpdateTime ?? '');
  const lastProgress = progressed || Number.isNaN(lastUpdate) ? nowMs : lastUpdate;
  const deadline = (d.spec.progressDeadlineSeconds ?? 600) * 1000;
  const progressing = d.spec.paused
    ? { type: 'Progressing', status: 'Unknown' as const, reason: 'DeploymentPaused', message: 'Deployment is paused' }
    : complete
      ? { type: 'Progressing', status: 'True' as const, reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${current?.rs.metadata.name}" has successfully progressed.` }
      : nowMs - lastProgress > deadline
        ? { type: 'Progressing', status: 'False' as const, reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${current?.rs.metadata.name}" has timed out progressing.` }
        : { type: 'Progressing', status: 'True' as const, reason: 'ReplicaSetUpdated', message: `ReplicaSet "${current?.rs.metadata.name}" is progressing.` };
  const availableOk = available >= replicas - maxUnavailable;
  return {
    observedGeneration: d.metadata.generation,
    replicas: total,
    updatedReplicas: updated,
    readyReplicas: sum((v) => v.rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, replicas - available),
    ...(prev?.collisionCount ? { collisionCount: prev.collisionCount } : {}),
    conditions: [
      condition(prev?.conditions, availableOk
        ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
        : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now, false),
      condition(prev?.conditions, progressing, now, progressed && !complete),
    ],
  };
}
