import { join, resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';
import type { Config } from '../../protocol/config.ts';
import { cpuMillis, memoryBytes } from '../../protocol/quantity.ts';
import { parseTaints } from '../../protocol/tolerations.ts';
import type { KubeletConfig } from './kubelet.ts';
import { statusHost } from '../platform/metrics.ts';
import type { LimitModes } from './limits.ts';

export { Kubelet, type KubeletConfig, type KubeletDeps } from './kubelet.ts';
export { kubeletMachine, type KubeletInput, type PodLookup } from './kubelet.machine.ts';
export { ProcessRuntime, type Runtime, type ProcessHandle, type LaunchSpec, type ExitInfo } from './runtime.ts';
export { realProber, type Prober } from './prober.ts';
export { detectCgroups, WATCHDOG_MODES } from './limits.ts';
export { serveNode } from './server.ts';
export { publishUsage, registerPodMetrics } from './pod-metrics.ts';
export { claimDataDir, DataDirInUse, startReaper, stopRecordedGroups } from './reaper.ts';

export class NodeConfigError extends Error {}

function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of (text ?? '').split(',').map((t) => t.trim()).filter(Boolean)) {
    const [k, v, ...rest] = term.split('=');
    if (!k || v === undefined || rest.length) throw new NodeConfigError(`SKIFF_NODE_LABELS: ${JSON.stringify(term)} is not key=value`);
    out[k] = v;
  }
  return out;
}

/** Where this node process serves /metrics: its status host and PORT; served on every address (0.0.0.0), at the node's own. */
function metricsAddress(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.PORT || env.PORT === '0') return undefined;
  const listening = statusHost(env);
  const host = listening === '0.0.0.0' ? env.SKIFF_NODE_ADDRESS || '127.0.0.1' : listening;
  return `${host}:${env.PORT}`;
}

/** A kubelet's settings: the cluster config, plus this node's identity from its environment. */
export function kubeletConfig(name: string, cfg: Config, modes: LimitModes, env: NodeJS.ProcessEnv = process.env): KubeletConfig {
  const setting = <T,>(what: string, raw: string | undefined, parse: (s: string) => T, fallback: T): T => {
    if (!raw) return fallback;
    try {
      return parse(raw);
    } catch (err) {
      throw new NodeConfigError(`${what}=${JSON.stringify(raw)}: ${(err as Error).message}`);
    }
  };
  return {
    identity: {
      name,
      address: env.SKIFF_NODE_ADDRESS || '127.0.0.1',
      cpuMillis: setting('SKIFF_NODE_CPU', env.SKIFF_NODE_CPU, cpuMillis, cpus().length * 1000),
      memoryBytes: setting('SKIFF_NODE_MEMORY', env.SKIFF_NODE_MEMORY, memoryBytes, totalmem()),
      reservedCpuMillis: 0,
      reservedMemoryBytes: 0,
      maxPods: cfg.maxPodsPerNode,
      labels: parseLabels(env.SKIFF_NODE_LABELS),
      taints: setting('SKIFF_NODE_TAINTS', env.SKIFF_NODE_TAINTS, parseTaints, []),
      modes,
      metricsAddress: metricsAddress(env),
    },
    // Absolute: the shim writes exit files from inside each pod's own working directory.
    dataDir: resolve(env.SKIFF_NODE_DATA_DIR || join('.skiff', 'nodes', name)),
    leaseRenewMs: cfg.nodeLeaseRenewMs,
    leaseDurationSeconds: cfg.nodeLeaseDurationSeconds,
    leaseAttemptMs: cfg.leaseAttemptMs,
    nodeStatusMs: cfg.nodeStatusMs,
    backoff: { initialMs: cfg.crashBackoffInitialMs, maxMs: cfg.crashBackoffMaxMs, resetAfterMs: cfg.crashBackoffResetMs },
    logMaxBytes: cfg.logMaxBytes,
    statusBatchMs: cfg.podStatusBatchMs,
    statusRetryMs: cfg.podStatusRetryMs,
    statusSettleMs: cfg.podStatusSettleMs,
    logFollowPollMs: cfg.logFollowPollMs,
    streamHeartbeatMs: cfg.streamHeartbeatMs,
    watchdogMs: cfg.memoryWatchdogMs,
    watchDeadlineMs: cfg.watchHeartbeatMs * 2.5,
  };
}
