export { Scheduler, schedulerMetrics, feasibleTarget, SCHEDULER_NAME, type SchedulerDeps } from './scheduler.ts';
export { firstFailure, unschedulableMessage } from './filters.ts';
