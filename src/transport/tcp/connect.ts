/**
 * Opening tcp channels: connectTcp (with optional retries, since the receiver may start a moment
 * after the sender) and listenTcp. The stream machinery under them (connectStream, StreamListener,
 * listenStream) is shared with mptcp, which only differs in how its sockets are made.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LivemigError } from '../../core/index.js';
import {
  resolveChannelOptions, resolveConnectOptions, type ResolvedChannelOptions, type ResolvedConnectOptions,
} from '../options.js';
import type { Channel, ChannelOptions, ConnectOptions, Endpoint, Listener, MessageLength } from '../types.js';
import { TcpChannel } from './tcp-channel.js';

/** Resolved options of a stream transport: messageLength is required. */
export type StreamOptions = ResolvedChannelOptions & { messageLength: MessageLength };

/** Errors after which another connection attempt may succeed (the peer is not up yet). */
const RETRYABLE_CONNECT_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/** Most accepted channels waiting for accept(); further connections are refused with a reset. */
const MAX_PENDING_ACCEPTS = 64;

/** Throws LIVEMIG_E_INVALID_OPTION unless `endpoint` is { host: non-empty string, port: 0..65535 }. */
export function validateEndpoint(endpoint: Endpoint): void {
  if (endpoint === null || typeof endpoint !== 'object' || typeof endpoint.host !== 'string' || endpoint.host === '') {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected an endpoint { host, port } with a non-empty host, got ${JSON.stringify(endpoint)}`);
  }
  if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 65535) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected port to be an integer from 0 to 65535, got ${String(endpoint.port)}`);
  }
}

/** 'host:port', or '[v6]:port'. */
export function address(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * One attempt on a socket from `open` (which starts connecting it); rejects with the socket error, or
 * with ETIMEDOUT after `timeoutMs` (0: the OS decides).
 */
function attempt(open: () => net.Socket, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    try {
      socket = open();
    } catch (err) {
      reject(err);
      return;
    }
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
 * Connects a stream socket made by `open` to `endpoint` (named in messages), retrying as
 * `resolved.connectTimeoutMs` allows, then wraps it with `wrap` (which may throw a LivemigError).
 * Shared by tcp and mptcp. Rejects with LIVEMIG_E_TRANSPORT_CONNECT when no attempt succeeds; a
 * LivemigError thrown by `open` is not retried.
 */
export async function connectStream(
  endpoint: Endpoint,
  resolved: ResolvedConnectOptions,
  open: () => net.Socket,
  wrap: (socket: net.Socket) => Channel,
): Promise<Channel> {
  const startMs = Date.now();
  const deadlineMs = startMs + resolved.connectTimeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remainingMs = deadlineMs - Date.now();
    let socket: net.Socket;
    try {
      socket = await attempt(open, resolved.connectTimeoutMs > 0 ? Math.max(1, remainingMs) : 0);
    } catch (err) {
      if (err instanceof LivemigError) throw err;
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
      continue;
    }
    return wrap(socket);
  }
}

/**
 * Opens a tcp channel to `endpoint`. With `connectTimeoutMs`, a refused or unreachable connection
 * is retried every `connectRetryDelayMs` until that time has passed.
 * Rejects with LIVEMIG_E_TRANSPORT_CONNECT, naming the address, when no attempt succeeds.
 */
export async function connectTcp(endpoint: Endpoint, options: ConnectOptions = {}): Promise<Channel> {
  validateEndpoint(endpoint);
  const resolved = resolveConnectOptions(options, true);
  return connectStream(
    endpoint,
    resolved,
    () => net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true }),
    (socket) => new TcpChannel(socket, resolved as StreamOptions),
  );
}

/**
 * A Listener over a listening net.Server; `wrap` turns each connection into a channel, or throws
 * (mptcp refusing a connection that fell back to TCP): the error then goes to an accept() caller.
 * Shared by tcp and mptcp. With `keepOpenForJoins` (mptcp), close() stops accepting but the
 * listening socket stays until every accepted connection has ended: the MP_JOINs of their
 * additional subflows arrive through it, and a closed one answers them with a reset.
 */
