/**
 * The few libc calls Node does not offer, through koffi (loaded on first use, so that processes that
 * never open an mptcp channel never load the native module): socket() with IPPROTO_MPTCP, bind,
 * setsockopt and getsockopt with in/out buffers. Node's libuv does connect, listen, accept and I/O.
 */
import { constants } from 'node:os';
import { LivemigError } from '../../core/index.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
const SOCK_STREAM = 1;
/** libuv sets O_NONBLOCK itself when it adopts the fd; set it at once so nothing can ever block. */
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_MPTCP = 262;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SOL_TCP = 6;
export const TCP_INFO = 11;
export const TCP_CONGESTION = 13;
/** getsockopt(SOL_TCP, TCP_IS_MPTCP): 1 on an MPTCP socket that has not fallen back. */
export const TCP_IS_MPTCP = 43;
export const SOL_MPTCP = 284;
export const MPTCP_INFO = 1;
export const MPTCP_TCPINFO = 2;
export const MPTCP_SUBFLOW_ADDRS = 3;

/** The libc functions used, as typed JS functions (negative results leave errno set). */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  close(fd: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: number[]): number;
  ifNameToIndex(name: string): number;
  /** errno of the last call on this thread. */
  errno(): number;
}

let loaded: Promise<Libc> | undefined;

/** Loads koffi and binds libc once; rejects with LIVEMIG_E_MPTCP_UNAVAILABLE when koffi cannot load. */
export function loadLibc(): Promise<Libc> {
  loaded ??= (async () => {
    try {
      const koffi = (await import('koffi')).default;
      const lib = koffi.load('libc.so.6');
      const fn = lib.func.bind(lib) as (decl: string) => (...args: unknown[]) => number;
      const getsockopt = fn('int getsockopt(int, int, int, _Inout_ void *val, _Inout_ uint32_t *len)');
      const ifNameToIndex = fn('unsigned int if_nametoindex(const char *name)');
      return {
        socket: fn('int socket(int, int, int)'),
        bind: fn('int bind(int, const void *addr, uint32_t len)'),
        close: fn('int close(int)'),
        setsockopt: fn('int setsockopt(int, int, int, const void *val, uint32_t len)'),
        getsockopt: (fd, level, name, value, len) => getsockopt(fd, level, name, value, len),
        ifNameToIndex: (name) => ifNameToIndex(name),
        errno: () => koffi.errno(),
      } satisfies Libc;
    } catch (err) {
      loaded = undefined;
      throw new LivemigError(
        'LIVEMIG_E_MPTCP_UNAVAILABLE',
        `Cannot open MPTCP sockets: the FFI module koffi (or libc.so.6) failed to load: ${(err as Error).message}; `
        + 'reinstall dependencies (npm ci) or use the tcp transport',
        { cause: err },
      );
    }
  })();
  return loaded;
}

/** 'ENOPROTOOPT' for 92, or 'errno 1234' for a number node does not name. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/** An Error shaped as Node's own socket errors (code, errno, syscall). */
export function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`${syscall} failed: ${code}`), { code, errno: -errno, syscall });
}

/** Why the kernel refuses MPTCP sockets, by socket()'s errno (Documentation/networking/mptcp.rst). */
const UNAVAILABLE: Record<string, string> = {
  ENOPROTOOPT: 'MPTCP is disabled in this network namespace; enable it with `sysctl -w net.mptcp.enabled=1`',
  EPROTONOSUPPORT: 'this kernel was built without MPTCP (CONFIG_MPTCP); use a kernel with it',
  EINVAL: 'this kernel predates MPTCP (Linux < 5.6); use a newer kernel',
};

/**
 * A new non-blocking, close-on-exec MPTCP socket of `family`, with `congestionControl` set (null:
 * the system default). Throws LIVEMIG_E_MPTCP_UNAVAILABLE when the kernel refuses MPTCP,
 * LIVEMIG_E_INVALID_OPTION for an unusable congestion control, and an errno Error otherwise.
 */
export function openMptcpSocket(libc: Libc, family: number, congestionControl: string | null): number {
  const fd = libc.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_MPTCP);
  if (fd < 0) {
    const errno = libc.errno();
    const code = errnoName(errno);
    const why = UNAVAILABLE[code];
    if (why !== undefined) {
      throw new LivemigError(
        'LIVEMIG_E_MPTCP_UNAVAILABLE',
        `The kernel refused an MPTCP socket (${code}): ${why}, or use the tcp transport`,
        { cause: errnoError(errno, 'socket') },
      );
    }
    throw errnoError(errno, 'socket');
  }
  if (congestionControl !== null) {
    try {
      checkCongestionControl(libc, congestionControl);
    } catch (err) {
      libc.close(fd);
      throw err;
    }
    const name = Buffer.from(congestionControl, 'latin1');
    // The kernel keeps the name on the MPTCP socket and applies it to each subflow as it is made.
    if (libc.setsockopt(fd, SOL_TCP, TCP_CONGESTION, name, name.length) < 0) {
      const err = errnoError(libc.errno(), 'setsockopt(TCP_CONGESTION)');
      libc.close(fd);
      throw err;
    }
  }
  return fd;
}

/** Congestion controls already known to be usable by this process. */
const usableCongestionControls = new Set<string>();

/**
 * Throws LIVEMIG_E_INVALID_OPTION unless this process may use `name`. Tried on a throwaway plain
 * TCP socket: an MPTCP socket with no subflow yet accepts any name and drops it silently later.
 */
export function checkCongestionControl(libc: Libc, name: string): void {
  if (usableCongestionControls.has(name)) return;
  const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError(libc.errno(), 'socket');
  const value = Buffer.from(name, 'latin1');
  const rc = libc.setsockopt(fd, SOL_TCP, TCP_CONGESTION, value, value.length);
  const code = rc < 0 ? errnoName(libc.errno()) : '';
  libc.close(fd);
  if (rc < 0) {
    throw new LivemigError(
      'LIVEMIG_E_INVALID_OPTION',
      `Expected congestionControl to name a usable TCP congestion control, got '${name}' (${code}); `
      + (code === 'EPERM'
        ? 'it is not in net.ipv4.tcp_allowed_congestion_control and this process lacks CAP_NET_ADMIN'
        : 'see /proc/sys/net/ipv4/tcp_available_congestion_control (modprobe tcp_<name> to add one)')
      + ', or pass null to keep the system default',
      { phase: 'setup' },
    );
  }
  usableCongestionControls.add(name);
}

/** getsockopt into `value`; the length the kernel wrote, or -errno. */
export function getsockopt(libc: Libc, fd: number, level: number, name: number, value: Buffer): number {
  const len = [value.length];
  return libc.getsockopt(fd, level, name, value, len) < 0 ? -libc.errno() : len[0];
}
