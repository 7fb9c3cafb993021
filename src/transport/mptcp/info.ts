/**
 * Reading an MPTCP connection's figures from the kernel (uapi linux/mptcp.h, layouts of Linux 6.18):
 *
 *   MPTCP_INFO (SOL_MPTCP 284, 1) -> struct mptcp_info, 96 B:
 *     u8 subflows@0 (additional ones) | add_addr_accepted@2 | subflows_max@3 | u32 flags@8 (bit0 FALLBACK)
 *     u32 retransmits@44 | u64 bytes_retrans@48, bytes_sent@56, bytes_received@64, bytes_acked@72
 *     u8 subflows_total@80 (initial included; 0 on kernels before 6.10)
 *   MPTCP_TCPINFO (2), MPTCP_SUBFLOW_ADDRS (3) -> in/out header, then one record per subflow:
 *     struct mptcp_subflow_data { u32 size_subflow_data = 16, num_subflows, size_kernel, size_user }
 *     records of size_user bytes: struct tcp_info / struct mptcp_subflow_addrs (2 x sockaddr_storage)
 *
 * A socket that fell back to TCP answers MPTCP_INFO with EOPNOTSUPP (or sets FALLBACK) and
 * TCP_IS_MPTCP with 0; its one path is then read with plain TCP_INFO.
 */
import type { Socket } from 'node:net';
import type { ChannelStats, MptcpStats, PathStats, SubflowStats } from '../types.js';
import {
  getsockopt, MPTCP_INFO, MPTCP_SUBFLOW_ADDRS, MPTCP_TCPINFO, SOL_MPTCP, SOL_TCP, TCP_CONGESTION, TCP_INFO,
  TCP_IS_MPTCP, type Libc,
} from './libc.js';
import { decodeSockaddr } from './sockaddr.js';

const MPTCP_INFO_BYTES = 96;
const MPTCP_INFO_FLAG_FALLBACK = 1;
const SUBFLOW_DATA_HEADER_BYTES = 16;
/** struct tcp_info on 6.18 is 280 B; every field read here lies in the first 216. */
const TCP_INFO_BYTES = 280;
const SUBFLOW_ADDRS_BYTES = 256;
const EOPNOTSUPP = 95;
/** tcpi_state of a closed socket: the kernel has zeroed its counters and addresses, nothing to learn. */
const TCP_CLOSE = 7;

/** One subflow: its label (local->remote) and the kernel's figures. */
export interface SubflowSnapshot {
  label: string;
  stats: SubflowStats;
}

/** What the kernel said about a connection at one moment. */
export interface MptcpSnapshot {
  fallback: boolean;
  /** Connection-level figures; undefined after a fallback. */
  mptcp: MptcpStats | undefined;
  subflows: SubflowSnapshot[];
}

function u64(b: Buffer, at: number): number {
  return Number(b.readBigUInt64LE(at));
}

/** struct tcp_info -> SubflowStats; fields beyond `length` (an older kernel) read as 0. */
function decodeTcpInfo(b: Buffer, at: number, length: number): SubflowStats {
  const u32f = (off: number): number => (off + 4 <= length ? b.readUInt32LE(at + off) : 0);
  const u64f = (off: number): number => (off + 8 <= length ? u64(b, at + off) : 0);
  return {
    bytesSent: u64f(200),
    bytesAcked: u64f(120),
    bytesReceived: u64f(128),
    bytesRetransmitted: u64f(208),
    retransmits: u32f(100),
    rttUs: u32f(68),
    rttVarUs: u32f(72),
    cwndSegments: u32f(80),
  };
}

/**
 * Reads one of the per-subflow arrays: the header is filled in, the kernel answers with the count
 * and its record size; a buffer too small for every subflow is grown once.
 */
function readSubflowArray(libc: Libc, fd: number, name: number, recordBytes: number): { buf: Buffer; count: number; size: number } | undefined {
  let capacity = 4;
  for (let pass = 0; pass < 2; pass++) {
    const buf = Buffer.alloc(SUBFLOW_DATA_HEADER_BYTES + capacity * recordBytes);
    buf.writeUInt32LE(SUBFLOW_DATA_HEADER_BYTES, 0);
    buf.writeUInt32LE(recordBytes, 12);
    if (getsockopt(libc, fd, SOL_MPTCP, name, buf) < 0) return undefined;
    const total = buf.readUInt32LE(4);
    const size = buf.readUInt32LE(12);
    if (total <= capacity || pass === 1) return { buf, count: Math.min(total, capacity), size };
    capacity = total;
  }
  return undefined;
}

function congestionControlOf(libc: Libc, fd: number): string {
  const buf = Buffer.alloc(16);
  const n = getsockopt(libc, fd, SOL_TCP, TCP_CONGESTION, buf);
  if (n <= 0) return '';
  const end = buf.indexOf(0);
  return buf.toString('latin1', 0, end < 0 || end > n ? n : end);
}

