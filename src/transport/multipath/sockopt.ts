/**
 * Per-subflow socket options Node cannot set itself: TCP_CONGESTION (cubic on shaped paths, see
 * reference/mptcp.md §3/§8) and TCP_USER_TIMEOUT (dead-subflow detection), and TCP_INFO's
 * bytes_acked (each path's own delivery rate). Node's net has no setsockopt, so this calls libc's
 * through koffi (an FFI, loaded lazily); without koffi, or off Linux, the options are skipped and
 * the subflow runs with the system defaults.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;
const TCP_USER_TIMEOUT = 18;
const TCP_INFO = 11;
/** struct tcp_info: its size and field offsets on Linux ≥ 4.19 (checked with offsetof on 6.18). */
const TCP_INFO_BYTES = 232;
/** The byte whose lowest bit is tcpi_delivery_rate_app_limited. */
const TCPI_APP_LIMITED_BYTE = 7;
const TCPI_BYTES_ACKED = 120;
const TCPI_DELIVERY_RATE = 160;

type SetSockopt = (fd: number, level: number, name: number, value: Buffer, length: number) => number;
type GetSockopt = (fd: number, level: number, name: number, value: Buffer, length: Buffer) => number;

let libc: { setsockopt: SetSockopt; getsockopt: GetSockopt } | null | undefined;

function load(): typeof libc {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(lib: string): { func(signature: string): SetSockopt & GetSockopt };
    };
    const lib = koffi.load('libc.so.6');
    libc = {
      setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
      getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
    };
  } catch {
    libc = null;
  }
  return libc;
}

function fdOf(socket: Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

const infoBuf = Buffer.alloc(TCP_INFO_BYTES);
const infoLen = Buffer.alloc(4);

/** What the kernel knows of one TCP socket's delivery (TCP_INFO). */
export interface TcpDelivery {
  /** Bytes the peer has acknowledged on this socket. */
  bytesAcked: number;
  /** The kernel's latest delivery-rate sample, bytes/s (0 before the first). */
  deliveryRate: number;
  /** The sample was taken while the sender had too little data to fill the path: a lower bound. */
  appLimited: boolean;
}

/**
 * The socket's delivery figures from TCP_INFO, or null when they cannot be read. Per path, unlike
 * the channel's cumulative acknowledgement, which a slow path holds back for every subflow alike.
 */
export function tcpDelivery(socket: Socket): TcpDelivery | null {
  const fd = fdOf(socket);
  const lib = load();
  if (fd === null || lib == null) return null;
  infoLen.writeUInt32LE(TCP_INFO_BYTES);
  if (lib.getsockopt(fd, IPPROTO_TCP, TCP_INFO, infoBuf, infoLen) !== 0) return null;
  if (infoLen.readUInt32LE() < TCPI_DELIVERY_RATE + 8) return null;
  return {
    bytesAcked: Number(infoBuf.readBigUInt64LE(TCPI_BYTES_ACKED)),
    deliveryRate: Number(infoBuf.readBigUInt64LE(TCPI_DELIVERY_RATE)),
    appLimited: (infoBuf[TCPI_APP_LIMITED_BYTE] & 1) === 1,
  };
}

/** Bytes the peer's TCP has acknowledged on this socket, or null (see tcpDelivery). */
export function tcpBytesAcked(socket: Socket): number | null {
  return tcpDelivery(socket)?.bytesAcked ?? null;
}

/** What was applied to one socket. */
export interface AppliedSockopts {
  congestionControl: string | null;
  userTimeoutMs: number | null;
}

/** Applies what it can; never throws (an unset option only loses an optimisation). */
export function applySubflowSockopts(socket: Socket, congestionControl: string, userTimeoutMs: number): AppliedSockopts {
  const applied: AppliedSockopts = { congestionControl: null, userTimeoutMs: null };
  const fd = fdOf(socket);
  const set = load()?.setsockopt;
  if (fd === null || set === undefined) return applied;
  if (congestionControl !== '') {
    const name = Buffer.from(congestionControl, 'latin1');
    // Needs CAP_NET_ADMIN unless the algorithm is in net.ipv4.tcp_allowed_congestion_control.
    if (set(fd, IPPROTO_TCP, TCP_CONGESTION, name, name.length) === 0) applied.congestionControl = congestionControl;
  }
  if (userTimeoutMs > 0) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(userTimeoutMs);
    if (set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, v, 4) === 0) applied.userTimeoutMs = userTimeoutMs;
  }
  return applied;
}
