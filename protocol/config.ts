// Every timing, port and size default, each overridable from the environment, and the fixed
// timings at the end, which are not. Nothing else in the tree spells a timeout or a port number.
import { APISERVER_BEAT_MS } from './subjects.ts';

export interface Config {
  natsUrl: string;
  /** How long a request to the apiserver may take before the client gives up. */
  requestTimeoutMs: number;
  /** The apiserver sends each watcher a heartbeat this often; a watcher that misses 2.5 re-watches. */
  watchHeartbeatMs: number;
  /** Events each apiserver keeps per kind so that a watcher can resume without relisting. */
  watchCacheEvents: number;
  /** How long a consistent list waits for the watch cache to catch up with the store. */
  cacheSyncTimeoutMs: number;
  /** KV storage for the object buckets: `file` in a cluster, `memory` is handy in tests. */
  kvStorage: 'file' | 'memory';
  /** Copies JetStream keeps of each KV bucket; 0: as many as there are servers, up to 3. */
  kvReplicas: number;
  /** max_age of the leases bucket: a lease nobody renews disappears after this (liveness never relies on it). */
  leaseBucketTtlMs: number;
  /** max_age of the events bucket, as Kubernetes' --event-ttl. */
  eventTtlMs: number;
  /** Base of the foreman PORT convention in `skiff up`. */
  basePort: number;
  /** `skiff up`: how long to wait for SIGTERM to work before SIGKILL. */
  stopTimeoutMs: number;
  /** `skiff up`: how long to wait for the first process (nats) to become ready. */
  readyTimeoutMs: number;
  /** `skiff up`: restart backoff after a crash. */
  restartBackoffInitialMs: number;
  restartBackoffMaxMs: number;
  /** A process that ran this long cleanly has its restart backoff reset. */
  restartBackoffResetMs: number;
  /** `skiff up`: how often readiness and stopping are checked: fast enough to feel instant, cheap on a busy box. */
  upPollMs: number;
  /** `skiff drain`: how long a ReplicaSet gets to bring a replacement up before the drain evicts its next ready pod. */
  drainOwnerWaitMs: number;
  /** Shell completion: how long a Tab may wait for the cluster's names before it offers none. */
  completionTimeoutMs: number;
  /** Kubelet: how often a node renews its Lease, and how long a renewal counts for. */
  nodeLeaseRenewMs: number;
  nodeLeaseDurationSeconds: number;
  /** Kubelet: how often the Node's status (its heartbeat conditions) is written. */
  nodeStatusMs: number;
  /** Kubelet: crash-loop backoff, doubling from initial to max, reset after this much clean running. */
  crashBackoffInitialMs: number;
  crashBackoffMaxMs: number;
  crashBackoffResetMs: number;
  /** Kubelet: pod status changes this close together are written as one. */
  podStatusBatchMs: number;
  /** Kubelet: a pod status write that failed is tried again after this. */
  podStatusRetryMs: number;
  /** Kubelet: how long a deleted pod's last status, and at the end of a drain every pod's, may take to be written before the kubelet goes on. */
  podStatusSettleMs: number;
  /** Controllers: a pod's status change reaches its ReplicaSet's status after at most this long, batched with others. */
  statusSyncDelayMs: number;
  /** HorizontalPodAutoscaler: how often each HPA looks at its figures (Kubernetes: 15 s). */
  hpaSyncMs: number;
  /** Kubelet: a container log is rotated past this size. */
  logMaxBytes: number;
  /** Kubelet: how often the memory watchdog measures, where no cgroup enforces limits. */
  memoryWatchdogMs: number;
  /** Kubelet: `auto` uses a cgroup v2 where the host allows it, else the watchdog. */
  memoryLimitMode: 'auto' | 'cgroup' | 'watchdog';
  /** Kubelet: on SIGTERM, how long pods get to stop before SIGKILL, at most (their own grace counts if shorter). */
  nodeShutdownGraceMs: number;
  /** Kubelet: a kubelet gone this long without a clean stop, and not started again, has its containers killed (0: never). */
  nodeOrphanGraceMs: number;
  maxPodsPerNode: number;
  /** Leader election of the scheduler and controller-manager. */
  leaderLeaseMs: number;
  leaderRenewDeadlineMs: number;
  leaderRetryMs: number;
  /** One attempt of a lease request (node or leader): an answer takes milliseconds, so a slow one is retried. */
  leaseAttemptMs: number;
  /** Node lifecycle: a node whose lease is older than this is unreachable, checked this often. */
  nodeGraceMs: number;
  nodeMonitorMs: number;
  /** Controllers look at everything again this often, whatever the watches said. */
  controllerResyncMs: number;
  gcPeriodMs: number;
  controllerWorkers: number;
  /** On SIGTERM, how long a gossip member may take to announce that it leaves. */
  leaveTimeoutMs: number;
  /** Kubelet: a failed node registration is tried again after this. */
  kubeletRetryMs: number;
  /** Kubelet: how often container logs are checked for rotation. */
  logRotateMs: number;
  /** Kubelet: how often a followed log (`skiff logs -f`) is checked for more. */
  logFollowPollMs: number;
  /**
   * Kubelet: a `logs -f` or `exec` stream sends its caller a heartbeat this often; one not answered
   * within as long means the caller has gone, and the stream ends (a followed log stops, an exec'd
   * command is killed).
   */
  streamHeartbeatMs: number;
  /** Apiserver: a failed start (buckets, caches) is tried again after this, doubling to 10 s. */
  apiserverRetryMs: number;
  /** Apiserver: how often namespaces being deleted are checked for being empty. */
  namespaceSweepMs: number;
  /** Apiserver: a watch cache's feed that could not make a new consumer on its bucket tries again after this. */
  kvFeedRetryMs: number;
  /** Where NodePort services get their node ports, as Kubernetes' --service-node-port-range. */
  nodePortRange: string;
  /**
   * kube-proxy: `userspace` (connections pass through the node process: retries, least
   * connections) or `nftables` (a DNAT in the kernel; needs root and nft, else userspace).
   */
  proxyMode: string;
  /**
   * Node: `on` connects to NATS through a fault link in the node's own process
   * (platform/fault-link.ts), where `skiff chaos` can put latency, loss or a partition; `off`
   * connects directly. skiff up turns it on for its nodes.
   */
  nodeFaultLink: string;
  /** Apiserver: where services' ClusterIPs come from, inside 127.0.0.0/8, as Kubernetes' --service-cluster-ip-range. */
  serviceCidr: string;
  /** Apiserver: the audit log, one JSON line per write, refusal and exec; empty: none. */
  auditLog: string;
  /**
   * Kubelet: how often it publishes its node's and pods' usage (protocol/metrics.ts); the
   * apiservers serve a sample for three of these. 1 s: the autoscaler decides a second or two
   * after a load step, where 5 s took two steps and 8 s to capacity, and a sample costs a kubelet
   * one pass over /proc (about 1 ms at 70 processes; bench/autoscale.ts).
   */
  metricsPublishMs: number;
  /** Node lifecycle: a node whose lease is late but which gossip still hears is evicted only after this. */
  nodeEvictionGraceMs: number;
  /** Cloud controller manager: the provider, `local` (node processes on this machine) or `none` (no cloud controller manager). */
  cloudProvider: string;
  /** The local provider: where it records its instances and keeps their data directories. */
  cloudDir: string;
  /** The largest machine the provider has, `cpu=N,memory=Q`; empty: this host's (the local provider's instances share it). */
  cloudMachine: string;
  /** Zones the local provider spreads its instances over, round robin (the label topology.kubernetes.io/zone). */
  cloudZones: string;
  /** The local provider: its nodes' addresses, and its load balancers', inside 127.0.0.0/8. */
  cloudNodeCidr: string;
  cloudLoadBalancerCidr: string;
  /**
   * The local provider: the process whose end stops its instances (skiff up's, which sets it), so
   * that none outlives the cluster; 0: the master that made them.
   */
  cloudAnchorPid: number;
  /** Cloud controller manager: how often node pools and instances are looked at. */
  cloudSyncMs: number;
  /** Gossip (SWIM): each member probes one other per period. */
  gossipPeriodMs: number;
  gossipProbeTimeoutMs: number;
  gossipIndirectChecks: number;
  gossipIntervalMs: number;
  gossipFanout: number;
  gossipMaxPiggyback: number;
  gossipRetransmitMult: number;
  /** Suspicion lasts at least this many periods (times log10 n beyond ten members), at most GossipSuspicionMaxMult times that. */
  gossipSuspicionMult: number;
  gossipSuspicionMaxMult: number;
  gossipSuspicionConfirmations: number;
  gossipUnreachableConfirmMs: number;
  gossipPushPullMs: number;
  gossipToDeadMs: number;
  gossipReapMs: number;
  gossipAwarenessMax: number;
  gossipSettleMs: number;
  gossipJoinRetryMs: number;
  /** Comma-separated member names to join through; empty: whoever answers on the join subject. */
  gossipSeeds: string;
}

