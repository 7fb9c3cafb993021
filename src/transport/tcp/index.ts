export { connectTcp, listenTcp } from './connect.js';
export { TcpChannel } from './tcp-channel.js';
