/**
 * Opening tcp channels: connectTcp (with optional retries, since the receiver may start a moment
 * after the sender) and listenTcp.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LivemigError } from '../../core/index.js';
import { resolveChannelOptions, resolveConnectOptions, type ResolvedChannelOptions } from '../options.js';
import type { Channel, ChannelOptions, ConnectOptions, Endpoint, Listener, MessageLength } from '../types.js';
import { TcpChannel } from './tcp-channel.js';

type StreamOptions = ResolvedChannelOptions & { messageLength: MessageLength };

/** Errors after which another connection attempt may succeed (the peer is not up yet). */
const RETRYABLE_CONNECT_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/** Most accepted channels waiting for accept(); further connections are refused with a reset. */
const MAX_PENDING_ACCEPTS = 64;

function validateEndpoint(endpoint: Endpoint): void {
  if (endpoint === null || typeof endpoint !== 'object' || typeof endpoint.host !== 'string' || endpoint.host === '') {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected an endpoint { host, port } with a non-empty host, got ${JSON.stringify(endpoint)}`);
  }
  if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 65535) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected port to be an integer from 0 to 65535, got ${String(endpoint.port)}`);
  }
}

function address(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/** One attempt; rejects with the socket error, or with ETIMEDOUT after `timeoutMs` (0: the OS decides). */
function attempt(endpoint: Endpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true });
    let timer: NodeJS.Timeout | undefined;
    const onError = (err: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    if (timeoutMs > 0) {
      timer = setTimeout(() => onError(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    }
  });
}

/**
 * Opens a tcp channel to `endpoint`. With `connectTimeoutMs`, a refused or unreachable connection
 * is retried every `connectRetryDelayMs` until that time has passed.
 * Rejects with LIVEMIG_E_TRANSPORT_CONNECT, naming the address, when no attempt succeeds.
 */
export async function connectTcp(endpoint: Endpoint, options: ConnectOptions = {}): Promise<Channel> {
  validateEndpoint(endpoint);
  const resolved = resolveConnectOptions(options, true);
  const startMs = Date.now();
  const deadlineMs = startMs + resolved.connectTimeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remainingMs = deadlineMs - Date.now();
    try {
      const socket = await attempt(endpoint, resolved.connectTimeoutMs > 0 ? Math.max(1, remainingMs) : 0);
      return new TcpChannel(socket, resolved as StreamOptions);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
      const retry = RETRYABLE_CONNECT_CODES.has(code) && Date.now() + resolved.connectRetryDelayMs < deadlineMs;
      if (!retry) {
        const tried = attempts === 1 ? '' : ` after ${attempts} attempts over ${Date.now() - startMs} ms`;
        throw new LivemigError(
          'LIVEMIG_E_TRANSPORT_CONNECT',
          `Could not connect to ${address(endpoint)}${tried}: ${(err as Error).message} (${code}); check that the `
          + 'receiving side is listening on that address and port and that no firewall blocks it'
          + (resolved.connectTimeoutMs === 0 ? ', or set connectTimeoutMs to wait for it to start' : ''),
          { cause: err },
        );
      }
      await sleep(resolved.connectRetryDelayMs);
    }
  }
}

class TcpListener implements Listener {
  readonly address: { host: string; port: number };
  readonly #server: net.Server;
  #pending: Channel[] = [];
  #waiters: Array<{ resolve(ch: Channel): void; reject(err: unknown): void }> = [];
  #closed = false;

  constructor(server: net.Server, options: StreamOptions) {
    this.#server = server;
    const bound = server.address() as net.AddressInfo;
    this.address = { host: bound.address, port: bound.port };
    server.on('connection', (socket) => {
      const channel = new TcpChannel(socket, options);
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.resolve(channel);
      else if (this.#pending.length < MAX_PENDING_ACCEPTS) this.#pending.push(channel);
      else channel.destroy();
    });
  }

  accept(): Promise<Channel> {
    const channel = this.#pending.shift();
    if (channel !== undefined) return Promise.resolve(channel);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops listening; channels already accepted stay open, those not yet accepted are destroyed. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
    for (const ch of this.#pending.splice(0)) ch.destroy();
    // server.close()'s callback waits for every connection to end; the listening socket itself closes now.
    this.#server.close();
    return Promise.resolve();
  }

  #closedError(): LivemigError {
    return new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The listener on ${address(this.address)} is closed`);
  }
}

/**
 * Listens on `endpoint` for tcp channels (port 0 picks an ephemeral port; see `address`).
 * `options` apply to every accepted channel. Rejects with LIVEMIG_E_TRANSPORT_LISTEN.
 */
export async function listenTcp(endpoint: Endpoint, options: ChannelOptions = {}): Promise<Listener> {
  validateEndpoint(endpoint);
  const resolved = resolveChannelOptions(options, true) as StreamOptions;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new LivemigError(
      'LIVEMIG_E_TRANSPORT_LISTEN',
      `Could not listen on ${address(endpoint)}: ${err.message} (${err.code ?? 'unknown'}); `
      + 'choose another port or stop the process that holds it',
      { cause: err },
    )));
    server.listen(endpoint.port, endpoint.host, () => resolve());
  });
  return new TcpListener(server, resolved);
}