export const DEFAULT_NATS_PORT = 4222;
/** nats-server's own monitoring port; the nats process serves skiff's /healthz and /metrics on its PORT. */
export const DEFAULT_NATS_MONITOR_PORT = 8222;
/** nats-server's route port, which the servers of a cluster connect to each other on. */
export const DEFAULT_NATS_CLUSTER_PORT = 6222;

const defaults: Config = {
  natsUrl: `nats://127.0.0.1:${DEFAULT_NATS_PORT}`,
  requestTimeoutMs: 5000,
  watchHeartbeatMs: 2000,
  watchCacheEvents: 200_000,
  cacheSyncTimeoutMs: 3000,
  kvStorage: 'file',
  kvReplicas: 0,
  leaseBucketTtlMs: 10 * 60_000,
  eventTtlMs: 60 * 60_000,
  basePort: 5000,
  stopTimeoutMs: 5000,
  readyTimeoutMs: 30_000,
  restartBackoffInitialMs: 1000,
  restartBackoffMaxMs: 30_000,
  restartBackoffResetMs: 10_000,
  upPollMs: 100,
  drainOwnerWaitMs: 60_000,
  completionTimeoutMs: 1000,
  nodeLeaseRenewMs: 1000,
  nodeLeaseDurationSeconds: 4,
  nodeStatusMs: 10_000,
  crashBackoffInitialMs: 1000,
  crashBackoffMaxMs: 60_000,
  crashBackoffResetMs: 10 * 60_000,
  podStatusBatchMs: 25,
  podStatusRetryMs: 500,
  podStatusSettleMs: 2000,
  statusSyncDelayMs: 100,
  hpaSyncMs: 1000,
  logMaxBytes: 10 * 1024 * 1024,
  memoryWatchdogMs: 250,
  memoryLimitMode: 'auto',
  nodeShutdownGraceMs: 3000,
  nodeOrphanGraceMs: 10_000,
  maxPodsPerNode: 110,
  leaderLeaseMs: 3000,
  leaderRenewDeadlineMs: 2000,
  leaderRetryMs: 500,
  leaseAttemptMs: 400,
  nodeGraceMs: 4000,
  nodeMonitorMs: 500,
  controllerResyncMs: 30_000,
  gcPeriodMs: 30_000,
  controllerWorkers: 4,
  leaveTimeoutMs: 2000,
  kubeletRetryMs: 1000,
  logRotateMs: 10_000,
  logFollowPollMs: 200,
  streamHeartbeatMs: 2000,
  apiserverRetryMs: 500,
  namespaceSweepMs: 5000,
  kvFeedRetryMs: 1000,
  nodePortRange: '30000-32767',
  proxyMode: 'userspace',
  nodeFaultLink: 'off',
  serviceCidr: '127.1.0.0/16',
  auditLog: '.skiff/audit.log',
  metricsPublishMs: 1000,
  nodeEvictionGraceMs: 30_000,
  cloudProvider: 'local',
  cloudDir: '.skiff/cloud',
  cloudMachine: '',
  cloudZones: 'zone-a,zone-b,zone-c',
  cloudNodeCidr: '127.0.3.0/24',
  cloudLoadBalancerCidr: '127.0.2.0/24',
  cloudAnchorPid: 0,
  cloudSyncMs: 1000,
  gossipPeriodMs: 500,
  gossipProbeTimeoutMs: 200,
  gossipIndirectChecks: 3,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  gossipMaxPiggyback: 16,
  gossipRetransmitMult: 6,
  gossipSuspicionMult: 2,
  gossipSuspicionMaxMult: 4,
  gossipSuspicionConfirmations: 3,
  gossipUnreachableConfirmMs: 250,
  gossipPushPullMs: 10_000,
  gossipToDeadMs: 30_000,
  gossipReapMs: 5 * 60_000,
  gossipAwarenessMax: 8,
  gossipSettleMs: 1000,
  gossipJoinRetryMs: 2000,
  gossipSeeds: '',
};

