// The kubelet's work: register the Node, renew its Lease, follow the pods bound to this node (and
// only those: the watch is filtered by spec.nodeName and delivered on the node's own subjects),
// run a pod-worker actor per pod, write their statuses, re-adopt what an earlier kubelet left
// running and kill what nobody owns. The machine in kubelet.machine.ts sequences it.
import { createActor, type Actor } from 'xstate';
import { nuid } from 'nats';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AlreadyExists, NotFound } from '../../protocol/errors.ts';
import { deepEqual } from '../../protocol/merge-patch.ts';
import { nodeWatchInbox } from '../../protocol/subjects.ts';
import type { Container, Lease, Node, Pod, PodStatus, Service } from '../../protocol/types.ts';
import { containerEnv, serviceEnv } from './pod-env.ts';
import type { ApiClient } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { Pacer } from '../platform/pacer.ts';
import type { Logger } from '../platform/log.ts';
import type { CgroupHost } from './limits.ts';
import { removeCgroup } from './limits.ts';
import type { BackoffPolicy } from '../../protocol/backoff.ts';
import { fileSize, instanceLog, pruneLogs, rotateIfLarge } from './logs.ts';
import { newNode, nodeLabels, nodeStatus, NODE_LEASE_NAMESPACE, type NodeIdentity } from './node-object.ts';
import { containerLogDir, podPaths, removePodDirs, type PodPaths } from './pod-fs.ts';
import { freshState, podWorkerMachine, type NodeContext } from './pod-worker.machine.ts';
import { PortAllocator } from './ports.ts';
import type { Prober } from './prober.ts';
import { killOrphanGroups, stopOrphanGroups, type LaunchSpec, type Runtime } from './runtime.ts';
import { loadPodStates, recordedGroups, type PodState } from './state.ts';
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
  watchdogMs: number;
  watchDeadlineMs: number;
  /** The hollow nodes of the benchmark keep nothing on disk. */
  noDisk?: boolean;
}

export interface Worker {
  actor: Actor<typeof podWorkerMachine>;
  pod: Pod;
  state: PodState;
  paths: PodPaths;
  terminated?: Promise<void>;
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

/**
 * The pod events of every kubelet of the process are acted on in order, at most this long per
 * turn of the event loop: a burst of pods bound to a node (or to the thousand hollow nodes of a
 * benchmark process) would otherwise be started in one turn, holding lease renewals and status
 * writes back for seconds and then sending them all at once.
 */
const POD_EVENT_SLICE_MS = 10;
const podEventPacer = new Pacer(POD_EVENT_SLICE_MS);

export class Kubelet {
  readonly workers = new Map<string, Worker>();
  readonly statuses: StatusManager;
  private informer?: Informer<Pod>;
  private podSyncStopped = false;
  private readonly ports: PortAllocator;
  private readonly watchdog: MemoryWatchdog;
  private readonly node: NodeContext;
  /** Records left by an earlier kubelet, by pod uid, until a pod claims them or they are reaped. */
  private unclaimed = new Map<string, PodState>();
  private nodeObject?: Node;
  private readonly startLatency: Histogram;
  private readonly started = new Set<string>();
  /** Pods whose worker has finished a delete and whose last status, delete and directory are being seen to. */
  private readonly finishing = new Set<string>();
  private readonly restartsSeen = new Map<string, number>();
  private readonly restarts: Counter;
  private readonly podEvents: Counter<'type'>;

