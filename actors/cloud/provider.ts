// The cloud provider interface: what the cloud controller manager asks of the machines a cluster
// runs on, shaped on Kubernetes' cloud-provider (k8s.io/cloud-provider): InstancesV2
// (InstanceExists, InstanceShutdown, InstanceMetadata) and LoadBalancer (EnsureLoadBalancer,
// UpdateLoadBalancer, EnsureLoadBalancerDeleted), plus what cluster-autoscaler's node groups add:
// making and removing an instance from a template. A real cloud implements the same; skiff ships
// `local` (local/provider.ts), whose instances are node processes on this machine.
import type { LoadBalancerIngress, Node, NodeAddress, Service, Taint } from '../../protocol/types.ts';

/** What the provider says of the instance behind a node (Kubernetes' InstanceMetadata). */
export interface InstanceMetadata {
  /** `<provider>://<id>`: the node's spec.providerID. */
  providerID: string;
  /** node.kubernetes.io/instance-type */
  instanceType: string;
  /** topology.kubernetes.io/zone */
  zone: string;
  addresses: NodeAddress[];
}

/** An instance the provider made, as its own record has it. */
export interface Instance extends InstanceMetadata {
  /** The node's name: the provider names the node it starts. */
  name: string;
  /** The node pool it was made for. */
  pool: string;
  /** pending: made, its machine not yet running; running; shutdown: there but stopped. */
  state: 'pending' | 'running' | 'shutdown';
  createdAt: number;
}

/** What an instance is made from: a NodePool's template, with the pool's name. */
export interface InstanceTemplate {
  pool: string;
  labels: Record<string, string>;
  taints: Taint[];
  capacity: { cpu: string; memory: string };
}

export interface Instances {
  /** Whether the instance behind the node still exists (false: it is gone for good, and so should the Node be). */
  exists(node: Node): Promise<boolean>;
  /** Whether it exists but is shut down (stopped, not gone). */
  shutdown(node: Node): Promise<boolean>;
  metadata(node: Node): Promise<InstanceMetadata | undefined>;
  /** Makes an instance; its node registers itself, tainted uninitialized, once it runs. */
  create(template: InstanceTemplate): Promise<Instance>;
  /** Removes the instance (its node stops, its pods with it); nothing if there is none. */
  delete(name: string): Promise<void>;
  /** Every instance of this provider, those being made included. */
  list(): Promise<Instance[]>;
}

export interface LoadBalancers {
  /** Makes or updates the service's balancer over `nodes`; returns where it answers. */
  ensure(service: Service, nodes: Node[]): Promise<LoadBalancerIngress[]>;
  /** The nodes changed: the balancer spreads over these now. */
  update(service: Service, nodes: Node[]): Promise<void>;
  /** Removes the service's balancer; nothing if it has none. */
  ensureDeleted(service: Service): Promise<void>;
}

export interface CloudProvider {
  /** The scheme of its provider IDs: `skiff-local`. */
  readonly name: string;
  readonly instances: Instances;
  readonly loadBalancers: LoadBalancers;
  /**
   * This cloud controller manager no longer leads: let go of what it serves in this process (the
   * local provider's balancer listeners). Its instances and records stay, for the next leader.
   */
  release(): Promise<void>;
}

/** The provider whose ID a node carries: `skiff-local` of `skiff-local://pool-a-x7k2p`. */
export function providerOf(node: Node): string | undefined {
  const id = node.spec.providerID;
  const i = id?.indexOf('://') ?? -1;
  return i > 0 ? id!.slice(0, i) : undefined;
}

/** Taints and labels the cloud controller manager reads and writes, by their Kubernetes names. */
export const UNINITIALIZED_TAINT: Taint = { key: 'node.cloudprovider.kubernetes.io/uninitialized', value: 'true', effect: 'NoSchedule' };
export const SHUTDOWN_TAINT: Taint = { key: 'node.cloudprovider.kubernetes.io/shutdown', effect: 'NoSchedule' };
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';
/** Which NodePool a node belongs to. */
export const NODE_POOL_LABEL = 'skiff.io/nodepool';
export const LOAD_BALANCER_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';
