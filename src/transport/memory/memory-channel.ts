/**
 * An in-process pair of channels with the semantics of a stream channel, for tests and for
 * migrations inside one process. Messages are handed over by reference (the channel owns a sent
 * message), and send() resolves only while the peer's unconsumed bytes are at most
 * sendHighWaterBytes + the peer's receiveHighWaterBytes, the bound a tcp channel has less its kernel buffers.
 */
import { LivemigError } from '../../core/index.js';
import { IdleTimer } from '../idle-timer.js';
import { MessageQueue } from '../message-queue.js';
import { resolveChannelOptions, type ResolvedChannelOptions } from '../options.js';
import type { Channel, ChannelOptions, ChannelStats, SendOptions } from '../types.js';

interface SendWaiter {
  resolve(): void;
  reject(err: unknown): void;
}

class MemoryChannel implements Channel {
  readonly transport = 'memory' as const;
  readonly #options: ResolvedChannelOptions;
  readonly #label: string;
  readonly #queue: MessageQueue;
  readonly #idle: IdleTimer;
  #peer!: MemoryChannel;
  #error: unknown = undefined;
  #closed = false;
  #sendWaiters: SendWaiter[] = [];
  #bytesSent = 0;
  #bytesReceived = 0;
  #messagesSent = 0;
  #messagesReceived = 0;

  constructor(options: ResolvedChannelOptions, label: string) {
    this.#options = options;
    this.#label = label;
    this.#queue = new MessageQueue(() => {
      this.#idle.touch();
      this.#peer.#onPeerConsumed();
    });
    // Kept referenced, as a socket is: an open pair waiting for its peer keeps the process alive.
    this.#idle = new IdleTimer(options.idleTimeoutMs, () => this.#queue.length > 0, () => this.#onIdle(), false);
  }

  link(peer: MemoryChannel): void {
    this.#peer = peer;
  }

  // Ordered: every message is a barrier already, so the hint needs no handling.
  async send(message: Uint8Array, _options?: SendOptions): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) {
      throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `Cannot send on ${this.#label}: the channel was closed for sending`);
    }
    if (message.length === 0) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected a message of at least 1 byte; a stream channel cannot carry an empty one');
    }
    if (message.length > this.#options.maxMessageBytes) {
      throw new LivemigError(
        'LIVEMIG_E_TRANSPORT_TOO_LARGE',
        `Cannot send a ${message.length}-byte message: maxMessageBytes is ${this.#options.maxMessageBytes}; split it or raise maxMessageBytes`,
      );
    }
    this.#bytesSent += message.length;
    this.#messagesSent++;
    this.#idle.touch();
    this.#peer.#deliver(message);
    if (this.#error !== undefined) throw this.#error;
    if (!this.#peerFull()) return;
    await new Promise<void>((resolve, reject) => this.#sendWaiters.push({ resolve, reject }));
  }

  close(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (!this.#closed) {
      this.#closed = true;
      this.#peer.#queue.end();
      this.#stopIdleIfDone();
      this.#peer.#stopIdleIfDone();
    }
    return Promise.resolve();
  }

  destroy(err?: Error): void {
    this.#fail(err ?? new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The channel ${this.#label} was destroyed`), true);
    this.#peer.#fail(new LivemigError(
      'LIVEMIG_E_TRANSPORT_CLOSED',
      `The peer destroyed the channel ${this.#peer.#label}${err === undefined ? '' : `: ${err.message}`}`,
      err === undefined ? {} : { cause: err },
    ), false);
  }

  stats(): ChannelStats {
    return {
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
      messagesSent: this.#messagesSent,
      messagesReceived: this.#messagesReceived,
      paths: [{ label: this.#label, bytesSent: this.#bytesSent, bytesReceived: this.#bytesReceived }],
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#queue.iterator();
  }

  #deliver(message: Uint8Array): void {
    if (this.#error !== undefined) return;
    const { messageLength, maxMessageBytes } = this.#options;
    // Check what a stream channel would: the length check must find exactly this message.
    try {
      if (message.length > maxMessageBytes) {
        throw new LivemigError(
          'LIVEMIG_E_TRANSPORT_TOO_LARGE',
          `The peer sent a ${message.length}-byte message, more than maxMessageBytes (${maxMessageBytes}); `
          + 'raise maxMessageBytes on this side or send smaller messages',
        );
      }
      if (messageLength !== undefined) {
        const length = messageLength(message);
        if (length !== message.length) {
          throw new LivemigError(
            'LIVEMIG_E_TRANSPORT_MALFORMED',
            `messageLength found ${String(length)} bytes in a ${message.length}-byte message; on a stream transport the peers would lose message boundaries`,
          );
        }
      }
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.#idle.touch();
    this.#bytesReceived += message.length;
    this.#messagesReceived++;
    this.#queue.push(message);
  }

  #peerFull(): boolean {
    return this.#peer.#queue.bytes > this.#options.sendHighWaterBytes + this.#peer.#options.receiveHighWaterBytes;
  }

  #onPeerConsumed(): void {
    this.#idle.touch();
    while (this.#sendWaiters.length > 0 && !this.#peerFull()) this.#sendWaiters.shift()!.resolve();
  }

  #onIdle(): void {
    const ms = this.#options.idleTimeoutMs;
    this.destroy(new LivemigError(
      'LIVEMIG_E_TRANSPORT_TIMEOUT',
      `No messages moved on ${this.#label} for ${ms} ms (idleTimeoutMs); check that the peer is alive and not stalled, or raise idleTimeoutMs`,
    ));
  }

  #stopIdleIfDone(): void {
    if (this.#closed && this.#peer.#closed) this.#idle.stop();
  }

  #fail(err: unknown, local: boolean): void {
    if (this.#error === undefined) this.#error = err;
    this.#queue.fail(this.#error, local);
    this.#idle.stop();
    for (const w of this.#sendWaiters.splice(0)) w.reject(this.#error);
  }
}

/**
 * Creates two connected in-process channels. `options` apply to the first, `peerOptions` (default:
 * the same) to the second. `messageLength`, when given, is checked against every message as a stream
 * channel would split it.
 */
export function createMemoryPair(options: ChannelOptions = {}, peerOptions: ChannelOptions = options): [Channel, Channel] {
  const a = new MemoryChannel(resolveChannelOptions(options), 'memory:a->b');
  const b = new MemoryChannel(resolveChannelOptions(peerOptions), 'memory:b->a');
  a.link(b);
  b.link(a);
  return [a, b];
}
