/**
 * A kernel-MPTCP peer for the testbed test, started inside a namespace with `ip netns exec`.
 * Node has no MPTCP option, so the socket is made with koffi (`socket(AF_INET, SOCK_STREAM, 262)`)
 * and its fd handed to `net.Server.listen({fd})` / `new net.Socket({fd})`.
 *
 *   node testbed-mptcp-peer.js server PORT            listens on 0.0.0.0:PORT, prints bytes received
 *   node testbed-mptcp-peer.js client HOST PORT SECS  sends for SECS, prints MPTCP_INFO and per-subflow bytes
 */
import net from 'node:net';
import * as koffi from 'koffi';

const AF_INET = 2;
const SOCK_STREAM_CLOEXEC = 1 | 0o2000000;
const IPPROTO_MPTCP = 262;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SOL_MPTCP = 284;
const MPTCP_INFO = 1;
const MPTCP_TCPINFO = 2;
/** Offsets in struct mptcp_info (6.18) and struct tcp_info. */
const MPTCP_INFO_SUBFLOWS_TOTAL = 80;
const TCP_INFO_BYTES_ACKED = 120;
const TCP_INFO_BYTES = 160;

const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int, int, int)');
const bind = libc.func('int bind(int, const void *addr, uint32_t len)');
const listen = libc.func('int listen(int, int)');
const connect = libc.func('int connect(int, const void *addr, uint32_t len)');
const setsockopt = libc.func('int setsockopt(int, int, int, const void *val, uint32_t len)');
const getsockopt = libc.func('int getsockopt(int, int, int, _Inout_ void *val, _Inout_ uint32_t *len)');

function sockaddrIn(host: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  host.split('.').forEach((part, i) => { b[4 + i] = Number(part); });
  return b;
}

function mptcpSocket(): number {
  const fd = socket(AF_INET, SOCK_STREAM_CLOEXEC, IPPROTO_MPTCP) as number;
  if (fd < 0) throw new Error('socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed');
  return fd;
}

function server(port: number): void {
  const fd = mptcpSocket();
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
  // The wildcard address: MP_JOINs arrive at the announced addresses, not at path 0's.
  if (bind(fd, sockaddrIn('0.0.0.0', port), 16) !== 0 || listen(fd, 16) !== 0) throw new Error(`cannot listen on port ${port}`);
  const srv = net.createServer((c) => {
    let bytes = 0;
    c.on('data', (b: Buffer) => { bytes += b.length; });
    c.on('end', () => {
      process.stdout.write(JSON.stringify({ event: 'received', bytes }) + '\n');
      c.end();
      srv.close();
    });
  });
  srv.listen({ fd }, () => process.stdout.write(JSON.stringify({ event: 'listening' }) + '\n'));
  setTimeout(() => process.exit(3), 30_000).unref();
}

function client(host: string, port: number, seconds: number): void {
  const fd = mptcpSocket();
  setTimeout(() => process.exit(3), (seconds + 20) * 1000).unref();
  connect.async(fd, sockaddrIn(host, port), 16, (err: unknown, rc: number) => {
    if (err || rc !== 0) throw new Error(`connect to ${host}:${port} failed`);
    const sock = new net.Socket({ fd, readable: true, writable: true });
    const chunk = Buffer.alloc(64 * 1024, 0x33);
    const endAt = Date.now() + seconds * 1000;
    let sent = 0;
    const pump = (): void => {
      while (Date.now() < endAt) {
        sent += chunk.length;
        if (!sock.write(chunk)) return;
      }
      sock.removeListener('drain', pump);
      const info = Buffer.alloc(96);
      const infoRc = getsockopt(fd, SOL_MPTCP, MPTCP_INFO, info, [info.length]) as number;
      const sub = Buffer.alloc(16 + 8 * TCP_INFO_BYTES);
      sub.writeUInt32LE(16, 0);
      sub.writeUInt32LE(TCP_INFO_BYTES, 12);
      const subRc = getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, sub, [sub.length]) as number;
      const n = subRc === 0 ? sub.readUInt32LE(4) : 0;
      const stride = subRc === 0 ? sub.readUInt32LE(12) : 0;
      const bytesAcked = Array.from({ length: Math.min(n, 8) }, (_, i) => Number(sub.readBigUInt64LE(16 + i * stride + TCP_INFO_BYTES_ACKED)));
      process.stdout.write(JSON.stringify({
        event: 'sent', sent, infoRc, subflowsTotal: infoRc === 0 ? info[MPTCP_INFO_SUBFLOWS_TOTAL] : null, subflowBytesAcked: bytesAcked,
      }) + '\n');
      sock.end();
    };
    sock.on('drain', pump);
    sock.on('data', () => undefined);
    sock.on('close', () => process.exit(0));
    pump();
  });
}

const [role, a, b, c] = process.argv.slice(2);
if (role === 'server') server(Number(a));
else if (role === 'client') client(a, Number(b), Number(c));
else process.exit(2);