export class StreamListener implements Listener {
  readonly address: { host: string; port: number };
  readonly #server: net.Server;
  #pending: Array<Channel | { error: unknown }> = [];
  #waiters: Array<{ resolve(ch: Channel): void; reject(err: unknown): void }> = [];
  #closed = false;
  readonly #keepOpenForJoins: boolean;
  /** Accepted connections still open; only counted under keepOpenForJoins. */
  #open = 0;

  constructor(server: net.Server, wrap: (socket: net.Socket) => Channel, opts: { keepOpenForJoins?: boolean } = {}) {
    this.#server = server;
    this.#keepOpenForJoins = opts.keepOpenForJoins ?? false;
    const bound = server.address() as net.AddressInfo;
    this.address = { host: bound.address, port: bound.port };
    server.on('connection', (socket) => {
      if (this.#closed) {
        socket.destroy(); // only while lingering for joins: a new connection is refused
        return;
      }
      if (this.#keepOpenForJoins) {
        this.#open++;
        socket.once('close', () => {
          if (--this.#open === 0 && this.#closed) this.#server.close();
        });
      }
      let entry: Channel | { error: unknown };
      try {
        entry = wrap(socket);
      } catch (error) {
        socket.destroy();
        entry = { error };
      }
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) {
        if ('error' in entry) waiter.reject(entry.error);
        else waiter.resolve(entry);
      } else if (this.#pending.length < MAX_PENDING_ACCEPTS) {
        this.#pending.push(entry);
      } else if (!('error' in entry)) {
        entry.destroy();
      }
    });
  }

  accept(): Promise<Channel> {
    const entry = this.#pending.shift();
    if (entry !== undefined) return 'error' in entry ? Promise.reject(entry.error) : Promise.resolve(entry);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops accepting; channels already accepted stay open, those not yet accepted are destroyed. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
    for (const entry of this.#pending.splice(0)) if (!('error' in entry)) entry.destroy();
    // server.close()'s callback waits for every connection to end; the listening socket itself closes now.
    if (!this.#keepOpenForJoins || this.#open === 0) this.#server.close();
    return Promise.resolve();
  }

  #closedError(): LivemigError {
    return new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The listener on ${address(this.address)} is closed`);
  }
}

/** LIVEMIG_E_TRANSPORT_LISTEN for a failure to listen on `endpoint`. */
export function listenFailed(endpoint: Endpoint, err: NodeJS.ErrnoException): LivemigError {
  return new LivemigError(
    'LIVEMIG_E_TRANSPORT_LISTEN',
    `Could not listen on ${address(endpoint)}: ${err.message} (${err.code ?? 'unknown'}); `
    + 'choose another port or stop the process that holds it',
    { cause: err },
  );
}

/**
 * Starts `server` listening (`listen` calls server.listen) and maps a failure to
 * LIVEMIG_E_TRANSPORT_LISTEN naming `endpoint`. Shared by tcp and mptcp.
 */
export async function listenStream(endpoint: Endpoint, server: net.Server, listen: (done: () => void) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailed(endpoint, err)));
    listen(() => resolve());
  });
}

/**
 * Listens on `endpoint` for tcp channels (port 0 picks an ephemeral port; see `address`).
 * `options` apply to every accepted channel. Rejects with LIVEMIG_E_TRANSPORT_LISTEN.
 */
export async function listenTcp(endpoint: Endpoint, options: ChannelOptions = {}): Promise<Listener> {
  validateEndpoint(endpoint);
  const resolved = resolveChannelOptions(options, true) as StreamOptions;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  await listenStream(endpoint, server, (done) => server.listen(endpoint.port, endpoint.host, done));
  return new StreamListener(server, (socket) => new TcpChannel(socket, resolved));
}
