// What each container and the node use: on the kubelet's /metrics, named as cAdvisor and the
// kubelet's resource metrics name them, so that Kubernetes dashboards and queries work as they
// are, read at scrape time; and published on NATS every few seconds for the apiservers' window
// (skiff top, the autoscaler). Each read is one pass over /proc for all containers.
import type { NatsConnection } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { encode } from '../../protocol/codec.ts';
import type { NodeUsage, PodTraffic, PodUsage } from '../../protocol/metrics.ts';
import { metricsSubject } from '../../protocol/subjects.ts';
import { oncePerScrape } from '../platform/metrics.ts';
import { groupCpuSeconds, groupRssBytes, machineUsage, membersByGroup } from '../platform/procfs.ts';
import type { RunningPod } from './kubelet.ts';

/** One running container as the metrics see it. */
export interface ContainerSample {
  namespace: string;
  pod: string;
  container: string;
  cpuSeconds: number;
  memoryBytes: number;
  startTimeSeconds: number;
}

/** Every running container's usage, from one pass over /proc. */
export function sampleContainers(pods: RunningPod[], members = membersByGroup()): ContainerSample[] {
  const out: ContainerSample[] = [];
  for (const { pod, state } of pods) {
    for (const [container, saved] of Object.entries(state.containers)) {
      const h = saved.handle;
      if (!h || !members.has(h.pgid)) continue;
      out.push({
        namespace: pod.metadata.namespace ?? 'default', pod: pod.metadata.name!, container,
        cpuSeconds: groupCpuSeconds(h.pgid, members), memoryBytes: groupRssBytes(h.pgid, members), startTimeSeconds: Date.parse(h.startedAt) / 1000,
      });
    }
  }
  return out;
}

/**
 * A counter must not go down: a container's CPU is kept at the most it has shown per process
 * group (a member reaped by a process outside the group, or by init, takes its CPU with it).
 */
class Monotonic {
  private readonly most = new Map<string, number>();

  value(key: string, v: number): number {
    const m = Math.max(this.most.get(key) ?? 0, v);
    this.most.set(key, m);
    return m;
  }

  keep(keys: Set<string>): void {
    for (const k of this.most.keys()) if (!keys.has(k)) this.most.delete(k);
  }
}

/** Registers the container and node usage metrics; `pods` is read at each scrape. */
export function registerPodMetrics(registry: Registry, pods: () => RunningPod[]): void {
  const registers = [registry];
  const labelNames = ['namespace', 'pod', 'container'] as const;
  const sample = oncePerScrape(() => sampleContainers(pods()));
  const machine = oncePerScrape(machineUsage);
  const cpu = new Monotonic();
  new Counter({
    name: 'container_cpu_usage_seconds_total', help: 'CPU time used by a container (its process group), in seconds.', labelNames, registers,
    collect() {
      this.reset();
      const seen = new Set<string>();
      for (const s of sample()) {
        const key = `${s.namespace}/${s.pod}/${s.container}`;
        seen.add(key);
        this.inc({ namespace: s.namespace, pod: s.pod, container: s.container }, cpu.value(key, s.cpuSeconds));
      }
      cpu.keep(seen);
    },
  });
  new Gauge({
    name: 'container_memory_working_set_bytes', help: 'Memory a container holds (resident set of its process group), in bytes.', labelNames, registers,
    collect() {
      this.reset();
      for (const s of sample()) this.set({ namespace: s.namespace, pod: s.pod, container: s.container }, s.memoryBytes);
    },
  });
  new Gauge({
    name: 'container_start_time_seconds', help: 'When a container started, in seconds since the epoch.', labelNames, registers,
    collect() {
      this.reset();
      for (const s of sample()) this.set({ namespace: s.namespace, pod: s.pod, container: s.container }, s.startTimeSeconds);
    },
  });
  new Counter({
    name: 'node_cpu_usage_seconds_total', help: 'CPU time the node (the whole machine) has been busy, in seconds.', registers,
    collect() {
      const m = machine();
      this.reset();
      if (m) this.inc(m.cpuSeconds);
    },
  });
  new Gauge({
    name: 'node_memory_working_set_bytes', help: 'Memory in use on the node (the whole machine: total less available), in bytes.', registers,
    collect() {
      const m = machine();
      if (m) this.set(m.memoryBytes);
    },
  });
}

/** A reading of the containers and the machine, as publishUsage keeps them. */
export interface UsageReading {
  at: number;
  containers: ContainerSample[];
  machine?: { cpuSeconds: number; memoryBytes: number };
}

/**
 * /proc counts CPU in clock ticks of 10 ms, so a figure over one second of a container using 50m
 * is 5 ticks, ±1: ±20%, twice the autoscaler's tolerance. A container's CPU is therefore taken
 * over the shortest recent window in which it used at least this much (20 ticks: within 5%), or
 * over the longest window kept (CPU_WINDOW_MAX_MS) when it used less. A busy container's figure
 * is a second old; a quiet one's is steady.
 */
