/**
 * connectMultipath: opens the first subflow (which creates the session), joins the others, and
 * keeps retrying a dead subflow's slot every rejoinIntervalMs while the channel lives.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLivemigError, LivemigError } from '../../core/index.js';
import type { Endpoint } from '../types.js';
import { clientHandshake } from './handshake.js';
import { MultipathChannel } from './multipath-channel.js';
import { resolveMultipathConnectOptions, type ResolvedMultipathConnectOptions } from './options.js';
import { applySubflowSockopts } from './sockopt.js';
import type { MultipathConnectOptions, MultipathPath } from './types.js';

/** Errors after which another attempt may succeed (the listener is not up yet). */
const RETRYABLE_CONNECT_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

function address(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** One TCP connection for a subflow, bound to the path's local address when given. */
function openSocket(path: MultipathPath, timeoutMs: number, o: ResolvedMultipathConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: path.remote.host, port: path.remote.port, localAddress: path.local, allowHalfOpen: true, noDelay: true,
    });
    const timer = setTimeout(() => onError(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Errors after a failed handshake would otherwise be unhandled; the subflow adds its own handler.
      socket.on('error', () => undefined);
      applySubflowSockopts(socket, o.congestionControl, o.subflowTimeoutMs);
      resolve(socket);
    });
  });
}

async function openFirst(o: ResolvedMultipathConnectOptions): Promise<net.Socket> {
  const path = o.slots[0];
  const startMs = Date.now();
  const deadlineMs = startMs + o.connectTimeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return await openSocket(path, Math.max(1, o.connectTimeoutMs > 0 ? deadlineMs - Date.now() : o.handshakeTimeoutMs), o);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
      if (!RETRYABLE_CONNECT_CODES.has(code) || Date.now() + o.connectRetryDelayMs >= deadlineMs) {
        const tried = attempts === 1 ? '' : ` after ${attempts} attempts over ${Date.now() - startMs} ms`;
        throw new LivemigError(
          'LIVEMIG_E_TRANSPORT_CONNECT',
          `Could not open the first multipath subflow to ${address(path.remote)}${path.local === undefined ? '' : ` from ${path.local}`}${tried}: `
          + `${(err as Error).message} (${code}); check that the receiving side is listening there`
          + (o.connectTimeoutMs === 0 ? ', or set connectTimeoutMs to wait for it to start' : ''),
          { cause: err },
        );
      }
      await sleep(o.connectRetryDelayMs);
    }
  }
}

/**
 * Opens a multipath channel: one subflow per entry of `paths` (times `subflows`), or `subflows`
 * subflows to `remote`. Resolves once the first subflow has created the session and every other
 * subflow has joined or failed once (failed ones keep retrying in the background).
 * Rejects with LIVEMIG_E_TRANSPORT_CONNECT, LIVEMIG_E_AUTH or LIVEMIG_E_INVALID_OPTION.
 */
export async function connectMultipath(options: MultipathConnectOptions): Promise<MultipathChannel> {
  const o = resolveMultipathConnectOptions(options);
  const first = await openFirst(o);
  let hs;
  try {
    hs = await clientHandshake(first, { slot: 0, psk: o.key, windowBytes: o.receiveHighWaterBytes, timeoutMs: o.handshakeTimeoutMs });
  } catch (err) {
    first.destroy();
    throw err;
  }
  const { token, sessionKey } = hs;
  const rejoining = new Set<number>();
  let channel: MultipathChannel;

  const join = async (slot: number): Promise<void> => {
    const socket = await openSocket(o.slots[slot], o.handshakeTimeoutMs, o);
    try {
      const joined = await clientHandshake(socket, {
        slot, psk: o.key, windowBytes: o.receiveHighWaterBytes, timeoutMs: o.handshakeTimeoutMs, join: { token, sessionKey },
      });
      channel.attach(slot, socket, joined.leftover);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  };

  const rejoin = (slot: number): void => {
    if (rejoining.has(slot) || channel.finished) return;
    rejoining.add(slot);
    void (async () => {
      while (!channel.finished) {
        // Unref: a retry alone must not keep the process alive.
        await sleep(o.rejoinIntervalMs, undefined, { ref: false });
        if (channel.finished) break;
        try {
          await join(slot);
          break;
        } catch (err) {
          // The listener no longer knows the session: the peer gave up on it.
          if (isLivemigError(err, 'LIVEMIG_E_AUTH') && /no session/.test(err.message)) {
            channel.destroy(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The peer ended multipath session ${token.toString('hex').slice(0, 8)} while subflow ${slot} was rejoining`, { cause: err }));
          }
        }
      }
      rejoining.delete(slot);
    })();
  };

  channel = new MultipathChannel(token.toString('hex'), hs.peerWindowBytes, o, {
    side: 'connect',
    onSubflowDown: rejoin,
    onFinished: () => undefined,
  });
  channel.attach(0, first, hs.leftover);
  const others = o.slots.map((_, slot) => slot).slice(1);
  const results = await Promise.allSettled(others.map((slot) => join(slot)));
  results.forEach((r, i) => {
    if (r.status === 'rejected') rejoin(others[i]);
  });
  return channel;
}
