/**
 * listenMultipath: accepts subflows on one or more addresses. A subflow that creates a session
 * becomes a new channel for accept(); one that joins is attached to its session by token after
 * proving the session key. Refused joins are counted and never touch the session.
 */
import net from 'node:net';
import { LivemigError } from '../../core/index.js';
import type { Endpoint, Listener } from '../types.js';
import { serverHandshake } from './handshake.js';
import { MultipathChannel } from './multipath-channel.js';
import { resolveMultipathOptions, validateEndpoint, type ResolvedMultipathOptions } from './options.js';
import { applySubflowSockopts } from './sockopt.js';
import type { MultipathListenOptions, MultipathListenerStats } from './types.js';

/** Most created channels waiting for accept(); further sessions are refused. */
const MAX_PENDING_ACCEPTS = 64;
/** How long a refused socket may take to read the REFUSE before it is destroyed, in ms. */
const REFUSE_LINGER_MS = 500;

function address(e: { host: string; port: number }): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export class MultipathListener implements Listener {
  /** The first address bound. */
  readonly address: { host: string; port: number };
  /** Every address bound, one per `local` endpoint. */
  readonly addresses: Array<{ host: string; port: number }>;
  readonly #servers: net.Server[];
  readonly #options: ResolvedMultipathOptions;
  readonly #sessions = new Map<string, { channel: MultipathChannel; key: Buffer }>();
  #pending: MultipathChannel[] = [];
  #waiters: Array<{ resolve(ch: MultipathChannel): void; reject(err: unknown): void }> = [];
  #closed = false;
  readonly #stats: MultipathListenerStats = { sessions: 0, joins: 0, refusedJoins: 0, refusedSessions: 0 };

  /** Use listenMultipath. */
  constructor(servers: net.Server[], options: ResolvedMultipathOptions) {
    this.#servers = servers;
    this.#options = options;
    this.addresses = servers.map((s) => {
      const a = s.address() as net.AddressInfo;
      return { host: a.address, port: a.port };
    });
    this.address = this.addresses[0];
    for (const s of servers) s.on('connection', (socket) => void this.#onConnection(socket));
  }

  accept(): Promise<MultipathChannel> {
    const channel = this.#pending.shift();
    if (channel !== undefined) return Promise.resolve(channel);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Stops accepting new sessions. Accepted channels stay open — and their subflows may still
   * rejoin: the sockets keep listening until the last session ends.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
    for (const ch of this.#pending.splice(0)) ch.destroy();
    this.#maybeCloseServers();
    return Promise.resolve();
  }

  stats(): MultipathListenerStats {
    return { ...this.#stats };
  }

  async #onConnection(socket: net.Socket): Promise<void> {
    socket.on('error', () => undefined);
    const o = this.#options;
    applySubflowSockopts(socket, o.congestionControl, o.subflowTimeoutMs);
    let hs;
    try {
      hs = await serverHandshake(socket, {
        psk: o.key,
        windowBytes: o.receiveHighWaterBytes,
        timeoutMs: o.handshakeTimeoutMs,
        findSession: (token) => {
          const s = this.#sessions.get(token);
          return s === undefined || s.channel.finished ? undefined : s.key;
        },
        acceptingSessions: () => !this.#closed && this.#pending.length < MAX_PENDING_ACCEPTS,
      });
    } catch (err) {
      if ((err as { refusedJoin?: boolean }).refusedJoin === true) this.#stats.refusedJoins++;
      else this.#stats.refusedSessions++;
      if (!socket.destroyed) socket.end();
      setTimeout(() => socket.destroy(), REFUSE_LINGER_MS).unref();
      return;
    }
    const tokenHex = hs.token.toString('hex');
    if (!hs.created) {
      this.#stats.joins++;
      this.#sessions.get(tokenHex)?.channel.attach(hs.slot, socket, hs.leftover);
      return;
    }
    this.#stats.sessions++;
    const channel = new MultipathChannel(tokenHex, hs.peerWindowBytes, o, {
      side: 'listen',
      onFinished: () => {
        this.#sessions.delete(tokenHex);
        this.#maybeCloseServers();
      },
    });
    this.#sessions.set(tokenHex, { channel, key: hs.sessionKey });
    channel.attach(hs.slot, socket, hs.leftover);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(channel);
    else this.#pending.push(channel);
  }

  #maybeCloseServers(): void {
    if (!this.#closed || this.#sessions.size > 0) return;
    for (const s of this.#servers) s.close();
  }

  #closedError(): LivemigError {
    return new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The multipath listener on ${address(this.address)} is closed`);
  }
}

/**
 * Listens for multipath channels on `local` (one address or several; port 0 picks an ephemeral
 * port per address). Rejects with LIVEMIG_E_TRANSPORT_LISTEN or LIVEMIG_E_INVALID_OPTION.
 */
export async function listenMultipath(options: MultipathListenOptions): Promise<MultipathListener> {
  if (options === null || typeof options !== 'object') {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected multipath listen options to be an object, got ${String(options)}`);
  }
  const o = resolveMultipathOptions(options);
  const locals: Endpoint[] = Array.isArray(options.local) ? options.local : [options.local];
  if (locals.length === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected local to name at least one endpoint to listen on');
  locals.forEach((e, i) => validateEndpoint(e, Array.isArray(options.local) ? `local[${i}]` : 'local'));
  const servers: net.Server[] = [];
  try {
    for (const endpoint of locals) {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => reject(new LivemigError(
          'LIVEMIG_E_TRANSPORT_LISTEN',
          `Could not listen on ${address(endpoint)}: ${err.message} (${err.code ?? 'unknown'}); choose another port or stop the process that holds it`,
          { cause: err },
        )));
        server.listen(endpoint.port, endpoint.host, () => resolve());
      });
      servers.push(server);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return new MultipathListener(servers, o);
}
