/** transport/: reliable message channels between the source and destination agents. */
export type {
  Channel, ChannelOptions, ChannelStats, ConnectOptions, Endpoint, Listener, MessageLength, MptcpStats, PathStats,
  SendOptions, SubflowStats, Transport, TransportName,
} from './types.js';
export {
  DEFAULT_CONNECT_RETRY_DELAY_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECEIVE_HIGH_WATER_BYTES, DEFAULT_SEND_HIGH_WATER_BYTES, resolveChannelOptions,
} from './options.js';
export { connectTcp, listenTcp } from './tcp/index.js';
export {
  connectMptcp, DEFAULT_MPTCP_CONGESTION_CONTROL, listenMptcp,
  type MptcpChannelOptions, type MptcpConnectOptions, type MptcpOptions,
} from './mptcp/index.js';
export { createMemoryPair } from './memory/index.js';
export { createTransport, registerTransport, transportNames } from './registry.js';
export { MessageSplitter } from './message-splitter.js';
export {
  connectMultipath, listenMultipath, MultipathChannel, MultipathListener, createScheduler, SCHEDULER_NAMES,
  LeastQueuedScheduler, RoundRobinScheduler, WeightedScheduler,
} from './multipath/index.js';
export type {
  MultipathChannelOptions, MultipathChannelStats, MultipathConnectOptions, MultipathListenerStats, MultipathListenOptions,
  MultipathOrdering, MultipathPath, MultipathPathStats, Scheduler, SchedulerName, SubflowView,
} from './multipath/index.js';
export * from './auth/index.js';
export * from './tls/index.js';
