/** mptcp/: kernel MPTCP sockets as a livemig transport; registers itself as 'mptcp'. */
import { registerTransport } from '../registry.js';
import { connectMptcp, listenMptcp } from './connect.js';

export { connectMptcp, DEFAULT_MPTCP_CONGESTION_CONTROL, listenMptcp, resolveMptcpOptions } from './connect.js';
export type { MptcpChannelOptions, MptcpConnectOptions, MptcpOptions } from './types.js';

registerTransport('mptcp', () => ({ name: 'mptcp', connect: connectMptcp, listen: listenMptcp }));