/** Reads a connected socket's figures; `fallbackLabel` names the single path of a fallen-back socket. */
export function readSnapshot(libc: Libc, fd: number, fallbackLabel: string): MptcpSnapshot {
  const info = Buffer.alloc(MPTCP_INFO_BYTES);
  const infoBytes = getsockopt(libc, fd, SOL_MPTCP, MPTCP_INFO, info);
  const isMptcp = Buffer.alloc(4);
  const isMptcpBytes = getsockopt(libc, fd, SOL_TCP, TCP_IS_MPTCP, isMptcp);
  const fallback = infoBytes === -EOPNOTSUPP
    || (infoBytes >= 12 && (info.readUInt32LE(8) & MPTCP_INFO_FLAG_FALLBACK) !== 0)
    || (isMptcpBytes >= 4 && isMptcp.readInt32LE(0) === 0);
  if (fallback || infoBytes < 0) {
    const tcp = Buffer.alloc(TCP_INFO_BYTES);
    const n = getsockopt(libc, fd, SOL_TCP, TCP_INFO, tcp);
    const open = n > 0 && tcp[0] !== TCP_CLOSE;
    return { fallback, mptcp: undefined, subflows: open ? [{ label: fallbackLabel, stats: decodeTcpInfo(tcp, 0, n) }] : [] };
  }
  const at = (off: number, width: 1 | 4 | 8): number => {
    if (off + width > infoBytes) return 0;
    return width === 1 ? info[off] : width === 4 ? info.readUInt32LE(off) : u64(info, off);
  };
  const subflows: SubflowSnapshot[] = [];
  const tcp = readSubflowArray(libc, fd, MPTCP_TCPINFO, TCP_INFO_BYTES);
  const addrs = readSubflowArray(libc, fd, MPTCP_SUBFLOW_ADDRS, SUBFLOW_ADDRS_BYTES);
  if (tcp !== undefined) {
    for (let i = 0; i < tcp.count; i++) {
      const rec = SUBFLOW_DATA_HEADER_BYTES + i * tcp.size;
      if (tcp.buf[rec] === TCP_CLOSE) continue;
      // Both arrays walk the same subflow list; a subflow added between the two reads shifts nothing before it.
      const label = addrs !== undefined && i < addrs.count && addrs.size >= SUBFLOW_ADDRS_BYTES
        ? `${decodeSockaddr(addrs.buf, SUBFLOW_DATA_HEADER_BYTES + i * addrs.size)}->${decodeSockaddr(addrs.buf, SUBFLOW_DATA_HEADER_BYTES + i * addrs.size + 128)}`
        : `subflow-${i}`;
      subflows.push({ label, stats: decodeTcpInfo(tcp.buf, rec, Math.min(tcp.size, TCP_INFO_BYTES)) });
    }
  }
  const total = at(80, 1);
  return {
    fallback: false,
    mptcp: {
      // subflows_total is 0 before Linux 6.10: the additional ones plus the initial one then.
      subflows: total > 0 ? total : at(0, 1) + 1,
      subflowsMax: at(3, 1),
      addAddrAccepted: at(2, 1),
      bytesSent: at(56, 8),
      bytesReceived: at(64, 8),
      bytesAcked: at(72, 8),
      bytesRetransmitted: at(48, 8),
      retransmits: at(44, 4),
      congestionControl: congestionControlOf(libc, fd),
    },
    subflows,
  };
}

/**
 * Splits `total` over `weights` in proportion, in whole units that add up to `total` exactly
 * (largest remainder); all-zero weights give everything to the first.
 */
export function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (weights.length === 0) return [];
  if (sum <= 0) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((s, x) => s + x, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((p, q) => q[0] - p[0]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

/**
 * The kernel's view of one channel's socket, kept across its close: read while the socket is open
 * (on stats(), on end/finish, before a reset), the last reading answers once it is gone.
 */
export class MptcpProbe {
  readonly #libc: Libc;
  readonly #socket: Socket;
  readonly #label: string;
  #last: MptcpSnapshot;
  readonly #subflows = new Map<string, SubflowSnapshot>();

  constructor(libc: Libc, socket: Socket) {
    this.#libc = libc;
    this.#socket = socket;
    this.#label = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}->${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#last = { fallback: false, mptcp: undefined, subflows: [] };
    this.refresh();
  }

  /** The most recent reading. */
  get snapshot(): MptcpSnapshot {
    return this.#last;
  }

  /** Reads the kernel again if the socket is still open. */
  refresh(): void {
    // A closed socket's fd number may already belong to another socket: read only through a live handle.
    const fd = (this.#socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    if (this.#socket.destroyed || typeof fd !== 'number' || fd < 0) return;
    const next = readSnapshot(this.#libc, fd, this.#label);
    // A fallback is never undone; keep reporting it even if a later read is incomplete.
    if (this.#last.fallback) next.fallback = true;
    // The kernel drops subflows as they close (at the end, most but one go first): keep the last
    // figures of every subflow ever seen, so the bytes a closed one carried stay counted.
    for (const s of next.subflows) this.#subflows.set(s.label, s);
    next.subflows = [...this.#subflows.values()];
    this.#last = next;
  }

  /**
   * The channel's figures with the kernel's added: `fallback`, `mptcp`, and one path per subflow
   * (closed ones included) carrying the message bytes split in proportion to the subflow's unique bytes sent and received.
   */
  apply(base: ChannelStats): ChannelStats {
    const snap = this.#last;
    const result: ChannelStats = { ...base, fallback: snap.fallback };
    if (snap.mptcp !== undefined) result.mptcp = snap.mptcp;
    if (snap.subflows.length === 0) return result;
    const sent = apportion(base.bytesSent, snap.subflows.map((s) => Math.max(0, s.stats.bytesSent - s.stats.bytesRetransmitted)));
    const received = apportion(base.bytesReceived, snap.subflows.map((s) => s.stats.bytesReceived));
    result.paths = snap.subflows.map((s, i): PathStats => ({
      label: s.label, bytesSent: sent[i], bytesReceived: received[i], subflow: s.stats,
    }));
    return result;
  }
}
