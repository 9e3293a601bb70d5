export { ControllerManager, controllerManagerMetrics, type ControllerManagerDeps } from './manager.ts';
export type { ControllerConfig } from './context.ts';
export { stateMetrics } from './state-metrics.ts';
export { parseSdTargets, serviceDiscovery } from './discovery.ts';