const envNames: Record<keyof Config, string> = {
  natsUrl: 'SKIFF_NATS_URL',
  requestTimeoutMs: 'SKIFF_REQUEST_TIMEOUT_MS',
  watchHeartbeatMs: 'SKIFF_WATCH_HEARTBEAT_MS',
  watchCacheEvents: 'SKIFF_WATCH_CACHE_EVENTS',
  cacheSyncTimeoutMs: 'SKIFF_CACHE_SYNC_TIMEOUT_MS',
  kvStorage: 'SKIFF_KV_STORAGE',
  kvReplicas: 'SKIFF_KV_REPLICAS',
  leaseBucketTtlMs: 'SKIFF_LEASE_BUCKET_TTL_MS',
  eventTtlMs: 'SKIFF_EVENT_TTL_MS',
  basePort: 'SKIFF_BASE_PORT',
  stopTimeoutMs: 'SKIFF_STOP_TIMEOUT_MS',
  readyTimeoutMs: 'SKIFF_READY_TIMEOUT_MS',
  restartBackoffInitialMs: 'SKIFF_RESTART_BACKOFF_INITIAL_MS',
  restartBackoffMaxMs: 'SKIFF_RESTART_BACKOFF_MAX_MS',
  restartBackoffResetMs: 'SKIFF_RESTART_BACKOFF_RESET_MS',
  upPollMs: 'SKIFF_UP_POLL_MS',
  drainOwnerWaitMs: 'SKIFF_DRAIN_OWNER_WAIT_MS',
  completionTimeoutMs: 'SKIFF_COMPLETION_TIMEOUT_MS',
  nodeLeaseRenewMs: 'SKIFF_NODE_LEASE_RENEW_MS',
  nodeLeaseDurationSeconds: 'SKIFF_NODE_LEASE_DURATION_SECONDS',
  nodeStatusMs: 'SKIFF_NODE_STATUS_MS',
  crashBackoffInitialMs: 'SKIFF_CRASH_BACKOFF_INITIAL_MS',
  crashBackoffMaxMs: 'SKIFF_CRASH_BACKOFF_MAX_MS',
  crashBackoffResetMs: 'SKIFF_CRASH_BACKOFF_RESET_MS',
  podStatusBatchMs: 'SKIFF_POD_STATUS_BATCH_MS',
  podStatusRetryMs: 'SKIFF_POD_STATUS_RETRY_MS',
  podStatusSettleMs: 'SKIFF_POD_STATUS_SETTLE_MS',
  statusSyncDelayMs: 'SKIFF_STATUS_SYNC_DELAY_MS',
  hpaSyncMs: 'SKIFF_HPA_SYNC_MS',
  logMaxBytes: 'SKIFF_LOG_MAX_BYTES',
  memoryWatchdogMs: 'SKIFF_MEMORY_WATCHDOG_MS',
  memoryLimitMode: 'SKIFF_MEMORY_LIMIT_MODE',
  nodeShutdownGraceMs: 'SKIFF_NODE_SHUTDOWN_GRACE_MS',
  nodeOrphanGraceMs: 'SKIFF_NODE_ORPHAN_GRACE_MS',
  maxPodsPerNode: 'SKIFF_MAX_PODS_PER_NODE',
  leaderLeaseMs: 'SKIFF_LEADER_LEASE_MS',
  leaderRenewDeadlineMs: 'SKIFF_LEADER_RENEW_DEADLINE_MS',
  leaderRetryMs: 'SKIFF_LEADER_RETRY_MS',
  leaseAttemptMs: 'SKIFF_LEASE_ATTEMPT_MS',
  nodeGraceMs: 'SKIFF_NODE_GRACE_MS',
  nodeMonitorMs: 'SKIFF_NODE_MONITOR_MS',
  controllerResyncMs: 'SKIFF_CONTROLLER_RESYNC_MS',
  gcPeriodMs: 'SKIFF_GC_PERIOD_MS',
  controllerWorkers: 'SKIFF_CONTROLLER_WORKERS',
  leaveTimeoutMs: 'SKIFF_LEAVE_TIMEOUT_MS',
  kubeletRetryMs: 'SKIFF_KUBELET_RETRY_MS',
  logRotateMs: 'SKIFF_LOG_ROTATE_MS',
  logFollowPollMs: 'SKIFF_LOG_FOLLOW_POLL_MS',
  streamHeartbeatMs: 'SKIFF_STREAM_HEARTBEAT_MS',
  apiserverRetryMs: 'SKIFF_APISERVER_RETRY_MS',
  namespaceSweepMs: 'SKIFF_NAMESPACE_SWEEP_MS',
  kvFeedRetryMs: 'SKIFF_KV_FEED_RETRY_MS',
  nodePortRange: 'SKIFF_NODE_PORT_RANGE',
  proxyMode: 'SKIFF_PROXY_MODE',
  nodeFaultLink: 'SKIFF_NODE_FAULT_LINK',
  serviceCidr: 'SKIFF_SERVICE_CIDR',
  auditLog: 'SKIFF_AUDIT_LOG',
  metricsPublishMs: 'SKIFF_METRICS_PUBLISH_MS',
  nodeEvictionGraceMs: 'SKIFF_NODE_EVICTION_GRACE_MS',
  cloudProvider: 'SKIFF_CLOUD_PROVIDER',
  cloudDir: 'SKIFF_CLOUD_DIR',
  cloudMachine: 'SKIFF_CLOUD_MACHINE',
  cloudZones: 'SKIFF_CLOUD_ZONES',
  cloudNodeCidr: 'SKIFF_CLOUD_NODE_CIDR',
  cloudLoadBalancerCidr: 'SKIFF_CLOUD_LOAD_BALANCER_CIDR',
  cloudAnchorPid: 'SKIFF_CLOUD_ANCHOR_PID',
  cloudSyncMs: 'SKIFF_CLOUD_SYNC_MS',
  gossipPeriodMs: 'SKIFF_GOSSIP_PERIOD_MS',
  gossipProbeTimeoutMs: 'SKIFF_GOSSIP_PROBE_TIMEOUT_MS',
  gossipIndirectChecks: 'SKIFF_GOSSIP_INDIRECT_CHECKS',
  gossipIntervalMs: 'SKIFF_GOSSIP_INTERVAL_MS',
  gossipFanout: 'SKIFF_GOSSIP_FANOUT',
  gossipMaxPiggyback: 'SKIFF_GOSSIP_MAX_PIGGYBACK',
  gossipRetransmitMult: 'SKIFF_GOSSIP_RETRANSMIT_MULT',
  gossipSuspicionMult: 'SKIFF_GOSSIP_SUSPICION_MULT',
  gossipSuspicionMaxMult: 'SKIFF_GOSSIP_SUSPICION_MAX_MULT',
  gossipSuspicionConfirmations: 'SKIFF_GOSSIP_SUSPICION_CONFIRMATIONS',
  gossipUnreachableConfirmMs: 'SKIFF_GOSSIP_UNREACHABLE_CONFIRM_MS',
  gossipPushPullMs: 'SKIFF_GOSSIP_PUSH_PULL_MS',
  gossipToDeadMs: 'SKIFF_GOSSIP_TO_DEAD_MS',
  gossipReapMs: 'SKIFF_GOSSIP_REAP_MS',
  gossipAwarenessMax: 'SKIFF_GOSSIP_AWARENESS_MAX',
  gossipSettleMs: 'SKIFF_GOSSIP_SETTLE_MS',
  gossipJoinRetryMs: 'SKIFF_GOSSIP_JOIN_RETRY_MS',
  gossipSeeds: 'SKIFF_GOSSIP_SEEDS',
};

