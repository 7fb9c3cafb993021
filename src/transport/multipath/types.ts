/**
 * multipath/: livemig's own multipath channel over several TCP subflows — options, stats and the
 * scheduler strategy interface.
 */
import type { Socket } from 'node:net';
import type { ChannelOptions, ChannelStats, ConnectOptions, Endpoint, PathStats } from '../types.js';

/** Delivery order of a multipath channel. */
export type MultipathOrdering = 'strict' | 'barrier';

/** What a scheduler sees of one subflow that can take a message now. */
export interface SubflowView {
  /** Slot number of the subflow (stable across rejoins), from 0. */
  readonly id: number;
  readonly label: string;
  /**
   * Bytes sent on this subflow and not yet acknowledged, plus those still in its write queue, in
   * bytes (the analogue of the kernel's sk_wmem_queued).
   */
  readonly queuedBytes: number;
  /** Measured rate at which the kernel takes this subflow's bytes, in bytes/s; 0 until measured. */
  readonly rateBytesPerSec: number;
  /** Payload bytes scheduled on this subflow so far (first transmissions and retransmissions). */
  readonly scheduledBytes: number;
}

/**
 * A multipath scheduler (injected strategy, as p-queue's queue class): chooses the subflow for the
 * next message among those that have room in their write queue. One instance per channel.
 */
export interface Scheduler {
  readonly name: string;
  /** Returns one element of `subflows` (never empty). */
  pick(subflows: readonly SubflowView[], messageBytes: number): SubflowView;
}

export type SchedulerName = 'round-robin' | 'least-queued' | 'weighted';

/** Options shared by both ends of a multipath channel. */
export interface MultipathChannelOptions extends ChannelOptions {
  /** Delivery order: 'strict' (by data sequence number) or 'barrier' (any order between barriers). @default 'barrier' */
  ordering?: MultipathOrdering;
  /** Scheduler by name, or a factory returning a fresh instance per channel. @default 'least-queued' */
  scheduler?: SchedulerName | (() => Scheduler);
  /** Pre-shared key mixed into the session key; both ends must hold the same one. @default none */
  key?: Uint8Array;
  /** Bytes a subflow may hold in its userland write queue before the scheduler skips it. @default 262144 */
  subflowWriteHighWaterBytes?: number;
  /** How long the channel survives with no subflow up, waiting for a rejoin, in ms. @default 5000 */
  rejoinTimeoutMs?: number;
  /** Time allowed for a subflow's handshake, in ms. @default 5000 */
  handshakeTimeoutMs?: number;
  /**
   * Kernel TCP_USER_TIMEOUT per subflow, in ms: a subflow whose sent data stays unacknowledged this
   * long is declared dead (so its messages move to the others); 0 leaves the kernel default. @default 5000
   */
  subflowTimeoutMs?: number;
  /**
   * Re-sends the oldest unacknowledged message on another subflow when the send window is full and it
   * has waited this long, in ms (MPTCP's opportunistic retransmission); 0 disables. @default 200
   */
  reinjectAfterMs?: number;
  /** Congestion control set on every subflow (TCP_CONGESTION, via koffi); '' leaves the system default. @default 'cubic' */
  congestionControl?: string;
  /** Called with every subflow socket once its handshake is done (instrumentation and tests). @default none */
  onSubflow?: (info: { socket: Socket; slot: number; side: 'connect' | 'listen' }) => void;
}

/** One path of a connector: an optional local address to bind and the remote endpoint. */
export interface MultipathPath {
  /** Local address to bind the subflow to, e.g. '10.1.1.1'. @default the OS's choice */
  local?: string;
  remote: Endpoint;
}

export interface MultipathConnectOptions extends MultipathChannelOptions, ConnectOptions {
  /** The paths, one subflow (or `subflows`) each; the first one creates the session. Or give `remote`. */
  paths?: MultipathPath[];
  /** Single remote endpoint, used when `paths` is not given. */
  remote?: Endpoint;
  /** Subflows per path. @default 1 */
  subflows?: number;
  /** Pause between attempts to rejoin a dead subflow, in ms. @default 500 */
  rejoinIntervalMs?: number;
}

export interface MultipathListenOptions extends MultipathChannelOptions {
  /** Address(es) to listen on; port 0 picks an ephemeral port (per address). */
  local: Endpoint | Endpoint[];
}

export interface MultipathPathStats extends PathStats {
  /** Payload bytes sent again on this subflow (after another died, or reinjected). */
  retransmittedBytes: number;
  state: 'up' | 'down';
  /** Measured send rate, in bytes/s. */
  rateBytesPerSec: number;
  messagesSent: number;
  /** Payload bytes sent here and not yet acknowledged. */
  inflightBytes: number;
}

export interface MultipathChannelStats extends ChannelStats {
  paths: MultipathPathStats[];
  retransmittedBytes: number;
  retransmittedMessages: number;
  /** Received copies dropped because their data sequence number was already seen. */
  duplicatesDropped: number;
  /** Subflows that came back after dying. */
  rejoins: number;
  subflowsUp: number;
}

export interface MultipathListenerStats {
  /** Sessions created (first subflows that authenticated). */
  sessions: number;
  /** Subflows that joined an existing session. */
  joins: number;
  /** Joins refused: unknown token, wrong proof, malformed or timed-out handshake. */
  refusedJoins: number;
  /** Session creations refused (wrong pre-shared key, malformed or timed-out handshake). */
  refusedSessions: number;
}
