export { ControllerManager, controllerManagerMetrics, type ControllerManagerDeps } from './manager.ts';
export type { ControllerConfig } from './context.ts';
