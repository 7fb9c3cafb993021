/**
 * Kernel MPTCP as a livemig transport. The socket is made through FFI (socket(..., IPPROTO_MPTCP),
 * non-blocking) and handed to node:net, whose libuv then connects, listens, accepts and moves the
 * bytes as for any TCP socket; the channel on top is tcp's own (TcpChannel), with the kernel's
 * MPTCP figures added to its stats.
 *
 *   connect: socket(262) -> new net.Socket({ fd }) -> socket.connect() (libuv: non-blocking connect)
 *   listen:  socket(262) -> bind() -> server.listen({ fd }) (libuv: listen, accept4)
 *
 * A connection that falls back to plain TCP is never hidden: stats().fallback says so, and
 * requireMptcp turns it into LIVEMIG_E_MPTCP_FALLBACK.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { LivemigError } from '../../core/index.js';
import { resolveChannelOptions, resolveConnectOptions } from '../options.js';
import {
  address, connectStream, listenFailed, listenStream, StreamListener, validateEndpoint, type StreamOptions,
} from '../tcp/connect.js';
import { TcpChannel } from '../tcp/tcp-channel.js';
import type { Channel, Endpoint, Listener } from '../types.js';
import { MptcpProbe } from './info.js';
import {
  AF_INET, AF_INET6, errnoError, loadLibc, openMptcpSocket, SO_REUSEADDR, SOL_SOCKET, SOL_TCP, TCP_CONGESTION, type Libc,
} from './libc.js';
import { encodeSockaddr, ipFamily, type IpAddress } from './sockaddr.js';
import type { MptcpChannelOptions, MptcpConnectOptions, MptcpOptions, ResolvedMptcpOptions } from './types.js';

/** Default congestion control of mptcp subflows. */
export const DEFAULT_MPTCP_CONGESTION_CONTROL = 'cubic';

/** Longest congestion control name the kernel takes (TCP_CA_NAME_MAX - 1). */
const MAX_CONGESTION_CONTROL_CHARS = 15;

function invalid(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_INVALID_OPTION', message, { phase: 'setup' });
}

/** Applies the mptcp defaults and validates them. */
export function resolveMptcpOptions(options: MptcpOptions = {}): ResolvedMptcpOptions {
  const { requireMptcp = false, congestionControl = DEFAULT_MPTCP_CONGESTION_CONTROL } = options;
  if (typeof requireMptcp !== 'boolean') {
    throw invalid(`Expected requireMptcp to be a boolean, got ${String(requireMptcp)}`);
  }
  if (congestionControl !== null
    && (typeof congestionControl !== 'string' || !/^[a-z0-9_]+$/i.test(congestionControl)
      || congestionControl.length > MAX_CONGESTION_CONTROL_CHARS)) {
    throw invalid(
      `Expected congestionControl to be a congestion control name such as 'cubic' (1 to ${MAX_CONGESTION_CONTROL_CHARS} `
      + `letters, digits or _) or null, got ${JSON.stringify(congestionControl)}`,
    );
  }
  return { requireMptcp, congestionControl };
}

/** The endpoint's host as an IP address (a name is looked up once, first answer). */
async function resolveHost(endpoint: Endpoint): Promise<IpAddress> {
  const family = ipFamily(endpoint.host);
  if (family !== 0) return { address: endpoint.host, family };
  const found = await lookup(endpoint.host);
  return { address: found.address, family: found.family === 6 ? 6 : 4 };
}

/** The interface index of a zoned IPv6 address ('fe80::1%eth0'), else 0. */
function scopeIdOf(libc: Libc, ip: IpAddress): number {
  const zone = ip.address.split('%')[1];
  if (zone === undefined) return 0;
  return /^\d+$/.test(zone) ? Number(zone) : libc.ifNameToIndex(zone);
}

/** Wraps a connected MPTCP (or fallen-back) socket; throws LIVEMIG_E_MPTCP_FALLBACK under requireMptcp. */
function wrap(libc: Libc, socket: net.Socket, resolved: StreamOptions, mptcp: ResolvedMptcpOptions, side: 'connect' | 'accept'): Channel {
  const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (side === 'accept' && mptcp.congestionControl !== null && typeof fd === 'number') {
    // The listener's setting may not reach an accepted connection; set it again (joins inherit it).
    const name = Buffer.from(mptcp.congestionControl, 'latin1');
    libc.setsockopt(fd, SOL_TCP, TCP_CONGESTION, name, name.length);
  }
  const probe = new MptcpProbe(libc, socket);
  if (probe.snapshot.fallback && mptcp.requireMptcp) {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.destroy();
    throw new LivemigError(
      'LIVEMIG_E_MPTCP_FALLBACK',
      `The connection ${side === 'connect' ? 'to' : 'from'} ${peer} fell back to plain TCP (the peer or a middlebox `
      + 'did not negotiate MPTCP) and requireMptcp is set; make the peer use the mptcp transport, check '
      + "`sysctl net.mptcp.enabled` on both hosts, or drop requireMptcp to accept a single TCP path",
    );
  }
  // Read the kernel once more while the socket is still open: at the end of each direction and before a reset.
  socket.on('end', () => probe.refresh());
  socket.on('finish', () => probe.refresh());
  return new TcpChannel(socket, resolved, {
    transport: 'mptcp',
    stats: (base) => {
      probe.refresh();
      return probe.apply(base);
    },
    beforeReset: () => probe.refresh(),
  });
}