export class ConfigError extends Error {}

/** Settings where an empty value is a choice (SKIFF_AUDIT_LOG= : no audit log), not an unset variable. */
const EMPTY_IS_A_VALUE = new Set<keyof Config>(['auditLog']);

/** The defaults, overridden by SKIFF_* environment variables, then by `overrides`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const cfg: Config = { ...defaults };
  for (const [key, name] of Object.entries(envNames) as [keyof Config, string][]) {
    const raw = env[name];
    if (raw === undefined || (raw === '' && !EMPTY_IS_A_VALUE.has(key))) continue;
    if (typeof defaults[key] === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be a non-negative number`);
      (cfg as unknown as Record<string, unknown>)[key] = n;
    } else {
      (cfg as unknown as Record<string, unknown>)[key] = raw;
    }
  }
  if (!['auto', 'cgroup', 'watchdog'].includes(cfg.memoryLimitMode)) {
    throw new ConfigError(`SKIFF_MEMORY_LIMIT_MODE=${JSON.stringify(cfg.memoryLimitMode)}: must be "auto", "cgroup" or "watchdog"`);
  }
  if (cfg.kvStorage !== 'file' && cfg.kvStorage !== 'memory') {
    throw new ConfigError(`SKIFF_KV_STORAGE=${JSON.stringify(cfg.kvStorage)}: must be "file" or "memory"`);
  }
  if (!Number.isInteger(cfg.kvReplicas) || cfg.kvReplicas > 5) {
    throw new ConfigError(`SKIFF_KV_REPLICAS=${cfg.kvReplicas}: must be 1 to 5 copies, or 0 for as many as there are servers (up to 3)`);
  }
  if (cfg.nodeFaultLink !== 'on' && cfg.nodeFaultLink !== 'off') {
    throw new ConfigError(`SKIFF_NODE_FAULT_LINK=${JSON.stringify(cfg.nodeFaultLink)}: must be "on" or "off"`);
  }
  if (cfg.cloudProvider !== 'local' && cfg.cloudProvider !== 'none') {
    throw new ConfigError(`SKIFF_CLOUD_PROVIDER=${JSON.stringify(cfg.cloudProvider)}: must be "local" or "none"`);
  }
  if (cfg.gossipPeriodMs <= 0) throw new ConfigError('SKIFF_GOSSIP_PERIOD_MS must be above 0');
  if (cfg.gossipProbeTimeoutMs >= cfg.gossipPeriodMs) {
    throw new ConfigError(`SKIFF_GOSSIP_PROBE_TIMEOUT_MS (${cfg.gossipProbeTimeoutMs}) must be below SKIFF_GOSSIP_PERIOD_MS (${cfg.gossipPeriodMs}): indirect probes need the rest of the period`);
  }
  return { ...cfg, ...overrides };
}

// Fixed timings: not settings. Granularities of internal loops and windows of the protocol that
// nobody should need to tune; each names the file that uses it.

/** client/requests.ts: how often a connection's request mux looks for requests past their deadline, the grain of every request timeout. */
export const REQUEST_SWEEP_MS = 25;
/** apiserver/authorizer.ts: audit lines are written this long after the first of a batch. */
export const AUDIT_FLUSH_MS = 200;
/** infra/nats.ts: how often a server looks for a changed authorization (skiff auth), then reloads. */
export const AUTH_RELOAD_POLL_MS = 250;
/** client/client.ts: each attempt of an apiserver request gets at least this long, unless the request's timeout or attemptTimeoutMs is shorter. */
export const REQUEST_MIN_ATTEMPT_MS = 1000;
/** client/client.ts: a request that found no apiserver, from a client that waits for one, asks again after this. */
export const REQUEST_RETRY_PAUSE_MS = 100;
/** client/client.ts: a get or list unanswered this long is sent to a second apiserver too (a hedged request). */
export const READ_HEDGE_MS = 250;
/** apiserver/verbs.ts: a list waits this long for the store's revision, then serves the watch cache as it is (the store is electing a leader). */
export const LIST_STORE_WAIT_MS = 200;
/**
 * apiserver/verbs.ts: a list waiting for the watch cache to reach the store's revision stops
 * waiting once the cache has applied nothing for this long, and serves it as it is: its feed's
 * consumer is gone with a server and delivers nothing until it is made again (KV_FEED_STALL_MS).
 * A cache that moves, however slowly, is waited for.
 */
