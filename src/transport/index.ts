/** transport/: reliable message channels between the source and destination agents. */
export type {
  Channel, ChannelOptions, ChannelStats, ConnectOptions, Endpoint, Listener, MessageLength, PathStats,
  SendOptions, Transport, TransportName,
} from './types.js';
export {
  DEFAULT_CONNECT_RETRY_DELAY_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECEIVE_HIGH_WATER_BYTES, DEFAULT_SEND_HIGH_WATER_BYTES, resolveChannelOptions,
} from './options.js';
export { connectTcp, listenTcp } from './tcp/index.js';
export { createMemoryPair } from './memory/index.js';
export { createTransport, registerTransport, transportNames } from './registry.js';
export { MessageSplitter } from './message-splitter.js';
