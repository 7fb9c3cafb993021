/**
 * A Channel over one stream socket with the TCP socket API (node:net): a TCP connection, or a kernel
 * MPTCP connection (mptcp/ hands in a socket built from its own fd and adds its figures by hooks).
 *
 * Backpressure, end to end:
 *   sender:   send() writes, then waits while the socket's unflushed bytes exceed sendHighWaterBytes
 *   kernel:   the socket buffers and TCP's window fill up
 *   receiver: the socket is paused while whole-but-unconsumed plus partial bytes exceed
 *             receiveHighWaterBytes, and resumed as the consumer iterates
 * so a consumer that stops reading stops the producer after a bounded number of bytes.
 */
import type { Socket } from 'node:net';
import { LivemigError } from '../../core/index.js';
import { IdleTimer } from '../idle-timer.js';
import { MessageQueue } from '../message-queue.js';
import { MessageSplitter } from '../message-splitter.js';
import type { ResolvedChannelOptions } from '../options.js';
import type { Channel, ChannelStats, MessageLength, SendOptions } from '../types.js';

/** What a transport built on this channel adds to it (mptcp: its name and the kernel's figures). */
export interface StreamChannelHooks {
  /** The name reported as `channel.transport`. @default 'tcp' */
  transport?: 'tcp' | 'mptcp';
  /** Rewrites the channel's own figures, e.g. to split them over subflows. */
  stats?(base: ChannelStats): ChannelStats;
  /** Called while the socket is still open, just before the channel resets it (last chance to read it). */
  beforeReset?(): void;
}

