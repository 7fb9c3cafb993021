/**
 * Channels: reliable, message-oriented connections between a source and a destination agent.
 * A message is one wire frame; a channel never splits or merges messages.
 */

export type TransportName = 'tcp' | 'memory' | 'mptcp' | 'multipath';

/**
 * Finds the length of the first message in a byte buffer: the total byte length when the header is
 * complete, or null when more bytes are needed. Throws (a LivemigError) on a malformed header. Stream
 * transports use it to split their byte stream; livemig passes the wire format's frame check.
 */
export type MessageLength = (buffered: Uint8Array) => number | null;

export interface PathStats {
  /** A label for the path or subflow, e.g. '10.1.0.1->10.1.0.2' or 'subflow-0'. */
  label: string;
  /** Message bytes attributed to this path (the paths' figures add up to the channel's). */
  bytesSent: number;
  bytesReceived: number;
  /** The kernel's own figures for this path's TCP subflow, where the transport can read them (mptcp). */
  subflow?: SubflowStats;
}

/** One TCP subflow as the kernel reports it (struct tcp_info). */
export interface SubflowStats {
  /** TCP payload bytes sent, retransmissions included (tcpi_bytes_sent). */
  bytesSent: number;
  /** TCP payload bytes acknowledged by the peer (tcpi_bytes_acked). */
  bytesAcked: number;
  /** TCP payload bytes received (tcpi_bytes_received). */
  bytesReceived: number;
  /** TCP payload bytes retransmitted (tcpi_bytes_retrans). */
  bytesRetransmitted: number;
  /** Segments retransmitted over the subflow's life (tcpi_total_retrans). */
  retransmits: number;
  /** Smoothed round-trip time, in microseconds (tcpi_rtt). */
  rttUs: number;
  /** Round-trip time variation, in microseconds (tcpi_rttvar). */
  rttVarUs: number;
  /** Congestion window, in segments (tcpi_snd_cwnd). */
  cwndSegments: number;
}

/** Connection-level figures of a kernel MPTCP connection (struct mptcp_info). */
export interface MptcpStats {
  /**
   * Subflows open at the last reading, the initial one included (mptcpi_subflows_total). The kernel
   * closes them one by one at the end, so read it mid-transfer; `paths` keeps every subflow seen.
   */
  subflows: number;
  /** Most additional subflows the path manager allows (mptcpi_subflows_max). */
  subflowsMax: number;
  /** Addresses the peer announced and we accepted (mptcpi_add_addr_accepted). */
  addAddrAccepted: number;
  /** MPTCP-level bytes sent, reinjections included (mptcpi_bytes_sent). */
  bytesSent: number;
  /** MPTCP-level bytes received (mptcpi_bytes_received). */
  bytesReceived: number;
  /** MPTCP-level bytes acknowledged (mptcpi_bytes_acked). */
  bytesAcked: number;
  /** MPTCP-level bytes retransmitted (reinjected) (mptcpi_bytes_retrans). */
  bytesRetransmitted: number;
  /** MPTCP-level retransmissions (mptcpi_retransmits). */
  retransmits: number;
  /** Congestion control the subflows run, e.g. 'cubic'. */
  congestionControl: string;
}

export interface ChannelStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  paths: PathStats[];
  /**
   * mptcp only: true when the connection fell back to plain TCP (the peer or a middlebox did not
   * speak MPTCP), so it has one path whatever the path manager says. Absent on other transports.
   */
  fallback?: boolean;
  /** mptcp only: connection-level MPTCP figures; absent when the connection fell back. */
  mptcp?: MptcpStats;
}

export interface ChannelOptions {
  /** Splits a byte stream into messages (stream transports need it). */
  messageLength?: MessageLength;
  /** Largest message accepted, in bytes; larger ones abort the channel. @default 16777216 */
  maxMessageBytes?: number;
  /** Bytes queued for sending beyond which send() waits. @default 4194304 */
  sendHighWaterBytes?: number;
  /** Bytes received but not yet consumed beyond which reading from the peer stops. @default 4194304 */
  receiveHighWaterBytes?: number;
  /** Idle time after which a silent peer is an error, in ms; 0 disables. @default 30000 */
  idleTimeoutMs?: number;
}

/** Options for opening a channel to a listening peer. */
export interface ConnectOptions extends ChannelOptions {
  /**
   * How long to keep retrying a refused or unreachable connection, in ms, because the receiving
   * process may start a moment after the sender; 0 makes a single attempt. @default 0
   */
  connectTimeoutMs?: number;
  /** Pause between connection attempts, in ms. @default 100 */
  connectRetryDelayMs?: number;
}

/**
 * A transport: how channels are opened between two agents. `createTransport(name)` returns one;
 * new transports (mptcp, multipath) plug in by registering a factory.
 */
export interface Transport {
  readonly name: TransportName;
  /** Opens a channel to a peer listening on `endpoint`. */
  connect(endpoint: Endpoint, options?: ConnectOptions): Promise<Channel>;
  /** Listens on `endpoint` (port 0 picks an ephemeral port) for incoming channels. */
  listen(endpoint: Endpoint, options?: ChannelOptions): Promise<Listener>;
}

/**
 * A reliable, ordered, message-oriented channel. Iterating it yields the received messages; the loop
 * ends after the last message once the peer has closed its sending side, and throws a LivemigError
 * when the channel breaks. Leaving a loop early (break) keeps the channel open: the next loop
 * continues with the next message. One consumer at a time.
 */
/** Per-message delivery hints. */
export interface SendOptions {
  /**
   * A barrier is delivered after every message sent before it and before every message sent after
   * it. Between barriers a multipath channel may deliver in any order (so one slow path does not
   * hold up the others); ordered transports (tcp, mptcp) deliver everything in order anyway.
   * livemig marks round boundaries as barriers. @default false
   */
  barrier?: boolean;
  /**
   * Called once the transport holds no reference to the message any more (written to the kernel),
   * so the sender may reuse its buffer. Transports that cannot tell (or keep it for retransmission,
   * or hand it to the peer as is) never call it. Not called when the channel fails.
   */
  onSent?: () => void;
}

export interface Channel extends AsyncIterable<Uint8Array> {
  readonly transport: TransportName;
  /**
   * Queues one message. Resolves once it is accepted below the high-water mark (backpressure), so a
   * slow receiver slows the sender. The channel owns `message` afterwards: do not modify it.
   * Rejects with a LivemigError if the channel is closed or broken.
   */
  send(message: Uint8Array, options?: SendOptions): Promise<void>;
  /** Flushes what is queued, then closes the sending side. */
  close(): Promise<void>;
  /** Tears the channel down at once; pending and future operations fail with `err`. */
  destroy(err?: Error): void;
  stats(): ChannelStats;
}

export interface Listener {
  /** The address actually bound, e.g. { host: '127.0.0.1', port: 40123 }. */
  readonly address: { host: string; port: number };
  /** Waits for the next incoming channel. */
  accept(): Promise<Channel>;
  close(): Promise<void>;
}

export interface Endpoint {
  host: string;
  port: number;
}
