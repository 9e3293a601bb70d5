// Names and small rules that the Deployment controller and `skiff rollout` must agree on, as
// Kubernetes' deployment controller and kubectl do.
import { deepEqual } from './merge-patch.ts';
import type { PodTemplateSpec, ReplicaSet } from './types.ts';

export const TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** A ReplicaSet's pod template as its Deployment would carry it: without the pod-template-hash label. */
export function templateWithoutHash(template: PodTemplateSpec): PodTemplateSpec {
  const copy = structuredClone(template);
  const labels = copy.metadata?.labels;
  if (labels && TEMPLATE_HASH_LABEL in labels) {
    delete labels[TEMPLATE_HASH_LABEL];
    if (Object.keys(labels).length === 0) delete copy.metadata!.labels;
  }
  return copy;
}

export function sameTemplate(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return deepEqual(templateWithoutHash(a), templateWithoutHash(b));
}

export function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}