export const LIST_CACHE_STILL_MS = 250;
/** apiserver/store.ts: after a list's look at the store went unanswered, lists do not wait for it again for this long (one look goes on in the background). */
export const STORE_UNANSWERED_MS = 1000;
/** apiserver/kv-requests.ts: a store write unanswered this long is sent again (same message id), as a replicated bucket's new leader takes over. */
export const STORE_ATTEMPT_MS = 1000;
/** client/apiservers.ts: three beats missed and an apiserver is passed over. */
export const APISERVER_HEALTHY_MS = 3 * APISERVER_BEAT_MS;
/** client/watch.ts: a broken watch is made again at once, then after each of these in turn, the last one repeated. */
export const WATCH_RETRY_MS: readonly number[] = [100, 250, 500, 1000, 2000];
/** client/watch.ts: a watch checks for a missed heartbeat four times per deadline, but not more often than this. */
export const WATCH_DEADLINE_CHECK_MIN_MS = 50;
/**
 * apiserver/kv-feed.ts: idle heartbeats of a feed's consumer; two missed and the feed makes a new
 * one. 5 s, as nats.js's: a shorter one replaced consumers needlessly when a loaded machine
 * delayed a heartbeat.
 */
export const KV_FEED_HEARTBEAT_MS = 5000;
/**
 * apiserver/kv-feed.ts: a feed that delivers nothing for this long after the store was seen ahead
 * of it (a write's answer, a list) makes a new consumer: the server that held its consumer is gone.
 */
