/**
 * The testbed's public surface: network namespaces as hosts, veth pairs as paths, tbf shaping,
 * MPTCP endpoints and bounded cross traffic. Everything here needs root.
 *
 * Layout (see types.ts for the picture): namespaces `lm-src` and `lm-dst` (or `lm-NAME-src/dst`),
 * path i = veth `lm-si` (10.77.i.1/24, in src) ⇄ `lm-di` (10.77.i.2/24, in dst).
 *
 * Shaping: tbf on both ends of every veth, `rate R burst max(32 KiB, R/8/250) latency 20ms`.
 * tbf counts whole frames, so TCP goodput over a path is ≈ 95.5 % of R (1448 payload bytes per
 * 1514-byte frame); measured here: 95.4 Mbit/s at 100mbit, 953-957 Mbit/s at 1gbit.
 *
 * Congestion control: every path's route carries `congctl cubic`, so every TCP connection and
 * every MPTCP subflow over a path uses cubic with no change to the transports. Setting the
 * namespace default (`sysctl net.ipv4.tcp_congestion_control=cubic`) fails with EPERM on this host
 * because cubic is not in the host's `tcp_allowed_congestion_control`, and widening that list would
 * change the host for everyone; the route metric needs no permission and is per namespace.
 * A transport may still setsockopt(TCP_CONGESTION) itself; that overrides the route's choice.
 *
 * MPTCP (the reference's "variant A"): the destination has a `signal` endpoint for each path
 * 1..K-1 and both sides have `limits subflow K-1 add_addr_accepted K-1`. An MPTCP connection from
 * lm-src to path 0's destination address (10.77.0.2) then opens one subflow per path. The listener
 * must listen on the wildcard address (0.0.0.0), or joins to the announced addresses find no socket.
 */
export type {
  CongestionHandle, CongestionOptions, CongestionRecord, CongestionResult, PathConfig, PathState, PathStatus,
  TestbedConfig, TestbedOptions, TestbedSide, TestbedStatus, TestbedUpResult,
} from './types.js';
export {
  DEFAULT_QUEUE_LATENCY_MS, DEFAULT_TESTBED_NAME, MAX_PATHS, burstBytesFor, formatRate, namespaceNames, parseRate,
  parseRateList, pathAddresses, resolveTestbedConfig,
} from './options.js';
export { requireRoot, resolveNamespace, runIn } from './exec.js';
export { listNamespaces, setPathState, testbedDown, testbedStatus, testbedUp } from './testbed.js';
export { CONGESTION_BASE_PORT, startCongestion } from './congestion.js';
export { stateDir, statePath } from './state.js';