export const CPU_PRECISION_SECONDS = 0.2;
export const CPU_WINDOW_MAX_MS = 5000;

/**
 * Rates from a reading and the readings before it (oldest first): each container's CPU over the
 * shortest window back to an earlier reading that is precise enough (CPU_PRECISION_SECONDS), else
 * back to the oldest that has it (a container new, or restarted, since the oldest counts from its
 * own start); the machine's over the window since the latest reading. A pod's windowMs is the
 * longest of its containers'.
 */
export function usageBetween(node: string, now: UsageReading, before: UsageReading[]): NodeUsage {
  const latest = before.at(-1);
  const windowMs = latest ? now.at - latest.at : 0;
  const key = (c: ContainerSample) => `${c.namespace}/${c.pod}/${c.container}@${c.startTimeSeconds}`;
  const earlier = before.map((r) => ({ at: r.at, byKey: new Map(r.containers.map((c) => [key(c), c])) })).reverse();
  const pods = new Map<string, PodUsage>();
  for (const c of now.containers) {
    const k = key(c);
    let from: { at: number; cpuSeconds: number } | undefined;
    for (const r of earlier) {
      const p = r.byKey.get(k);
      if (!p) break; // older readings are of another run of it, or none
      from = { at: r.at, cpuSeconds: p.cpuSeconds };
      if (c.cpuSeconds - p.cpuSeconds >= CPU_PRECISION_SECONDS) break;
    }
    const since = from ? (now.at - from.at) / 1000 : Math.max(0.001, now.at / 1000 - c.startTimeSeconds);
    const cpuCores = Math.max(0, (c.cpuSeconds - (from?.cpuSeconds ?? 0)) / since);
    const id = `${c.namespace}/${c.pod}`;
    let pod = pods.get(id);
    if (!pod) pods.set(id, (pod = { namespace: c.namespace, name: c.pod, containers: [], windowMs: 0 }));
    pod.containers.push({ name: c.container, cpuCores, memoryBytes: c.memoryBytes });
    pod.windowMs = Math.max(pod.windowMs!, Math.round(since * 1000));
  }
  const cpuCores = latest?.machine && now.machine && windowMs > 0 ? Math.max(0, (now.machine.cpuSeconds - latest.machine.cpuSeconds) / (windowMs / 1000)) : 0;
  return { node, timestamp: now.at, windowMs, cpuCores, memoryBytes: now.machine?.memoryBytes ?? 0, pods: [...pods.values()] };
}

/** Counts that only grow, by pod (`namespace/name`): what kube-proxy forwarded. */
export type TrafficCounts = () => ReadonlyMap<string, { requests: number; connections: number; active: number }>;

/** The traffic between two readings of the counts, as rates over `windowMs`. */
export function trafficBetween(now: ReturnType<TrafficCounts>, before: ReadonlyMap<string, { requests: number; connections: number }>, windowMs: number): PodTraffic[] {
  const out: PodTraffic[] = [];
  const seconds = Math.max(0.001, windowMs / 1000);
  for (const [id, c] of now) {
    const b = before.get(id);
    const requests = Math.max(0, c.requests - (b?.requests ?? 0));
    const connections = Math.max(0, c.connections - (b?.connections ?? 0));
    // A pod nothing reached in the window is left out: the apiservers read it as 0.
    if (requests === 0 && connections === 0 && c.active === 0) continue;
    const slash = id.indexOf('/');
    out.push({ namespace: id.slice(0, slash), name: id.slice(slash + 1), requestsPerSecond: requests / seconds, connectionsPerSecond: connections / seconds, activeConnections: c.active });
  }
  return out;
}

/**
 * Publishes the node's and its pods' usage every `everyMs` (the first once a window has passed),
 * with what this node's kube-proxy forwarded to each pod over the window; returns its stop.
 */
export function publishUsage(nc: NatsConnection, node: string, pods: () => RunningPod[], everyMs: number, traffic?: TrafficCounts): () => void {
  /** The readings of the last CPU_WINDOW_MAX_MS, oldest first. */
  let readings: UsageReading[] = [];
  let trafficBefore = new Map<string, { requests: number; connections: number }>();
  const tick = () => {
    const now: UsageReading = { at: Date.now(), containers: sampleContainers(pods()), machine: machineUsage() };
    const counts = traffic?.() ?? new Map();
    if (readings.length && !nc.isClosed()) {
      const usage = usageBetween(node, now, readings);
      if (traffic) usage.traffic = trafficBetween(counts, trafficBefore, usage.windowMs);
      nc.publish(metricsSubject(node), encode('node-metrics', { usage }));
    }
    readings = [...readings.filter((r) => r.at >= now.at - CPU_WINDOW_MAX_MS), now];
    trafficBefore = new Map([...counts].map(([id, c]) => [id, { requests: c.requests, connections: c.connections }]));
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