/** Errors by which the peer (or the network) tore the connection down. */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export class TcpChannel implements Channel {
  readonly transport: 'tcp' | 'mptcp';
  readonly #socket: Socket;
  readonly #hooks: StreamChannelHooks;
  readonly #options: ResolvedChannelOptions & { messageLength: MessageLength };
  readonly #label: string;
  readonly #splitter: MessageSplitter;
  readonly #queue: MessageQueue;
  readonly #idle: IdleTimer;
  #error: unknown = undefined;
  #closing: Promise<void> | undefined;
  #paused = false;
  #bytesSent = 0;
  #bytesReceived = 0;
  #messagesSent = 0;
  #messagesReceived = 0;
  readonly #onMessage = (message: Uint8Array): void => {
    this.#bytesReceived += message.length;
    this.#messagesReceived++;
    this.#queue.push(message);
  };

  /** Wraps a connected socket; use connectTcp or listenTcp rather than this constructor. */
  constructor(socket: Socket, options: ResolvedChannelOptions & { messageLength: MessageLength }, hooks: StreamChannelHooks = {}) {
    this.transport = hooks.transport ?? 'tcp';
    this.#hooks = hooks;
    this.#socket = socket;
    this.#options = options;
    this.#label = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}->${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#splitter = new MessageSplitter(options.messageLength, options.maxMessageBytes);
    this.#queue = new MessageQueue(() => this.#onConsume());
    this.#idle = new IdleTimer(options.idleTimeoutMs, () => this.#paused, () => this.#onIdle(), false);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.#onError(err));
    socket.on('close', () => this.#onClose());
  }

  /** Local and remote address, e.g. '127.0.0.1:40000->127.0.0.1:40001'. */
  get label(): string {
    return this.#label;
  }

  async send(message: Uint8Array, options?: SendOptions): Promise<void> {
    this.#assertWritable();
    if (message.length === 0 || message.length > this.#options.maxMessageBytes) {
      throw message.length === 0
        ? new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected a message of at least 1 byte; a stream channel cannot carry an empty one')
        : new LivemigError(
          'LIVEMIG_E_TRANSPORT_TOO_LARGE',
          `Cannot send a ${message.length}-byte message: maxMessageBytes is ${this.#options.maxMessageBytes}; split it or raise maxMessageBytes`,
        );
    }
    const socket = this.#socket;
    this.#bytesSent += message.length;
    this.#messagesSent++;
    const onSent = options?.onSent;
    if (socket.writableLength + message.length <= this.#options.sendHighWaterBytes) {
      socket.write(message, onSent ? (err) => (this.#onFlushed(err), err == null && onSent()) : this.#onFlushed);
      return;
    }
    // Above the high-water mark: accepted once this message (and so all before it) is flushed to the kernel.
    await new Promise<void>((resolve, reject) => {
      socket.write(message, (err) => {
        if (err == null) {
          this.#idle.touch();
          onSent?.();
          resolve();
        } else {
          reject(this.#error ?? this.#mapError(err));
        }
      });
    });
  }

  readonly #onFlushed = (err?: Error | null): void => {
    if (err == null) this.#idle.touch();
  };

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const socket = this.#socket;
    this.#closing = new Promise<void>((resolve, reject) => {
      const onFinish = (): void => {
        socket.off('close', onClose);
        resolve();
      };
      // Destroyed before everything was flushed: report why.
      const onClose = (): void => {
        socket.off('finish', onFinish);
        reject(this.#error ?? new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The connection ${this.#label} closed before its data was flushed`));
      };
      socket.once('finish', onFinish);
      socket.once('close', onClose);
      socket.end();
    });
    return this.#closing;
  }

  destroy(err?: Error): void {
    this.#fail(err ?? new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The channel ${this.#label} was destroyed`), true);
  }

  stats(): ChannelStats {
    const base: ChannelStats = {
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
      messagesSent: this.#messagesSent,
      messagesReceived: this.#messagesReceived,
      paths: [{ label: this.#label, bytesSent: this.#bytesSent, bytesReceived: this.#bytesReceived }],
    };
    return this.#hooks.stats === undefined ? base : this.#hooks.stats(base);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#queue.iterator();
  }

  #assertWritable(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closing !== undefined) {
      throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `Cannot send on ${this.#label}: the channel was closed for sending`);
    }
  }

  #onData(chunk: Buffer): void {
    this.#idle.touch();
    try {
      this.#splitter.push(chunk, this.#onMessage);
    } catch (err) {
      this.#fail(err, true);
      return;
    }
    const undelivered = this.#queue.bytes + this.#splitter.buffered;
    // Pause only when the consumer has something to take; a partial message alone must keep reading.
    if (!this.#paused && this.#queue.bytes > 0 && undelivered > this.#options.receiveHighWaterBytes) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #onConsume(): void {
    this.#idle.touch();
    if (!this.#paused) return;
    const undelivered = this.#queue.bytes + this.#splitter.buffered;
    if (this.#queue.bytes === 0 || undelivered <= this.#options.receiveHighWaterBytes) {
      this.#paused = false;
      if (this.#error === undefined) this.#socket.resume();
    }
  }

  #onEnd(): void {
    try {
      this.#splitter.end();
    } catch (err) {
      this.#fail(err, false);
      return;
    }
    this.#queue.end();
  }

  #onError(err: NodeJS.ErrnoException): void {
    if (this.#error !== undefined) return;
    this.#fail(this.#mapError(err), false);
  }

  #onClose(): void {
    this.#idle.stop();
    if (this.#error === undefined && !this.#queue.finished) {
      this.#fail(new LivemigError(
        'LIVEMIG_E_TRANSPORT_CLOSED',
        `The connection ${this.#label} closed before the peer finished sending; check the peer's log`,
      ), false);
    }
  }

  #onIdle(): void {
    const ms = this.#options.idleTimeoutMs;
    this.#fail(new LivemigError(
      'LIVEMIG_E_TRANSPORT_TIMEOUT',
      `No data moved on ${this.#label} for ${ms} ms (idleTimeoutMs); check that the peer process is alive `
      + 'and not stalled, and that the network path between the hosts is up, or raise idleTimeoutMs',
    ), true);
  }

  #mapError(err: NodeJS.ErrnoException): LivemigError {
    if (err instanceof LivemigError) return err;
    const code = err.code ?? 'unknown';
    const what = RESET_CODES.has(code)
      ? `The peer reset the connection ${this.#label} (${code}); check the peer's log for why it aborted`
      : `The connection ${this.#label} failed: ${err.message}`;
    return new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', what, { cause: err });
  }

  /**
   * Breaks the channel: records the error, fails the consumer (at once, or after the whole messages
   * already received when the peer broke it) and resets the connection so the peer sees an error,
   * not a clean end.
   */
  #fail(err: unknown, local: boolean): void {
    if (this.#error === undefined) this.#error = err;
    this.#queue.fail(this.#error, local);
    this.#idle.stop();
    const socket = this.#socket;
    if (!socket.destroyed) {
      this.#hooks.beforeReset?.();
      try {
        socket.resetAndDestroy();
      } catch {
        socket.destroy();
      }
    }
  }
}
