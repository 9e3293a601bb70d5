// The metrics pipeline without Prometheus, as metrics-server provides it: each kubelet publishes
// what its node and pods use every METRICS_PUBLISH_MS on metricsSubject(node); the apiservers keep
// the latest sample of each node and answer `nodemetrics` and `podmetrics` lists (skiff top, and
// the autoscaler). CPU is a rate over a recent window: the node's since the kubelet's previous
// sample, a container's over the shortest window precise enough (up to 5 s; pod-metrics.ts).

export interface ContainerUsage {
  name: string;
  /** CPU over the window, in cores (0.25 = a quarter of a core). */
  cpuCores: number;
  memoryBytes: number;
}

export interface PodUsage {
  namespace: string;
  name: string;
  containers: ContainerUsage[];
  /**
   * How long a window its CPU figures are over, when not the sample's: a kubelet takes a quiet
   * container's over up to 5 s, for precision (actors/kubelet/pod-metrics.ts).
   */
  windowMs?: number;
}

/**
 * What one node's kube-proxy forwarded to a pod over a sample's window: requests (HTTP/1.x
 * request lines that begin a read; a connection that is not HTTP counts as one request), new
 * connections, and the connections open at the sample. Userspace mode only: the kernel's
 * nftables DNAT counts nothing.
 */
export interface PodTraffic {
  namespace: string;
  name: string;
  requestsPerSecond: number;
  connectionsPerSecond: number;
  activeConnections: number;
}

/** One kubelet's sample. */
export interface NodeUsage {
  node: string;
  /** When the sample was taken (ms since the epoch), and over how long its CPU rates are. */
  timestamp: number;
  windowMs: number;
  cpuCores: number;
  memoryBytes: number;
  pods: PodUsage[];
  /** What this node's kube-proxy forwarded to pods, wherever they run. */
  traffic?: PodTraffic[];
}

/** The resources answered from the apiservers' window, as metrics.k8s.io's NodeMetrics and PodMetrics (not stored kinds). */
export const NODE_METRICS_RESOURCE = 'nodemetrics';
export const POD_METRICS_RESOURCE = 'podmetrics';
