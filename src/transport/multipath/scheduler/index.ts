/** Multipath schedulers: injected strategies that choose the subflow for each message. */
import { LivemigError } from '../../../core/index.js';
import type { Scheduler, SchedulerName } from '../types.js';
import { LeastQueuedScheduler } from './least-queued.js';
import { RoundRobinScheduler } from './round-robin.js';
import { WeightedScheduler } from './weighted.js';

export const SCHEDULER_NAMES: readonly SchedulerName[] = ['round-robin', 'least-queued', 'weighted'];

/** A fresh scheduler of the given name (each channel needs its own: schedulers keep state). */
export function createScheduler(name: SchedulerName): Scheduler {
  switch (name) {
    case 'round-robin': return new RoundRobinScheduler();
    case 'least-queued': return new LeastQueuedScheduler();
    case 'weighted': return new WeightedScheduler();
    default:
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected scheduler to be one of ${SCHEDULER_NAMES.join(', ')}, got ${String(name)}`);
  }
}

export { LeastQueuedScheduler, RoundRobinScheduler, WeightedScheduler };
