/**
 * QEMU migration socket addresses as QEMU writes them (`tcp:HOST:PORT`, `unix:PATH`), and the two
 * local socket operations the agents need: listen for the source QEMU's outgoing connection, and
 * connect to the destination QEMU's incoming socket.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { LivemigError } from '../../core/errors.js';

/** A socket address QEMU's `migrate` / `migrate-incoming` accept. */
export type QemuSocketAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** `tcp:127.0.0.1:4444` / `unix:/run/x.sock` → QemuSocketAddress. */
export function parseQemuAddress(uri: string): QemuSocketAddress {
  if (uri.startsWith('unix:') && uri.length > 5) return { kind: 'unix', path: uri.slice(5) };
  const m = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(uri);
  if (m && Number(m[2]) <= 65535) return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a QEMU migration address tcp:HOST:PORT or unix:PATH, got '${uri}'`, { phase: 'setup' });
}

/** QemuSocketAddress → the URI QEMU takes. */
export function formatQemuAddress(a: QemuSocketAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `tcp:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Listens on `address` (tcp port 0 picks one); resolves with the server and the address actually bound. */
export async function listenQemuSocket(address: QemuSocketAddress): Promise<{ server: Server; address: QemuSocketAddress }> {
  const server = createServer({ allowHalfOpen: true });
  if (address.kind === 'unix') rmSync(address.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new LivemigError('LIVEMIG_E_TRANSPORT_LISTEN', `cannot listen for QEMU on ${formatQemuAddress(address)}: ${err.message}`, { cause: err })),
    );
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  if (address.kind === 'unix') return { server, address };
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
  return { server, address: { kind: 'tcp', host: address.host, port } };
}

/**
 * Connects to a destination QEMU's incoming migration socket.
 * @param timeoutMs keep retrying a refused connection this long, @default 10000
 */
export async function connectQemuSocket(address: QemuSocketAddress, timeoutMs = 10_000): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = address.kind === 'unix' ? createConnection(address.path) : createConnection(address.port, address.host);
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || Date.now() >= deadline) {
        throw new LivemigError('LIVEMIG_E_TRANSPORT_CONNECT', `cannot connect to the destination QEMU's incoming socket ${formatQemuAddress(address)}: ${(err as Error).message}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
