/**
 * tcp channels inside TLS (node:tls), mutually authenticated: the listener demands a client
 * certificate signed by its CA (requestCert + rejectUnauthorized) and the connector checks the
 * listener's certificate against its CA and the host name it dialled. TLS 1.3 only.
 *
 *   connect: net connect (retried while refused) -> TLS handshake -> TcpChannel over the TLSSocket
 *   listen:  tls.Server -> 'secureConnection' -> TcpChannel;  'tlsClientError' -> refused, counted
 *
 * Only tcp: kernel MPTCP sockets are made through FFI and livemig's multipath opens its own
 * subflows, and neither runs TLS per subflow; use --key-file with them instead.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LivemigError, isLivemigError } from '../../core/index.js';
import { resolveChannelOptions, resolveConnectOptions } from '../options.js';
import { address, listenStream, validateEndpoint, type StreamOptions } from '../tcp/connect.js';
import { TcpChannel } from '../tcp/tcp-channel.js';
import type { Channel, ChannelOptions, ConnectOptions, Endpoint, Listener } from '../types.js';
import type { SecureListenerStats } from '../auth/types.js';

/** PEM credentials of one side. */
export interface TlsCredentials {
  /** This side's certificate chain (PEM). */
  cert: string | Buffer;
  /** This side's private key (PEM). */
  key: string | Buffer;
  /** The CA that must have signed the peer's certificate (PEM). */
  ca: string | Buffer;
  /** Time allowed for the TLS handshake, in ms. @default 10000 */
  handshakeTimeoutMs?: number;
  /** connect only: the name the listener's certificate must carry. @default the endpoint's host */
  servername?: string;
}

/** Reads PEM credentials from files, with an error naming the file that could not be read. */
export function readTlsFiles(files: { cert: string; key: string; ca: string }): TlsCredentials {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Could not read --${flag} ${path}: ${(err as Error).message}`, { phase: 'cli', cause: err });
    }
  };
  return { cert: read('tls-cert', files.cert), key: read('tls-key', files.key), ca: read('tls-ca', files.ca) };
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);
const DEFAULT_TLS_HANDSHAKE_MS = 10_000;

function secureContext(c: TlsCredentials): tls.SecureContextOptions {
  try {
    // Built once here so a bad PEM fails as an option error, not as a handshake error later.
    tls.createSecureContext({ cert: c.cert, key: c.key, ca: c.ca });
  } catch (err) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `The TLS credentials are unusable: ${(err as Error).message}; check --tls-cert, --tls-key and --tls-ca`, { phase: 'setup', cause: err });
  }
  return { cert: c.cert, key: c.key, ca: c.ca, minVersion: 'TLSv1.3' };
}

function tlsFailed(err: Error, where: string): LivemigError {
  return new LivemigError('LIVEMIG_E_AUTH', `TLS with ${where} failed: ${err.message}; check that both sides' certificates are signed by the other's --tls-ca`, { phase: 'handshake', cause: err });
}

/** One TCP connect plus TLS handshake; TCP-level errors keep their errno code (for retries). */
function attempt(endpoint: Endpoint, ctx: tls.SecureContextOptions, c: TlsCredentials): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true });
    const onRawError = (err: Error): void => {
      raw.destroy();
      reject(err);
    };
    raw.once('error', onRawError);
    raw.once('connect', () => {
      raw.off('error', onRawError);
      const servername = c.servername ?? (net.isIP(endpoint.host) ? undefined : endpoint.host);
      const socket = tls.connect({ ...ctx, socket: raw, servername, host: endpoint.host, allowHalfOpen: true } as tls.ConnectionOptions);
      const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${c.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS} ms`)), c.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(tlsFailed(err, address(endpoint)));
      };
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
    });
  });
}

