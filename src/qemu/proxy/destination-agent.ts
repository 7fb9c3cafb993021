/**
 * The destination agent: receives the source agent's frames, rebuilds the byte-identical QEMU
 * stream and writes it to the destination QEMU's incoming migration socket (with direct RAM, the
 * RAM block's pages go straight into the destination's guest memory instead; see direct-ram.ts).
 *
 *   Channel ─frames─> StreamDestinationDecoder.rebuild ─one buffer per frame─> socket ─> QEMU (-incoming)
 *
 * Backpressure runs the other way by itself: while QEMU's socket is full the agent stops reading the
 * channel, the channel's receive window fills, and the source agent's sends wait.
 *
 * If the destination QEMU goes away (its socket fails), the agent sends an ABORT to the source agent,
 * which closes the source QEMU's socket: the source QEMU's migration fails and its guest runs on.
 */
import type { Socket } from 'node:net';
import { LivemigError, isLivemigError } from '../../core/errors.js';
import type { Channel } from '../../transport/index.js';
import { FrameType, decodeControl, decodeFrame, encodeAbortFor } from '../../wire/index.js';
import type { DirectRamStats } from '../stream/direct-ram.js';
import { StreamDestinationDecoder, type StreamPipelineOptions } from '../stream/pipeline.js';
import { connectQemuSocket, formatQemuAddress, type QemuSocketAddress } from './qemu-address.js';
import { ReusableBuffers } from './reusable-buffers.js';

/** What the destination agent did. */
export interface QemuDestinationAgentResult {
  /** Stream bytes written to the destination QEMU. */
  streamBytes: number;
  /** Frames received. */
  frames: number;
  /** Frame bytes received. */
  frameBytes: number;
  /** Host time (ms since the epoch, fractional) of the last write to the destination QEMU, or null. */
  lastWriteAtMs: number | null;
  /** Pages written straight into the destination QEMU's memory, or null when direct RAM is off. */
  directRam: DirectRamStats | null;
}

/** One migration's destination side. */
export class QemuDestinationAgent {
  /** Resolves once the whole stream is in the destination QEMU's socket; rejects with a LivemigError otherwise. */
  readonly done: Promise<QemuDestinationAgentResult>;
  readonly #channel: Channel;
  readonly #socket: Socket;
  readonly #decoder: StreamDestinationDecoder;
  readonly #uri: string;
  readonly #buffers = new ReusableBuffers();
  #socketError: Error | undefined;
  #ending = false;
  #aborting: Promise<void> | undefined;
  #streamBytes = 0;
  #frames = 0;
  #frameBytes = 0;
  #lastWriteAtMs: number | null = null;

