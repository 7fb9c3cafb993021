/**
 * Options of the mptcp transport: kernel MPTCP sockets (IPPROTO_MPTCP) under the same stream
 * channel as tcp. Channel options (messageLength, high-water marks, idle timeout) are tcp's.
 */
import type { ChannelOptions, ConnectOptions } from '../types.js';

/** What an mptcp channel adds to the channel options; they apply to connect and listen alike. */
export interface MptcpOptions {
  /**
   * Fail instead of carrying on when the connection falls back to plain TCP (the peer or a
   * middlebox does not speak MPTCP): connect rejects, and a listener's accept() rejects for that
   * connection, with LIVEMIG_E_MPTCP_FALLBACK. Without it a fallback is reported, never hidden, in
   * `stats().fallback`. @default false
   */
  requireMptcp?: boolean;
  /**
   * TCP congestion control set on the MPTCP socket, which the kernel applies to every subflow
   * (later ones too); null keeps the system default (net.ipv4.tcp_congestion_control). cubic
   * because BBR loses heavily on shallow shaped queues (tbf). @default 'cubic'
   */
  congestionControl?: string | null;
}

/** Options of listenMptcp (and of every channel it accepts). */
export interface MptcpChannelOptions extends ChannelOptions, MptcpOptions {}

/** Options of connectMptcp. */
export interface MptcpConnectOptions extends ConnectOptions, MptcpOptions {}

/** MptcpOptions with defaults applied. */
export interface ResolvedMptcpOptions {
  requireMptcp: boolean;
  congestionControl: string | null;
}