/**
 * Opens a TLS channel to `endpoint`, retrying a refused connection as connectTcp does. Rejects with
 * LIVEMIG_E_AUTH when the TLS handshake fails (a certificate not signed by `ca`, a name mismatch, a
 * listener that refuses ours) and LIVEMIG_E_TRANSPORT_CONNECT when no TCP connection succeeds.
 */
export async function connectTls(endpoint: Endpoint, options: ConnectOptions & { tls: TlsCredentials }): Promise<Channel> {
  validateEndpoint(endpoint);
  const resolved = resolveConnectOptions(options, true) as typeof options & StreamOptions & { connectTimeoutMs: number; connectRetryDelayMs: number };
  const ctx = secureContext(options.tls);
  const deadline = Date.now() + resolved.connectTimeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      const socket = await attempt(endpoint, ctx, options.tls);
      return new TcpChannel(socket as unknown as net.Socket, resolved);
    } catch (err) {
      if (isLivemigError(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
      if (!RETRYABLE.has(code) || Date.now() + resolved.connectRetryDelayMs >= deadline) {
        throw new LivemigError('LIVEMIG_E_TRANSPORT_CONNECT', `Could not connect to ${address(endpoint)} after ${attempts} attempt(s): ${(err as Error).message} (${code}); check that the receiving side is listening`, { cause: err });
      }
      await sleep(resolved.connectRetryDelayMs);
    }
  }
}

/** A Listener of TLS channels; connections that fail the TLS handshake are refused and counted. */
export class TlsListener implements Listener {
  readonly address: { host: string; port: number };
  readonly #server: tls.Server;
  readonly #ready: Channel[] = [];
  readonly #waiters: Array<{ resolve(ch: Channel): void; reject(err: unknown): void }> = [];
  readonly #stats: SecureListenerStats = { accepted: 0, refused: 0, refusedByCode: {}, pending: 0 };
  #closed = false;

  constructor(server: tls.Server, resolved: StreamOptions, onRefused?: (err: unknown) => void) {
    this.#server = server;
    const bound = server.address() as net.AddressInfo;
    this.address = { host: bound.address, port: bound.port };
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const ch = new TcpChannel(socket as unknown as net.Socket, resolved);
      if (this.#closed || this.#ready.length >= 64) {
        ch.destroy();
        return;
      }
      this.#stats.accepted++;
      const w = this.#waiters.shift();
      if (w) w.resolve(ch);
      else this.#ready.push(ch);
    });
    // node sends the alert and destroys the socket itself; we only count.
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const e = tlsFailed(err, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
      this.#stats.refused++;
      this.#stats.refusedByCode[e.code] = (this.#stats.refusedByCode[e.code] ?? 0) + 1;
      onRefused?.(e);
    });
  }

  /** Accepted and refused connections so far. */
  stats(): SecureListenerStats {
    return { ...this.#stats, refusedByCode: { ...this.#stats.refusedByCode } };
  }

  accept(): Promise<Channel> {
    const ch = this.#ready.shift();
    if (ch) return Promise.resolve(ch);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
    for (const ch of this.#ready.splice(0)) ch.destroy();
    this.#server.close();
    return Promise.resolve();
  }

  #closedError(): LivemigError {
    return new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The listener on ${address(this.address)} is closed`);
  }
}

/**
 * Listens on `endpoint` for TLS channels; every client must present a certificate signed by
 * `options.tls.ca`. Rejects with LIVEMIG_E_TRANSPORT_LISTEN.
 */
export async function listenTls(
  endpoint: Endpoint,
  options: ChannelOptions & { tls: TlsCredentials; onRefused?: (err: unknown) => void },
): Promise<TlsListener> {
  validateEndpoint(endpoint);
  const resolved = resolveChannelOptions(options, true) as StreamOptions;
  const server = tls.createServer({
    ...secureContext(options.tls),
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: true,
    handshakeTimeout: options.tls.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS,
  });
  await listenStream(endpoint, server, (done) => server.listen(endpoint.port, endpoint.host, done));
  return new TlsListener(server, resolved, options.onRefused);
}
