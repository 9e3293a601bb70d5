// A pod's status from its containers' states, as Kubernetes' kubelet computes it: phase,
// conditions, and the container statuses. Pure.
import type { Condition, ContainerState, ContainerStatus, Pod, PodStatus } from '../../protocol/types.ts';

export interface ContainerRecord {
  name: string;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  ready: boolean;
  started: boolean;
  pid?: number;
}

export interface PodView {
  pod: Pod;
  init: ContainerRecord[];
  containers: ContainerRecord[];
  /** An init container failed and the policy forbids trying again. */
  initFailed: boolean;
  podIP?: string;
  hostIP?: string;
  startTime?: string;
  hostPorts?: PodStatus['hostPorts'];
  /** Why the pod as a whole failed, when it did (e.g. it could not be prepared). */
  failure?: { reason: string; message: string };
}

export function podPhase(v: PodView): NonNullable<PodStatus['phase']> {
  if (v.failure) return 'Failed';
  const policy = v.pod.spec.restartPolicy ?? 'Always';
  const initDone = v.init.length === 0 || v.init.every((c) => c.state.terminated?.exitCode === 0);
  if (v.initFailed) return 'Failed';
  if (!initDone) return 'Pending';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of v.containers) {
    if (c.state.running) running++;
    else if (c.state.terminated) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    // OnFailure restarts the failed ones: still Running until they succeed.
    return policy === 'Never' ? 'Failed' : 'Running';
  }
  return 'Pending';
}

function condition(prev: Condition[] | undefined, type: string, ok: boolean, now: string, reason?: string, message?: string): Condition {
  const status = ok ? 'True' : 'False';
  const before = prev?.find((c) => c.type === type);
  return {
    type,
    status,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
    ...(ok || !reason ? {} : { reason }),
    ...(ok || !message ? {} : { message }),
  };
}

export function containerStatuses(records: ContainerRecord[], images: Map<string, string | undefined>): ContainerStatus[] {
  return records.map((r) => ({
    name: r.name,
    ready: r.ready,
    started: r.started,
    restartCount: r.restartCount,
    ...(images.get(r.name) ? { image: images.get(r.name) } : {}),
    state: r.state,
    ...(r.lastState ? { lastState: r.lastState } : {}),
    ...(r.pid ? { pid: r.pid } : {}),
  }));
}

/** The full status the kubelet writes; conditions it does not own (PodScheduled) are kept. */
export function buildPodStatus(v: PodView, now: Date): PodStatus {
  const ts = now.toISOString();
  const prev = v.pod.status?.conditions;
  const phase = podPhase(v);
  const initDone = v.init.length === 0 || v.init.every((c) => c.state.terminated?.exitCode === 0);
  const unready = v.containers.filter((c) => !c.ready).map((c) => c.name);
  const pendingInit = v.init.filter((c) => c.state.terminated?.exitCode !== 0).map((c) => c.name);
  const ready = unready.length === 0 && phase === 'Running';
  // The kubelet only runs bound pods: scheduled, whatever an earlier unschedulable verdict said.
  const wasScheduled = prev?.find((c) => c.type === 'PodScheduled');
  const scheduled = wasScheduled?.status === 'True' ? wasScheduled : { type: 'PodScheduled', status: 'True' as const, lastTransitionTime: ts };
  const images = new Map([...(v.pod.spec.initContainers ?? []), ...v.pod.spec.containers].map((c) => [c.name, c.image]));
  const notReadyMsg = `containers with unready status: [${unready.join(' ')}]`;
  return {
    phase,
    conditions: [
      scheduled,
      condition(prev, 'Initialized', initDone, ts, 'ContainersNotInitialized', `containers with incomplete status: [${pendingInit.join(' ')}]`),
      condition(prev, 'ContainersReady', ready, ts, 'ContainersNotReady', notReadyMsg),
      condition(prev, 'Ready', ready, ts, 'ContainersNotReady', notReadyMsg),
    ],
    ...(v.hostIP ? { hostIP: v.hostIP } : {}),
    ...(v.podIP ? { podIP: v.podIP } : {}),
    ...(v.startTime ? { startTime: v.startTime } : {}),
    ...(v.failure ? { reason: v.failure.reason, message: v.failure.message } : {}),
    ...(v.init.length ? { initContainerStatuses: containerStatuses(v.init, images) } : {}),
    containerStatuses: containerStatuses(v.containers, images),
    ...(v.hostPorts?.length ? { hostPorts: v.hostPorts } : {}),
  };
}
