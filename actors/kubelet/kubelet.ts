// What a kubelet's actors share: its settings, the API client, the pod status writer, the host
// port allocator, the memory watchdog and the metrics, and the I/O each of its jobs does. The
// lifecycle is the kubelet machine's (kubelet.machine.ts): it registers the node, keeps its lease,
// spawns a pod worker per pod, reaps, rotates logs, serves logs and exec, and drains.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BackoffPolicy } from '../../protocol/backoff.ts';
import { NotFound } from '../../protocol/errors.ts';
import type { Container, Pod, PodStatus, Service } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import type { Logger } from '../platform/log.ts';
import { removeCgroup, type CgroupHost } from './limits.ts';
import { fileSize, instanceLog, pruneLogs, rotateIfLarge } from './logs.ts';
import type { NodeIdentity } from './node-object.ts';
import { containerEnv, serviceEnv } from './pod-env.ts';
import { containerLogDir, podPaths, removePodDirs, type PodPaths } from './pod-fs.ts';
import type { NodeContext } from './pod-worker.machine.ts';
import { PortAllocator } from './ports.ts';
import type { Prober } from './prober.ts';
import { killOrphanGroups, type LaunchSpec, type Runtime } from './runtime.ts';
import { recordedGroups, type PodState } from './state.ts';
import { apiStatusWriter, StatusManager, type StatusWriter } from './status-manager.ts';
import { MemoryWatchdog } from './watchdog.ts';

export interface KubeletConfig {
  identity: NodeIdentity;
  dataDir: string;
  leaseRenewMs: number;
  leaseDurationSeconds: number;
  /** One attempt of a lease renewal; the next goes out if it is not answered by then. */
  leaseAttemptMs: number;
  nodeStatusMs: number;
  backoff: BackoffPolicy;
  logMaxBytes: number;
  /** Pod status changes within this long of each other are written together. */
  statusBatchMs: number;
  /** A failed pod status write is tried again after this. */
  statusRetryMs: number;
  /** How long the last status writes (a deleted pod's, or every pod's at a drain) may take before the kubelet goes on. */
  statusSettleMs: number;
  /** How often a followed log is checked for more. */
  logFollowPollMs: number;
  /** A logs -f or exec stream's heartbeat to its caller, and how long one may go unanswered. */
  streamHeartbeatMs: number;
  watchdogMs: number;
  watchDeadlineMs: number;
  /** The hollow nodes of the benchmark keep nothing on disk. */
  noDisk?: boolean;
}

export interface KubeletDeps {
  client: ApiClient;
  /** The Services, for the <SVC>_SERVICE_HOST and _PORT variables pods start with. */
  services?: Informer<Service>;
  runtime: Runtime;
  prober: Prober;
  log: Logger;
  registry: Registry;
  cgroups?: CgroupHost;
  statusWriter?: StatusWriter;
}

/** A pod as the kubelet's jobs see it: what its worker holds now. */
export interface RunningPod {
  pod: Pod;
  state: PodState;
  paths: PodPaths;
}

export class Kubelet {
  readonly statuses: StatusManager;
  readonly ports = new PortAllocator();
  readonly watchdog: MemoryWatchdog;
  /** What every pod worker of this node is given. */
  readonly node: NodeContext;
  private readonly startLatency: Histogram;
  private readonly started = new Set<string>();
  private readonly restartsSeen = new Map<string, number>();
  private readonly restarts: Counter;
  readonly podEvents: Counter<'type'>;
  /** How many pods run here, for the gauge; kept by the kubelet machine. */
  podCount = 0;