  private constructor(channel: Channel, socket: Socket, uri: string, pipeline: StreamPipelineOptions) {
    this.#channel = channel;
    this.#socket = socket;
    this.#uri = uri;
    this.#decoder = new StreamDestinationDecoder(pipeline);
    // The stream's last bytes (device state, vmdesc) are small: Nagle must not hold them back.
    socket.setNoDelay(true);
    socket.on('error', (err) => this.#qemuSocketFailed(err));
    // QEMU closes the connection when it fails, but also right after loading the last byte (which
    // can come just before the channel's end): give the channel a moment to end before calling it a failure.
    socket.on('close', () => {
      if (this.#ending) return;
      setTimeout(() => {
        if (!this.#ending) this.#qemuSocketFailed(new Error('the destination QEMU closed the connection'));
      }, 500).unref();
    });
    this.done = this.#run();
    this.done.catch(() => undefined);
  }

  /**
   * Connects to the destination QEMU's incoming socket (`migrate-incoming` must have been issued)
   * and starts relaying `channel`'s frames into it.
   * @param pipeline must equal the source agent's
   */
  static async start(channel: Channel, qemu: QemuSocketAddress, pipeline: StreamPipelineOptions): Promise<QemuDestinationAgent> {
    const socket = await connectQemuSocket(qemu);
    return new QemuDestinationAgent(channel, socket, formatQemuAddress(qemu), pipeline);
  }

  /** Live figures. */
  result(): QemuDestinationAgentResult {
    return { streamBytes: this.#streamBytes, frames: this.#frames, frameBytes: this.#frameBytes, lastWriteAtMs: this.#lastWriteAtMs, directRam: this.#decoder.directRamStats() };
  }

  async #run(): Promise<QemuDestinationAgentResult> {
    try {
      for await (const message of this.#channel) {
        this.#frames++;
        this.#frameBytes += message.length;
        const frame = decodeFrame(message);
        if (frame.type === FrameType.ABORT) {
          const c = decodeControl(frame);
          const body = c.type === FrameType.ABORT ? c.body : { code: 'LIVEMIG_E_ABORTED' as const, message: '' };
          throw new LivemigError(body.code, `source agent aborted: ${body.message}`, { phase: 'precopy' });
        }
        let whole: Uint8Array | undefined;
        const bytes = this.#decoder.rebuild(frame, (n) => (whole = this.#buffers.take(n)));
        await this.#write(bytes, whole!);
      }
      this.#ending = true;
      this.#socket.end();
      await this.#finished();
      // Closing our side tells the source agent that the destination QEMU has every byte.
      await this.#channel.close();
      return this.result();
    } catch (err) {
      const e = this.#socketError ? this.#qemuGone(this.#socketError) : asLivemigError(err);
      await this.#abort(e);
      throw e;
    }
  }

  #qemuSocketFailed(err: Error): void {
    if (this.#socketError) return;
    this.#socketError = err;
    // Act now, even if no frame is arriving: the source QEMU must learn of it at once.
    void this.#abort(this.#qemuGone(err));
  }

  /** Sends one ABORT to the source agent (so it closes the source QEMU's socket), then tears down. */
  #abort(e: LivemigError): Promise<void> {
    this.#aborting ??= (async () => {
      this.#ending = true;
      this.#socket.destroy();
      await Promise.race([
        (async () => {
          await this.#channel.send(encodeAbortFor(e));
          await this.#channel.close();
          // Drop what the source agent still sends until it hangs up on our ABORT: a socket torn
          // down with unread data sends a reset, which can discard the ABORT before the source reads it.
          for await (const _ of this.#channel) { /* dropped */ }
        })(),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]).catch(() => undefined);
      this.#channel.destroy(e);
    })();
    return this.#aborting;
  }

  /**
   * Writes one frame's rebuilt bytes as one socket write; waits while QEMU's socket is full.
   * `whole` (the buffer holding `bytes`) is reused once the socket has taken them.
   */
  async #write(bytes: Uint8Array, whole: Uint8Array): Promise<void> {
    if (this.#socketError) throw this.#qemuGone(this.#socketError);
    if (bytes.length === 0) {
      this.#buffers.give(whole);
      return;
    }
    this.#streamBytes += bytes.length;
    this.#lastWriteAtMs = performance.timeOrigin + performance.now();
    if (!this.#socket.write(bytes, () => this.#buffers.give(whole))) {
      await eventOrClose(this.#socket, 'drain');
      if (this.#socketError || this.#socket.destroyed) throw this.#qemuGone(this.#socketError ?? new Error('socket closed'));
    }
  }

  async #finished(): Promise<void> {
    if (!this.#socket.writableFinished && !this.#socket.destroyed) {
      await eventOrClose(this.#socket, 'finish');
    }
    if (this.#socketError) throw this.#qemuGone(this.#socketError);
  }

  #qemuGone(err: Error): LivemigError {
    return new LivemigError(
      'LIVEMIG_E_QEMU_EXITED',
      `the destination QEMU's incoming migration socket ${this.#uri} failed (${err.message}) after ${this.#streamBytes} stream bytes: ` +
        'the destination QEMU exited or refused the stream; the source QEMU keeps running the guest',
      { phase: 'precopy', cause: err },
    );
  }
}

function asLivemigError(err: unknown): LivemigError {
  if (isLivemigError(err)) return err;
  return new LivemigError('LIVEMIG_E_INTERNAL', `destination agent: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Resolves on the socket's next `event` or 'close', and leaves no listener behind: racing two
 * events.once() kept the loser's listeners, one pair per full socket, for the socket's life.
 */
function eventOrClose(socket: Socket, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off(event, done);
      socket.off('close', done);
      resolve();
    };
    socket.on(event, done);
    socket.on('close', done);
  });
}