/**
 * Opens an mptcp channel to `endpoint` (IPv4 or IPv6; a host name is looked up once). With
 * `connectTimeoutMs`, refused or unreachable connections are retried as connectTcp does.
 * Rejects with LIVEMIG_E_MPTCP_UNAVAILABLE when the kernel refuses MPTCP sockets,
 * LIVEMIG_E_MPTCP_FALLBACK when the connection fell back to TCP under `requireMptcp`, and
 * LIVEMIG_E_TRANSPORT_CONNECT when no attempt succeeds.
 */
export async function connectMptcp(endpoint: Endpoint, options: MptcpConnectOptions = {}): Promise<Channel> {
  validateEndpoint(endpoint);
  const resolved = resolveConnectOptions(options, true);
  const mptcp = resolveMptcpOptions(options);
  const libc = await loadLibc();
  let ip: IpAddress;
  try {
    ip = await resolveHost(endpoint);
  } catch (err) {
    throw new LivemigError(
      'LIVEMIG_E_TRANSPORT_CONNECT',
      `Could not connect to ${address(endpoint)}: the host name did not resolve (${(err as NodeJS.ErrnoException).code ?? 'unknown'}); check the name or give an IP address`,
      { cause: err },
    );
  }
  const family = ip.family === 6 ? AF_INET6 : AF_INET;
  return connectStream(endpoint, resolved, () => {
    const fd = openMptcpSocket(libc, family, mptcp.congestionControl);
    let socket: net.Socket;
    try {
      // manualStart: reading starts once connected (node does it on 'connect'), not on an unconnected fd.
      socket = new net.Socket({ fd, allowHalfOpen: true, manualStart: true } as net.SocketConstructorOpts);
    } catch (err) {
      libc.close(fd);
      throw err;
    }
    // connect() on a socket that already has a handle reuses it: libuv's non-blocking connect on our fd.
    return socket.connect({ host: ip.address, port: endpoint.port });
  }, (socket) => wrap(libc, socket, resolved as StreamOptions, mptcp, 'connect'));
}

/**
 * Listens on `endpoint` for mptcp channels (port 0 picks an ephemeral port; see `address`); plain
 * TCP clients are accepted too, as fallen-back channels, unless `requireMptcp`. For several paths,
 * listen on the wildcard address ('0.0.0.0' or '::'): a listener bound to one address never
 * completes the joins a peer sends to another announced address.
 * Rejects with LIVEMIG_E_MPTCP_UNAVAILABLE or LIVEMIG_E_TRANSPORT_LISTEN.
 */
export async function listenMptcp(endpoint: Endpoint, options: MptcpChannelOptions = {}): Promise<Listener> {
  validateEndpoint(endpoint);
  const resolved = resolveChannelOptions(options, true) as StreamOptions;
  const mptcp = resolveMptcpOptions(options);
  const libc = await loadLibc();
  let ip: IpAddress;
  try {
    ip = await resolveHost(endpoint);
  } catch (err) {
    throw listenFailed(endpoint, err as NodeJS.ErrnoException);
  }
  let fd: number;
  try {
    fd = openMptcpSocket(libc, ip.family === 6 ? AF_INET6 : AF_INET, mptcp.congestionControl);
  } catch (err) {
    throw err instanceof LivemigError ? err : listenFailed(endpoint, err as NodeJS.ErrnoException);
  }
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  // As node does for its own listeners: a restarted receiver may rebind at once.
  libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, one.length);
  const sockaddr = encodeSockaddr(ip, endpoint.port, scopeIdOf(libc, ip));
  if (libc.bind(fd, sockaddr, sockaddr.length) < 0) {
    const err = errnoError(libc.errno(), 'bind');
    libc.close(fd);
    throw listenFailed(endpoint, err);
  }
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  // Node's listen() on the bound fd; on failure node closes the handle, and so the fd.
  await listenStream(endpoint, server, (done) => server.listen({ fd }, done));
  return new StreamListener(server, (socket) => wrap(libc, socket, resolved, mptcp, 'accept'), { keepOpenForJoins: true });
}