export const KV_FEED_STALL_MS = 1000;
/**
 * apiserver/claims.ts: a claim (a node port, a ClusterIP) whose holder this apiserver does not see
 * holding it is still honoured this long: the holder's write may not have reached this
 * apiserver's cache yet.
 */
export const CLAIM_GRACE_MS = 30_000;
/** platform/fault-link.ts: how often a node's fault link looks at its faults file, the grain of a fault's start and end. */
export const LINK_FAULTS_POLL_MS = 100;
/** platform/nats.ts: how long connecting to NATS may take, unless the caller says otherwise. */
export const NATS_CONNECT_TIMEOUT_MS = 2000;
/**
 * platform/nats.ts: a connection refused or not answered is tried this many times, this far apart,
 * before the CLI believes it. nats-server 2.9 fumbles handshakes while it reloads its authorization
 * (skiff auth, or a node added by the cloud provider): a handshake a reload catches half done is
 * refused ('Authorization Violation') or not answered until the server's 2 s authentication timeout.
 * In bursts of 8 reloads (test/security.test.ts), 6-9 of 37-53 handshakes failed so with one attempt
 * (4 runs), none with two (5 runs). A real refusal costs 100 ms more; a hung server 2 s.
 */
export const NATS_HANDSHAKE_ATTEMPTS = 2;
export const NATS_HANDSHAKE_RETRY_MS = 100;
/** platform/nats.ts: a long-running process that lost NATS tries again this often. */
export const NATS_RECONNECT_WAIT_MS = 250;
/** platform/nats.ts: how often a long-running process checks that its NATS server has JetStream (is not cut off from its cluster). */
export const STRANDED_PROBE_MS = 2000;
/** platform/nats.ts: that long without, and it moves to another server: longer than JetStream's election after a server dies (4-9 s in nats-server 2.9). */
export const STRANDED_AFTER_MS = 20_000;
/** platform/nats.ts: the server is pinged this often; two pings unanswered and the connection counts as lost. */
export const NATS_PING_INTERVAL_MS = 10_000;
/** runtime/expectations.ts: a controller's expectations lapse after this, in case a watch event was lost for good (Kubernetes' ExpectationsTimeout). */
export const EXPECTATIONS_TTL_MS = 5 * 60_000;
/** runtime/events.ts: a repeat of the same event within this bumps the existing Event's count instead of making another, as client-go's recorder does. */
export const EVENT_AGGREGATE_MS = 10 * 60_000;
/** scheduler/scheduler.ts: pods found unschedulable are all tried again this often (and whenever a node changes in a way that matters). */
export const SCHEDULER_UNSCHEDULABLE_RETRY_MS = 10_000;
/** scheduler/scheduler.ts: a pod whose bind failed (other than on a conflict, queued again at once) is queued again after this. */
export const SCHEDULER_BIND_RETRY_MS = 1000;
/**
 * kubelet/kubelet.machine.ts: the pod events of every kubelet of the process are acted on in
 * order, at most this long per turn of the event loop: a burst of pods bound to a node (or to the
 * thousand hollow nodes of a benchmark process) would otherwise be started in one turn, holding
 * lease renewals and status writes back for seconds and then sending them all at once.
 */
