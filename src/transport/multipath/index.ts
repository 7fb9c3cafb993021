/** multipath/: livemig's own multipath channel over several TCP subflows. */
import { registerTransport } from '../registry.js';
import { connectMultipath } from './connect.js';
import { listenMultipath } from './listen.js';

export { connectMultipath } from './connect.js';
export { listenMultipath, MultipathListener } from './listen.js';
export { MultipathChannel } from './multipath-channel.js';
export { createScheduler, LeastQueuedScheduler, RoundRobinScheduler, SCHEDULER_NAMES, WeightedScheduler } from './scheduler/index.js';
export {
  DEFAULT_REINJECT_AFTER_MS, DEFAULT_REJOIN_INTERVAL_MS, DEFAULT_REJOIN_TIMEOUT_MS, DEFAULT_SUBFLOW_TIMEOUT_MS,
  DEFAULT_SUBFLOW_WRITE_HIGH_WATER_BYTES,
} from './options.js';
export type {
  MultipathChannelOptions, MultipathChannelStats, MultipathConnectOptions, MultipathListenerStats, MultipathListenOptions,
  MultipathOrdering, MultipathPath, MultipathPathStats, Scheduler, SchedulerName, SubflowView,
} from './types.js';

// `createTransport('multipath')`: connect(endpoint) opens options.subflows (default 1) subflows to it.
registerTransport('multipath', () => ({
  name: 'multipath',
  connect: (endpoint, options) => connectMultipath({ ...options, remote: endpoint }),
  listen: (endpoint, options) => listenMultipath({ ...options, local: endpoint }),
}));
