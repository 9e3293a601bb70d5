export { KubeProxy, backendsFor, balancerOptions, LOAD_BALANCING_ANNOTATION, PORTS_CONDITION, type KubeProxyDeps } from './kube-proxy.ts';
export { kubeProxyMachine } from './kube-proxy.machine.ts';
export { Balancer, type Backend, type Policy } from './balancer.ts';
export { Proxy } from './proxy.ts';
export { checkProxyMode, nftablesFor } from './nftables.ts';
