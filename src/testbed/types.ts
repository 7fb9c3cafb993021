/**
 * The testbed: two network namespaces stand in for the source and destination hosts, joined by
 * K veth pairs (one per path), each shaped with tbf on both directions, with kernel MPTCP set up so
 * that one MPTCP connection opens one subflow per path.
 *
 * ```
 *   lm-src                                         lm-dst
 *   ┌──────────────────────┐   path 0 (tbf ⇄ tbf)  ┌──────────────────────┐
 *   │ lm-s0  10.77.0.1/24  │═══════════════════════│ lm-d0  10.77.0.2/24  │  MPTCP listener: connect here
 *   │ lm-s1  10.77.1.1/24  │═══════════════════════│ lm-d1  10.77.1.2/24  │  `signal` endpoint (announced)
 *   │  ...                 │         ...           │  ...                 │
 *   └──────────────────────┘                       └──────────────────────┘
 * ```
 *
 * Addressing: path i uses 10.77.i.0/24, the source side 10.77.i.1 and the destination side
 * 10.77.i.2. The addresses exist only inside the two namespaces (the host never routes to them).
 */

/** Which end of the testbed: the source host (`lm-src`) or the destination host (`lm-dst`). */
export type TestbedSide = 'src' | 'dst';

/** Administrative state of a path, as `ip link set up|down` sets it on the source-side veth. */
export type PathState = 'up' | 'down';

/** What a caller asks for; `resolveTestbedConfig` turns it into a full `TestbedConfig`. */
export interface TestbedOptions {
  /**
   * Testbed name, so that several testbeds can coexist. `default` gives the namespaces `lm-src` and
   * `lm-dst`; any other name N gives `lm-N-src` and `lm-N-dst`. Lowercase letters and digits, 1-12.
   * @default 'default'
   */
  name?: string;
  /** Number of paths (veth pairs), 1 to 8 (the kernel's MPTCP limit is 8 subflows). @default 2 */
  paths?: number;
  /**
   * Shaped rate of each path in bits per second: one number for every path, or one per path.
   * @default 1e9 (1 gbit)
   */
  rateBitsPerSec?: number | readonly number[];
  /**
   * How long a full tbf queue takes to drain, in milliseconds (tbf's `latency`, which sets its
   * byte limit). The reference's measured recipe used 20 ms.
   * @default 20
   */
  queueLatencyMs?: number;
}

/** One shaped path, fully resolved. */
export interface PathConfig {
  /** 0-based path number. */
  index: number;
  /** tbf rate in bits per second, on both directions. */
  rateBitsPerSec: number;
  /** tbf bucket size in bytes (see `burstBytesFor`). */
  burstBytes: number;
  /** Interface name inside the source namespace, e.g. `lm-s0`. */
  srcDev: string;
  /** Interface name inside the destination namespace, e.g. `lm-d0`. */
  dstDev: string;
  /** Source-side address, e.g. `10.77.0.1`. */
  srcAddr: string;
  /** Destination-side address, e.g. `10.77.0.2`. */
  dstAddr: string;
  /** The path's network, e.g. `10.77.0.0/24`. */
  prefix: string;
}

/** A testbed's whole configuration, as persisted in its state file. */
export interface TestbedConfig {
  name: string;
  /** Source namespace, e.g. `lm-src`. */
  srcNs: string;
  /** Destination namespace, e.g. `lm-dst`. */
  dstNs: string;
  /** tbf queue latency in milliseconds. */
  queueLatencyMs: number;
  /** Congestion control set per route (`congctl`) for every path; see README in index.ts. */
  congestionControl: 'cubic';
  paths: PathConfig[];
}

/** What `testbedUp` did. */
export interface TestbedUpResult {
  config: TestbedConfig;
  /** false when an identical testbed already existed and nothing was touched. */
  changed: boolean;
}

/** One path as seen by `testbedStatus`. */
export interface PathStatus {
  index: number;
  srcAddr: string;
  dstAddr: string;
  srcDev: string;
  dstDev: string;
  /** Configured rate in bits per second. */
  rateBitsPerSec: number;
  /** Rate the kernel's tbf on the source side reports, in bits per second (null when missing). */
  shapedSrcBitsPerSec: number | null;
  /** Rate the kernel's tbf on the destination side reports, in bits per second (null when missing). */
  shapedDstBitsPerSec: number | null;
  /** Source-side link: administratively up (`up`) or down. */
  state: PathState;
  /** Source-side link has carrier (both ends up). */
  lowerUp: boolean;
  /** Bytes the source-side tbf has sent since the path was made. */
  txBytes: number;
  /** Packets the source-side tbf dropped. */
  drops: number;
  /** Source → destination throughput over the sample window in bits per second, when sampled. */
  sampledTxBitsPerSec?: number;
}

/** A background cross-traffic flow, as recorded in the state file. */
export interface CongestionRecord {
  path: number;
  /** Process ids of the receiver (in dst) and sender (in src). */
  pids: number[];
  /** Wall-clock time (ms since the epoch) by which the flow will have stopped by itself. */
  untilMs: number;
}

/** What `testbedStatus` reports. */
export interface TestbedStatus {
  /** true when the state file exists and both namespaces are present. */
  up: boolean;
  /** The persisted configuration, or null when no testbed of that name exists. */
  config: TestbedConfig | null;
  paths: PathStatus[];
  /** MPTCP endpoints in the destination namespace (as `ip mptcp endpoint show` prints them). */
  mptcpEndpoints: string[];
  /** Cross-traffic flows still running. */
  congestion: CongestionRecord[];
  /** Problems found (a missing namespace, a missing qdisc, ...). */
  problems: string[];
}

/** Options of `startCongestion`. */
export interface CongestionOptions {
  /** Testbed name. @default 'default' */
  name?: string;
  /** Path to load (0-based). */
  path: number;
  /**
   * Sending rate in bits per second; `null` sends as fast as TCP allows (as `iperf -b 0`).
   * @default null
   */
  rateBitsPerSec?: number | null;
  /** Duration in seconds; both processes stop by themselves after it. */
  seconds: number;
  /** TCP port the receiver listens on, on the path's destination address. @default 5201 + path */
  port?: number;
  /**
   * Detach the processes (they outlive the caller and are recorded in the state file so that
   * `testbedDown` ends them). When false they are children of the caller.
   * @default false
   */
  background?: boolean;
}

/** What the receiver measured; `null` fields when a background flow was not awaited. */
export interface CongestionResult {
  path: number;
  /** Bytes that arrived at the receiver. */
  bytes: number;
  /** Seconds from the first to the last byte. */
  seconds: number;
  /** Receiver goodput in bits per second. */
  bitsPerSec: number;
}

/** A running cross-traffic flow. */
export interface CongestionHandle {
  path: number;
  pids: number[];
  /**
   * Resolves with the receiver's measurement when the flow ends (never for background flows,
   * whose output is discarded: it resolves with null when they have exited).
   */
  done: Promise<CongestionResult | null>;
  /** Ends the flow early (SIGTERM to both processes). */
  stop(): Promise<void>;
}
