/**
 * Per-subflow socket options Node cannot set itself: TCP_CONGESTION (cubic on shaped paths, see
 * reference/mptcp.md §3/§8) and TCP_USER_TIMEOUT (dead-subflow detection). Node's net has no
 * setsockopt, so this calls libc's through koffi (an FFI, loaded lazily); without koffi, or off
 * Linux, the options are skipped and the subflow runs with the system defaults.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;
const TCP_USER_TIMEOUT = 18;

type SetSockopt = (fd: number, level: number, name: number, value: Buffer, length: number) => number;

let setsockopt: SetSockopt | null | undefined;

function load(): SetSockopt | null {
  if (setsockopt !== undefined) return setsockopt;
  setsockopt = null;
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(lib: string): { func(signature: string): SetSockopt };
    };
    setsockopt = koffi.load('libc.so.6').func('int setsockopt(int, int, int, const void *, uint32_t)');
  } catch {
    setsockopt = null;
  }
  return setsockopt;
}

/** What was applied to one socket. */
export interface AppliedSockopts {
  congestionControl: string | null;
  userTimeoutMs: number | null;
}

/** Applies what it can; never throws (an unset option only loses an optimisation). */
export function applySubflowSockopts(socket: Socket, congestionControl: string, userTimeoutMs: number): AppliedSockopts {
  const applied: AppliedSockopts = { congestionControl: null, userTimeoutMs: null };
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return applied;
  const set = load();
  if (set === null) return applied;
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