export const POD_EVENT_SLICE_MS = 10;
/** kubelet/status-manager.ts: while the kubelet waits for pod status writes to settle, it looks again this often. */
export const POD_STATUS_SETTLE_POLL_MS = 20;
/** kubelet/pod-fs.ts: removing a pod's directories is tried again this much further apart each time (0.1 s, 0.2 s, ...). */
export const POD_DIR_REMOVE_RETRY_STEP_MS = 100;
/** kubelet/runtime.ts: a container the kubelet re-adopted (not its child) is looked for in /proc this often, until it has ended. */
export const ADOPTED_CONTAINER_POLL_MS = 100;
/** kube-proxy/proxy.ts: a backend that has not accepted a connection within this is given up for the next. */
export const PROXY_CONNECT_TIMEOUT_MS = 2000;
/** kube-proxy/proxy.ts: a port that could not be listened on is tried again after this long, not at every sync. */
export const PROXY_LISTEN_RETRY_MS = 2000;
/** kube-proxy/proxy.ts: an optional one (127.0.0.1, which another node on the host may hold for good) less often. */
export const PROXY_OPTIONAL_LISTEN_RETRY_MS = 5 * PROXY_LISTEN_RETRY_MS;
/**
 * kube-proxy/proxy.ts: a ClusterIP another node on the host holds is tried again this often, so
 * that when that node dies another takes the address over within about this long.
 */
export const PROXY_CLUSTER_IP_RETRY_MS = 100;
/** cli/duration.ts: how long `skiff delete` waits for objects to be gone when no --timeout is given (the flag is its knob, as kubectl's). */
export const DELETE_WAIT_TIMEOUT_MS = 60_000;
/** cli/commands/delete.ts: while `skiff delete` waits, it looks this often whether what it deleted is gone. */
export const DELETE_WAIT_POLL_MS = 200;
/** apiserver/apiserver.machine.ts: a failed start is retried after apiserverRetryMs, doubling up to this. */
export const APISERVER_RETRY_MAX_MS = 10_000;
/** kubelet/kubelet.machine.ts: a drain gives up on pods this long after their grace ran out (their SIGKILL and its exit). */
export const DRAIN_SLACK_MS = 2000;
/** node/node.machine.ts: on SIGTERM a node waits for its kubelet this long beyond the pods' grace, then ends anyway (the reaper cleans up). */
export const NODE_STOP_SLACK_MS = 5000;

/** A node started with SKIFF_EXIT_WITH_PID looks this often whether that process still runs. */
export const EXIT_WITH_POLL_MS = 1000;