  constructor(readonly cfg: KubeletConfig, readonly deps: KubeletDeps) {
    const { identity } = cfg;
    this.watchdog = new MemoryWatchdog(cfg.watchdogMs);
    this.statuses = new StatusManager(deps.statusWriter ?? apiStatusWriter(deps.client), (pod, err) => {
      deps.log.warn('pod status write failed; retrying', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err });
    }, cfg.statusBatchMs, cfg.statusRetryMs);
    const registers = [deps.registry];
    this.startLatency = new Histogram({
      name: 'skiff_kubelet_pod_start_duration_seconds', help: 'From pod creation to all its containers running, as this kubelet saw it.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers,
    });
    this.restarts = new Counter({ name: 'skiff_kubelet_container_restarts_total', help: 'Container restarts on this node.', registers });
    this.podEvents = new Counter({
      name: 'skiff_kubelet_pod_events_total', help: 'Pod watch events this kubelet received; only pods bound to this node are delivered.',
      labelNames: ['type'], registers,
    });
    const self = this;
    new Gauge({ name: 'skiff_kubelet_pods', help: 'Pods this kubelet runs.', registers, collect() { this.set(self.podCount); } });
    const statuses = this.statuses;
    new Gauge({ name: 'skiff_kubelet_status_writes', help: 'Pod status writes sent (coalesced).', registers, collect() { this.set(statuses.writes); } });
    this.node = {
      nodeName: identity.name,
      address: identity.address,
      dataDir: cfg.dataDir,
      runtime: deps.runtime,
      prober: deps.prober,
      backoff: cfg.backoff,
      allocatePorts: (pod) => this.ports.allocate(pod),
      baseEnv: (pod) => this.baseEnv(pod),
      cgroups: deps.cgroups,
      watchMemory: (h, limit, onOver) => this.watchdog.watch(h, limit, onOver),
      noDisk: cfg.noDisk,
    };
  }

  get name(): string {
    return this.cfg.identity.name;
  }

  get log(): Logger {
    return this.deps.log;
  }

  private baseEnv(pod: Pod): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: podPaths(this.cfg.dataDir, pod.metadata.uid!).root, LANG: process.env.LANG ?? 'C.UTF-8',
      ...serviceEnv(this.deps.services?.listByNamespace(pod.metadata.namespace ?? 'default') ?? []),
    };
  }

  /** A pod worker's status: counted (start latency, restarts) and queued for writing. */
  observeStatus(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid!;
    if (!this.started.has(uid) && status.phase === 'Running' && status.containerStatuses?.every((c) => c.state.running)) {
      this.started.add(uid);
      const created = Date.parse(pod.metadata.creationTimestamp ?? '');
      if (!Number.isNaN(created)) this.startLatency.observe((Date.now() - created) / 1000);
    }
    const restarts = (status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
    const before = this.restartsSeen.get(uid) ?? restarts;
    if (restarts > before) this.restarts.inc(restarts - before);
    this.restartsSeen.set(uid, restarts);
    this.statuses.set(pod, status);
  }

  /** The pod's processes are gone from this node: the delete completes (grace 0, this very pod). */
  async confirmDeleted(pod: Pod): Promise<void> {
    try {
      await this.deps.client.delete('pods', pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid! } });
    } catch (err) {
      if (!(err instanceof NotFound)) this.deps.log.warn('final pod delete failed', { pod: pod.metadata.name, err });
    }
  }

  /** A deleted pod whose processes are gone: its last status written, the delete confirmed, its cgroups and directory removed. */
  async finishDeleted(pod: Pod, state: PodState): Promise<void> {
    const uid = pod.metadata.uid!;
    this.started.delete(uid);
    this.restartsSeen.delete(uid);
    await this.statuses.settled(this.cfg.statusSettleMs);
    this.statuses.forget(uid);
    await this.confirmDeleted(pod);
    if (this.cfg.noDisk) return;
    if (this.deps.cgroups) for (const c of Object.keys(state.containers)) removeCgroup(`${this.deps.cgroups.root}/${uid}-${c}`);
    await this.removeDirs(pod.metadata.name!, podPaths(this.cfg.dataDir, uid));
  }

  /** Kills the process groups of records no pod on this node claims, and removes their directories. */
  reap(records: PodState[]): void {
    for (const s of records) {
      const killed = killOrphanGroups(recordedGroups(s));
      this.deps.log.info('reaped a pod this node no longer runs', { pod: `${s.namespace}/${s.name}`, uid: s.uid, killedGroups: killed.length });
      this.ports.release(s.ports);
      void this.removeDirs(s.name, podPaths(this.cfg.dataDir, s.uid));
    }
  }

  private async removeDirs(pod: string, paths: PodPaths): Promise<void> {
    const err = await removePodDirs(paths);
    if (err) this.deps.log.warn('could not remove the pod directory', { pod, dir: paths.dir, err });
  }

  /** Rotates logs over the size limit and drops instances older than the previous one. */
  rotateLogs(pods: RunningPod[]): void {
    if (this.cfg.noDisk) return;
    for (const p of pods) {
      for (const [name, c] of Object.entries(p.state.containers)) {
        const dir = containerLogDir(p.paths, name);
        const file = instanceLog(dir, c.restartCount);
        if (fileSize(file) > this.cfg.logMaxBytes) rotateIfLarge(file, this.cfg.logMaxBytes);
        pruneLogs(dir, c.restartCount);
      }
    }
  }

  /** The environment a container of this pod runs with (for skiff exec). */
  envFor(p: RunningPod, c: Container): Record<string, string> {
    const address = this.cfg.identity.address;
    return containerEnv({ pod: p.pod, podIP: address, hostIP: address, nodeName: this.name, ports: p.state.ports, base: this.baseEnv(p.pod) }, c);
  }

  exec(spec: Pick<LaunchSpec, 'argv' | 'env' | 'cwd'>, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number> {
    return this.deps.runtime.exec(spec, onOutput, signal);
  }
}
