// The pure part of `skiff rollout`: how far a Deployment's rollout has got (kubectl's words), its
// revision history from the ReplicaSets it owns, and which revision an undo goes back to.
import type { Deployment, ObjectMeta, ReplicaSet } from '../protocol/types.ts';

import { CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION, sameTemplate, templateWithoutHash } from '../protocol/workloads.ts';

export { RESTARTED_AT_ANNOTATION } from '../protocol/workloads.ts';
export { sameTemplate, templateWithoutHash };
/** The Progressing condition's reason once spec.progressDeadlineSeconds has passed without progress. */
export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';

export type RolloutState =
  | { type: 'progressing'; message: string }
  | { type: 'complete'; message: string }
  | { type: 'failed'; message: string };

/** kubectl's DeploymentStatusViewer: what `rollout status` prints for this state of `d`. */
export function rolloutState(d: Deployment): RolloutState {
  const name = JSON.stringify(d.metadata.name);
  const status = d.status ?? {};
  const waiting = (what: string): RolloutState => ({ type: 'progressing', message: `Waiting for deployment ${name} rollout to finish: ${what}...` });
  if ((status.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
    return { type: 'progressing', message: 'Waiting for deployment spec update to be observed...' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED) {
    return { type: 'failed', message: `deployment ${name} exceeded its progress deadline` };
  }
  const desired = d.spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) return waiting(`${updated} out of ${desired} new replicas have been updated`);
  if (total > updated) return waiting(`${total - updated} old replicas are pending termination`);
  // Scaled down mid-rollout: new pods beyond the desired count are still going away.
  if (updated > desired) return waiting(`${updated - desired} extra updated replicas are pending termination`);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas are available`);
  return { type: 'complete', message: `deployment ${name} successfully rolled out` };
}

export interface Revision {
  revision: number;
  changeCause?: string;
  replicaSet: ReplicaSet;
}

export function revisionOf(rs: ReplicaSet): number | undefined {
  const text = rs.metadata.annotations?.[REVISION_ANNOTATION];
  const n = Number(text);
  return text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(n) ? n : undefined;
}

/** The revisions of `d`, oldest first: one per ReplicaSet it controls that carries a revision. */
export function rolloutHistory(d: Deployment, replicaSets: ReplicaSet[]): Revision[] {
  const uid = d.metadata.uid;
  const owned = replicaSets.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.controller === true && r.uid === uid));
  const byRevision = new Map<number, Revision>();
  for (const rs of owned) {
    const revision = revisionOf(rs);
    if (revision === undefined) continue;
    byRevision.set(revision, { revision, changeCause: rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION], replicaSet: rs });
  }
  return [...byRevision.values()].sort((a, b) => a.revision - b.revision);
}

/** kubectl's history table, two spaces between columns. */
export function historyTable(history: Revision[]): string {
  const header = 'REVISION';
  const rows = history.map((h) => `${String(h.revision).padEnd(header.length)}  ${h.changeCause || '<none>'}`);
  return [`${header}  CHANGE-CAUSE`, ...rows].join('\n');
}

export type RevisionLookup =
  | { type: 'found'; revision: Revision }
  | { type: 'missing'; message: string };

/** Revision `revision`; or, when none (or 0) is given, the one an undo goes back to: the second newest, as kubectl. */
export function findRevision(history: Revision[], name: string, revision?: number): RevisionLookup {
  if (!revision) {
    if (history.length < 2) return { type: 'missing', message: `no rollout history found for deployment ${JSON.stringify(name)}` };
    return { type: 'found', revision: history[history.length - 2] };
  }
  const found = history.find((h) => h.revision === revision);
  if (found) return { type: 'found', revision: found };
  const known = history.length ? `it has ${history.map((h) => h.revision).join(', ')}` : 'it has none';
  return { type: 'missing', message: `unable to find specified revision ${revision} in the history of deployment ${JSON.stringify(name)} (${known}; see: skiff rollout history deployment/${name})` };
}

/**
 * `d` rolled back to `target`: its pod template, and its change-cause (or none), so that the
 * revision this makes shows the cause it had before.
 */
export function rolledBack(d: Deployment, target: Revision): Deployment {
  const annotations = { ...d.metadata.annotations };
  if (target.changeCause) annotations[CHANGE_CAUSE_ANNOTATION] = target.changeCause;
  else delete annotations[CHANGE_CAUSE_ANNOTATION];
  const metadata: ObjectMeta = { ...d.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  return { ...d, metadata, spec: { ...d.spec, template: templateWithoutHash(target.replicaSet.spec.template) } };
}