  constructor(readonly cfg: KubeletConfig, private readonly deps: KubeletDeps) {
    const { identity } = cfg;
    this.ports = new PortAllocator();
    this.watchdog = new MemoryWatchdog(cfg.watchdogMs);
    this.statuses = new StatusManager(deps.statusWriter ?? apiStatusWriter(deps.client), (pod, err) => {
      deps.log.warn('pod status write failed; retrying', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err });
    }, cfg.statusBatchMs);
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
    const workers = this.workers;
    new Gauge({ name: 'skiff_kubelet_pods', help: 'Pods this kubelet runs.', registers, collect() { this.set(workers.size); } });
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
      releasePorts: (p) => this.ports.release(p),
      baseEnv: (pod) => ({
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: podPaths(cfg.dataDir, pod.metadata.uid!).root, LANG: process.env.LANG ?? 'C.UTF-8',
        ...serviceEnv(deps.services?.listByNamespace(pod.metadata.namespace ?? 'default') ?? [], identity.address),
      }),
      cgroups: deps.cgroups,
      watchMemory: (h, limit, onOver) => this.watchdog.watch(h, limit, onOver),
      noDisk: cfg.noDisk,
      reportStatus: (pod, status) => this.reportStatus(pod, status),
      onTerminated: (pod, deleted) => this.onTerminated(pod, deleted),
    };
  }

  get name(): string {
    return this.cfg.identity.name;
  }

  /** Creates the Node, or brings an existing one's labels and status up to date. */
  async register(): Promise<void> {
    const { client } = this.deps;
    const now = new Date();
    try {
      this.nodeObject = await client.create(newNode(this.cfg.identity, now));
      this.deps.log.info('registered node', { node: this.name });
      return;
    } catch (err) {
      if (!(err instanceof AlreadyExists)) throw err;
    }
    const existing = await client.get<Node>('nodes', this.name);
    await client.patch('nodes', this.name, undefined, { metadata: { labels: nodeLabels(this.cfg.identity) } });
    this.nodeObject = await client.updateStatus({ ...existing, status: nodeStatus(this.cfg.identity, now, existing.status) });
    this.deps.log.info('node registered again', { node: this.name });
  }

  async reportNodeStatus(): Promise<void> {
    const status = nodeStatus(this.cfg.identity, new Date(), this.nodeObject?.status);
    this.nodeObject = await this.deps.client.patch<Node>('nodes', this.name, undefined, { status }, { subresource: 'status' });
  }

  async renewLease(): Promise<void> {
    const spec = { holderIdentity: this.name, leaseDurationSeconds: this.cfg.leaseDurationSeconds, renewTime: new Date().toISOString() };
    // Short attempts: a renewal stuck on one hung apiserver must not let the lease lapse.
    const client = this.deps.client.withTimeouts(this.cfg.leaseDurationSeconds * 1000, this.cfg.leaseAttemptMs);
    try {
      await client.patch('leases', this.name, NODE_LEASE_NAMESPACE, { spec }, { returnObject: false });
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      const lease: Lease = { apiVersion: 'v1', kind: 'Lease', metadata: { name: this.name, namespace: NODE_LEASE_NAMESPACE }, spec };
      await client.create(lease).catch((e) => { if (!(e instanceof AlreadyExists)) throw e; });
    }
  }

  /** Follows this node's pods; resolves `synced` after the first listing, once orphans are reaped. */
  startPodSync(): { stop: () => void; synced: Promise<void> } {
    if (!this.cfg.noDisk) for (const s of loadPodStates(this.cfg.dataDir)) this.unclaimed.set(s.uid, s);
    for (const s of this.unclaimed.values()) this.ports.reserve(s.ports);
    const informer = new Informer<Pod>(this.deps.client, 'pods', {
      fieldSelector: `spec.nodeName=${this.name}`,
      deadlineMs: this.cfg.watchDeadlineMs,
      inbox: () => nodeWatchInbox(this.name, nuid.next()),
      onRestart: (reason) => this.deps.log.debug('pod watch restarted', { reason }),
    });
    this.podSyncStopped = false;
    // Acted on later (POD_EVENT_SLICE_MS), and not at all once the sync has stopped (or the node
    // drains): a pod started after that would be left running by a node that is going away.
    const later = (fn: () => void) => podEventPacer.run(() => {
      if (this.podSyncStopped) return;
      try {
        fn();
      } catch (err) {
        this.deps.log.error('pod event handling failed', { err });
      }
    });
    informer.on({
      add: (pod) => { this.podEvents.inc({ type: 'add' }); later(() => this.onPod(pod)); },
      update: (_old, pod) => { this.podEvents.inc({ type: 'update' }); later(() => this.onPod(pod)); },
      delete: (pod) => { this.podEvents.inc({ type: 'delete' }); later(() => this.onPodGone(pod)); },
    });
    this.informer = informer;
    // A container's environment names every service of its namespace (FOO_SERVICE_HOST, ...), so
    // pods start only once the services have been listed, as Kubernetes' kubelet waits for them.
    void (this.deps.services?.synced() ?? Promise.resolve()).then(() => { if (!this.podSyncStopped) informer.start(); });
    // Reaped only once every pod of the listing has been taken up (some re-adopt a record).
    const synced = informer.synced().then(() => podEventPacer.after()).then(() => this.reapUnclaimed());
    return { stop: () => this.stopPodSync(), synced };
  }

  /** No more pod events: the watch stops, and what is still queued of them is dropped. */
  private stopPodSync(): void {
    this.podSyncStopped = true;
    this.informer?.stop();
  }

  private onPod(pod: Pod): void {
    const uid = pod.metadata.uid!;
    const w = this.workers.get(uid);
    if (w) {
      const before = w.pod;
      w.pod = pod;
      // Most updates are the echo of our own status writes: nothing for the worker to do.
      const relevant = before.metadata.deletionTimestamp !== pod.metadata.deletionTimestamp
        || before.metadata.deletionGracePeriodSeconds !== pod.metadata.deletionGracePeriodSeconds
        || !deepEqual(before.spec, pod.spec) || !deepEqual(before.metadata.labels, pod.metadata.labels);
      if (relevant) w.actor.send({ type: 'UPDATE', pod });
      return;
    }
    // The echo of a finished worker's last status write: onTerminated completes the delete.
    if (this.finishing.has(uid)) return;
    const adopted = this.unclaimed.get(uid);
    // A pod already being deleted, of which nothing runs here, is not started: its delete is only
    // confirmed.
    if (pod.metadata.deletionTimestamp && !adopted) {
      void this.confirmDeleted(pod);
      return;
    }
    this.unclaimed.delete(uid);
    const state = adopted ?? freshState(pod);
    if (adopted) this.deps.log.info('re-adopting pod', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
    const actor = createActor(podWorkerMachine, { input: { pod, node: this.node, state } });
    const worker: Worker = { actor, pod, state, paths: podPaths(this.cfg.dataDir, uid) };
    this.workers.set(uid, worker);
    actor.start();
    if (pod.metadata.deletionTimestamp) actor.send({ type: 'UPDATE', pod });
  }

  private async removeDirs(pod: string, paths: PodPaths): Promise<void> {
    const err = await removePodDirs(paths);
    if (err) this.deps.log.warn('could not remove the pod directory', { pod, dir: paths.dir, err });
  }

  /** The pod's processes are gone from this node: the delete completes (grace 0, this very pod). */
  private async confirmDeleted(pod: Pod): Promise<void> {
    try {
      await this.deps.client.delete('pods', pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid! } });
    } catch (err) {
      if (!(err instanceof NotFound)) this.deps.log.warn('final pod delete failed', { pod: pod.metadata.name, err });
    }
  }

  private onPodGone(pod: Pod): void {
    this.workers.get(pod.metadata.uid!)?.actor.send({ type: 'TERMINATE', deleted: true });
  }

  /** Kills the process groups of records no pod on this node claims, and removes their directories. */
  private reapUnclaimed(): void {
    for (const s of this.unclaimed.values()) {
      const killed = killOrphanGroups(recordedGroups(s));
      this.deps.log.info('reaped a pod this node no longer runs', { pod: `${s.namespace}/${s.name}`, uid: s.uid, killedGroups: killed.length });
      this.ports.release(s.ports);
      void this.removeDirs(s.name, podPaths(this.cfg.dataDir, s.uid));
    }
    this.unclaimed.clear();
  }

  private reportStatus(pod: Pod, status: PodStatus): void {
    const w = this.workers.get(pod.metadata.uid!);
    const current = w?.pod ?? pod;
    const uid = pod.metadata.uid!;
    if (!this.started.has(uid) && status.phase === 'Running' && status.containerStatuses?.every((c) => c.state.running)) {
      this.started.add(uid);
      const created = Date.parse(current.metadata.creationTimestamp ?? '');
      if (!Number.isNaN(created)) this.startLatency.observe((Date.now() - created) / 1000);
    }
    const restarts = (status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
    const before = this.restartsSeen.get(uid) ?? restarts;
    if (restarts > before) this.restarts.inc(restarts - before);
    this.restartsSeen.set(uid, restarts);
    this.statuses.set(current, status);
  }

  private onTerminated(pod: Pod, deleted: boolean): void {
    const uid = pod.metadata.uid!;
    const w = this.workers.get(uid);
    if (!deleted) return;
    this.workers.delete(uid);
    this.started.delete(uid);
    this.restartsSeen.delete(uid);
    this.finishing.add(uid);
    void (async () => {
      await this.statuses.settled(2000);
      this.statuses.forget(uid);
      await this.confirmDeleted(pod);
      if (w && !this.cfg.noDisk) {
        if (this.deps.cgroups) for (const c of Object.keys(w.state.containers)) removeCgroup(`${this.deps.cgroups.root}/${uid}-${c}`);
        await this.removeDirs(pod.metadata.name!, w.paths);
      }
      w?.actor.stop();
      this.finishing.delete(uid);
    })();
  }

  /** Rotates logs over the size limit and drops instances older than the previous one. */
  rotateLogs(): void {
    if (this.cfg.noDisk) return;
    for (const w of this.workers.values()) {
      for (const [name, c] of Object.entries(w.state.containers)) {
        const dir = containerLogDir(w.paths, name);
        const file = instanceLog(dir, c.restartCount);
        if (fileSize(file) > this.cfg.logMaxBytes) rotateIfLarge(file, this.cfg.logMaxBytes);
        pruneLogs(dir, c.restartCount);
      }
    }
  }

  /**
   * Stops the pods, as on SIGTERM: SIGTERM, then SIGKILL after their grace period or `graceMs`,
   * whichever is shorter. With keep, leaves their processes running for the next kubelet to re-adopt.
   */
  async drain(keep: boolean, graceMs: number): Promise<void> {
    this.stopPodSync();
    const all = [...this.workers.values()];
    if (keep) {
      for (const w of all) w.actor.stop();
      return;
    }
    const done = all.map((w) => new Promise<void>((resolve) => {
      const sub = w.actor.subscribe((s) => { if (s.status === 'done') { sub.unsubscribe(); resolve(); } });
      if (w.actor.getSnapshot().status === 'done') resolve();
      const podGraceMs = (w.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      w.actor.send({ type: 'TERMINATE', deleted: false, graceMs: Math.min(podGraceMs, graceMs) });
    }));
    // Containers of the last run that no pod listing has claimed yet (stopped before the first
    // one came, or before the node registered and the records were even read) are this node's
    // too: they stop with the rest.
    const records = this.informer || this.cfg.noDisk ? [...this.unclaimed.values()] : loadPodStates(this.cfg.dataDir);
    this.unclaimed.clear();
    done.push(stopOrphanGroups(records.flatMap(recordedGroups), graceMs).then(() => {}));
    await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, graceMs + 2000))]);
    await this.statuses.settled(2000);
    for (const w of all) w.actor.stop();
    this.watchdog.stop();
  }

  /** The environment a container of this pod runs with (for skiff exec). */
  envFor(w: Worker, c: Container): Record<string, string> {
    const address = this.cfg.identity.address;
    return containerEnv({ pod: w.pod, podIP: address, hostIP: address, nodeName: this.name, ports: w.state.ports, base: this.node.baseEnv(w.pod) }, c);
  }

  exec(spec: Pick<LaunchSpec, 'argv' | 'env' | 'cwd'>, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number> {
    return this.deps.runtime.exec(spec, onOutput, signal);
  }

  podByName(namespace: string, name: string): Worker | undefined {
    for (const w of this.workers.values()) if (w.pod.metadata.namespace === namespace && w.pod.metadata.name === name) return w;
    return undefined;
  }
}
