/**
 * The source agent: accepts the source QEMU's outgoing migration connection, parses the stream as
 * it arrives, and sends it through the page pipeline (codec + cache per page) over a livemig
 * channel.
 *
 *   QEMU ──socket──> [pause/resume] ─> QemuStreamParser ─> StreamSourceEncoder ─> send queue ─> Channel
 *                                         └─ capture file (raw bytes)
 *
 * Backpressure: QEMU measures bandwidth at its own socket to decide when to switch over, so the
 * agent stops reading QEMU's socket while more than `maxBufferedBytes` of frames wait for the
 * channel. The stream then advances at the rate the channel really moves it.
 *
 * Failure safety: a stream the parser cannot follow goes on as opaque pass-through bytes (never a
 * corrupted stream). If the destination agent reports an ABORT (e.g. the destination QEMU died),
 * or the channel breaks, the agent closes QEMU's socket: QEMU's migration fails and the guest keeps
 * running on the source.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Server, Socket } from 'node:net';
import { LivemigError, isLivemigError } from '../../core/errors.js';
import type { Channel } from '../../transport/index.js';
import { FrameType, decodeControl, decodeFrame, encodeAbortFor } from '../../wire/index.js';
import { Section } from '../stream/constants.js';
import { QemuStreamParser } from '../stream/parser.js';
import { StreamSourceEncoder, type SourceEncoderStats, type StreamPipelineOptions } from '../stream/pipeline.js';
import { BlendController, SAMPLE_MS, type BlendSummary } from './blend-controller.js';
import { formatQemuAddress, listenQemuSocket, type QemuSocketAddress } from './qemu-address.js';

/** Options of QemuSourceAgent.listen. */
export interface QemuSourceAgentOptions {
  /** Codec, cache and mirror settings; the destination agent must use equal ones. */
  pipeline: StreamPipelineOptions;
  /** Frame bytes waiting for the channel beyond which QEMU's socket is not read, @default 1048576 */
  maxBufferedBytes?: number;
  /** Also write the raw QEMU stream to this file. */
  capturePath?: string;
}

/** What the source agent did. */
export interface QemuSourceAgentResult {
  /** Bytes QEMU wrote to the agent. */
  streamBytes: number;
  /** The encoder's counts (frames, pages through the codec, verbatim records, opaque bytes). */
  encoder: SourceEncoderStats;
  /** Why the parser switched to pass-through, or null. */
  passthroughReason: string | null;
  /** Times the agent stopped reading QEMU's socket because the channel was behind. */
  pauses: number;
  /** Milliseconds QEMU's socket was not read for that reason. */
  pausedMs: number;
  /** Most frame bytes that waited for the channel at once. */
  peakBufferedBytes: number;
  /** Milliseconds from QEMU's connection to the end of its stream. */
  streamMs: number;
  /** The capture file, if any. */
  capturePath: string | null;
  /**
   * Host times (ms since the epoch, fractional) around the switchover: the ram END section's header
   * arriving from QEMU, QEMU's end of stream, and the last frame accepted by the channel. null until seen.
   */
  times: { endSectionAtMs: number | null; qemuEofAtMs: number | null; lastFrameSentAtMs: number | null };
  /**
   * Stream bytes from the ram END section's header to QEMU's end of stream: what QEMU sent while the
   * guest was stopped (QEMU sizes it as its bandwidth estimate × downtime-limit), or null.
   */
  switchoverBytes: number | null;
  /** `adaptive` in blocks: the zstd share it followed the link with, window by window; else null. */
  blend: BlendSummary | null;
}

/** How long a failed send waits for the destination agent's ABORT, whose reason is the better one. */
const ABORT_GRACE_MS = 1000;

/** Host time in ms since the epoch, with sub-ms precision (comparable with QMP event timestamps). */
export function hostNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One migration's source side. */
export class QemuSourceAgent {
  /** The address to give the source QEMU's `migrate` command (e.g. "tcp:127.0.0.1:40123"). */
  readonly qemuUri: string;
  /**
   * Resolves when QEMU's stream has been sent and the destination agent has written it all to the
   * destination QEMU; rejects with a LivemigError otherwise.
   */
  readonly done: Promise<QemuSourceAgentResult>;
  readonly #server: Server;
  readonly #channel: Channel;
  readonly #maxBuffered: number;
  readonly #parser = new QemuStreamParser();
  readonly #encoder: StreamSourceEncoder;
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #socket: Socket | undefined;
  #capture: WriteStream | undefined;
  #capturePath: string | null;
  #failure: LivemigError | undefined;
  #streamBytes = 0;
  #passthrough: string | null = null;
  #pauses = 0;
  #pausedMs = 0;
  #pausedAt = 0;
  #peak = 0;
  #connectedAt = 0;
  #endedAt = 0;
  #drained: (() => void) | undefined;
  #endSectionAtMs: number | null = null;
  #endSectionAtByte = 0;
  #qemuEofAtMs: number | null = null;
  #lastFrameSentAtMs: number | null = null;
  #blend: BlendController | null = null;
  #blendTimer: NodeJS.Timeout | undefined;

  private constructor(server: Server, address: QemuSocketAddress, channel: Channel, opts: QemuSourceAgentOptions) {
    this.#server = server;
    this.qemuUri = formatQemuAddress(address);
    this.#channel = channel;
    this.#maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
    this.#capturePath = opts.capturePath ?? null;
    this.#encoder = new StreamSourceEncoder(opts.pipeline, (frame) => this.#enqueue(frame));
    this.done = this.#run();
    this.done.catch(() => undefined);
  }

  /**
   * Listens for the source QEMU on `address` (tcp port 0 picks a port) and relays its stream over
   * `channel` once QEMU connects (one connection: one migration).
   */
  static async listen(address: QemuSocketAddress, channel: Channel, opts: QemuSourceAgentOptions): Promise<QemuSourceAgent> {
    const { server, address: bound } = await listenQemuSocket(address);
    return new QemuSourceAgent(server, bound, channel, opts);
  }

  /** Live figures (also valid while the migration runs). */
  result(): QemuSourceAgentResult {
    return {
      streamBytes: this.#streamBytes,
      encoder: this.#encoder.stats(),
      passthroughReason: this.#passthrough,
      pauses: this.#pauses,
      pausedMs: this.#pausedMs,
      peakBufferedBytes: this.#peak,
      streamMs: (this.#endedAt || Date.now()) - (this.#connectedAt || Date.now()),
      capturePath: this.#capturePath,
      times: { endSectionAtMs: this.#endSectionAtMs, qemuEofAtMs: this.#qemuEofAtMs, lastFrameSentAtMs: this.#lastFrameSentAtMs },
      switchoverBytes: this.#endSectionAtMs === null || this.#qemuEofAtMs === null ? null : this.#streamBytes - this.#endSectionAtByte,
      blend: this.#blend?.summary() ?? null,
    };
  }

  /** Gives up: closes QEMU's socket (its migration fails, the guest keeps running) and the channel. */
  abort(err: LivemigError): void {
    this.#fail(err, true);
  }

  async #run(): Promise<QemuSourceAgentResult> {
    const fromDestination = this.#watchChannel();
    this.#fromDestination = fromDestination;
    try {
      const socket = await this.#accept();
      this.#socket = socket;
      this.#connectedAt = Date.now();
      if (this.#encoder.blends) this.#startBlend(socket);
      if (this.#capturePath !== null) this.#capture = createWriteStream(this.#capturePath);
      await this.#relay(socket);
      this.#endedAt = Date.now();
      await this.#encoder.settled();
      await this.#flushQueue();
      this.#lastFrameSentAtMs = hostNowMs();
      if (this.#failure) throw this.#failure;
      await this.#channel.close();
      // The destination closes its side once the destination QEMU has every byte (or sends ABORT).
      await fromDestination;
      if (this.#failure) throw this.#failure;
      return this.result();
    } catch (err) {
      const e = this.#failure ?? asLivemigError(err);
      this.#fail(e, true);
      throw e;
    } finally {
      clearInterval(this.#blendTimer);
      this.#server.close();
      await this.#encoder.close();
      if (this.#capture) {
        this.#capture.end();
        await once(this.#capture, 'close').catch(() => undefined);
      }
    }
  }

  #accept(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      this.#server.once('connection', (socket: Socket) => {
        this.#server.close(); // one migration per agent
        resolve(socket);
      });
      this.#server.once('error', (err) => reject(new LivemigError('LIVEMIG_E_TRANSPORT_LISTEN', `QEMU listener: ${err.message}`, { cause: err })));
      this.#onFailure = reject;
    });
  }

  /**
   * `adaptive`: samples whether frames wait for the channel (a backlog of a quarter of the bound, or
   * QEMU's socket paused) and moves the zstd share of the blocks with it (blend-controller.ts).
   */
  #startBlend(socket: Socket): void {
    const blend = (this.#blend = new BlendController());
    this.#encoder.setZstdShare(blend.zstdShare);
    this.#blendTimer = setInterval(() => {
      const share = blend.sample(this.#queuedBytes >= this.#maxBuffered / 4 || socket.isPaused());
      if (share !== null) this.#encoder.setZstdShare(share);
    }, SAMPLE_MS);
  }

  #onFailure: ((err: LivemigError) => void) | undefined;
  /** Settles when the destination agent's side of the channel ends (after an ABORT, if it sent one). */
  #fromDestination: Promise<void> = Promise.resolve();

  /** Reads QEMU's socket to its end, feeding the pipeline; resolves at EOF. */
  #relay(socket: Socket): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#onFailure = reject;
      socket.on('data', (chunk: Buffer) => {
        if (this.#failure) return;
        this.#streamBytes += chunk.length;
        this.#capture?.write(chunk);
        try {
          for (const event of this.#parser.push(chunk)) {
            if (event.kind === 'passthrough') this.#passthrough = event.reason;
            else if (event.kind === 'opaque' && event.part === 'section-header' && event.bytes[0] === Section.END && this.#endSectionAtMs === null) {
              this.#endSectionAtMs = hostNowMs();
              this.#endSectionAtByte = this.#streamBytes - chunk.length; // to within one socket read
            }
            this.#encoder.write(event);
          }
          // Flush per chunk: bytes must not wait in a half-full batch (they may be the downtime's).
          this.#encoder.flush({ keepBlockOpen: true });
        } catch (err) {
          this.#fail(asLivemigError(err), true);
          return;
        }
        // Frames wait for the channel, or the compression pool has enough to do.
        if ((this.#queuedBytes > this.#maxBuffered || this.#encoder.saturated) && !socket.isPaused()) {
          socket.pause();
          this.#pauses++;
          this.#pausedAt = Date.now();
        }
      });
      socket.once('end', () => {
        this.#qemuEofAtMs = hostNowMs();
        try {
          this.#parser.end();
          resolve();
        } catch (err) {
          // QEMU stopped mid-stream (its migration failed or was cancelled).
          reject(new LivemigError('LIVEMIG_E_QEMU_MIGRATION_FAILED', `the source QEMU closed its migration stream before the end: ${(err as Error).message}`, { phase: 'precopy', cause: err }));
        }
      });
      socket.once('error', (err) =>
        reject(new LivemigError('LIVEMIG_E_QEMU_MIGRATION_FAILED', `the source QEMU's migration socket failed: ${err.message}`, { phase: 'precopy', cause: err })),
      );
    });
  }

  #enqueue(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    if (this.#queuedBytes > this.#peak) this.#peak = this.#queuedBytes;
    if (!this.#pumping) void this.#pump();
  }

  /** Sends queued frames one at a time, in order; resumes QEMU's socket once below the bound. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#failure) {
        const frame = this.#queue[0];
        await this.#channel.send(frame);
        this.#queue.shift();
        this.#queuedBytes -= frame.length;
        const s = this.#socket;
        if (s && s.isPaused() && this.#queuedBytes <= this.#maxBuffered / 2 && !this.#encoder.saturated) {
          this.#pausedMs += Date.now() - this.#pausedAt;
          s.resume();
        }
      }
    } catch (err) {
      // A destination agent that gives up sends ABORT with its reason, then closes: a send can fail
      // on the close first. Let the reason arrive (it wins: #fail keeps the first error).
      await Promise.race([this.#fromDestination, new Promise((r) => setTimeout(r, ABORT_GRACE_MS))]);
      this.#fail(asLivemigError(err, 'the livemig channel to the destination agent failed'), true);
    } finally {
      this.#pumping = false;
      if (this.#queue.length === 0) this.#drained?.();
    }
  }

  async #flushQueue(): Promise<void> {
    if (this.#queue.length === 0 && !this.#pumping) return;
    await new Promise<void>((r) => (this.#drained = r));
  }

  /** Reads what the destination agent sends back: nothing but, on failure, an ABORT. */
  async #watchChannel(): Promise<void> {
    try {
      for await (const message of this.#channel) {
        const frame = decodeFrame(message);
        if (frame.type === FrameType.ABORT) {
          const c = decodeControl(frame);
          const body = c.type === FrameType.ABORT ? c.body : { code: 'LIVEMIG_E_ABORTED' as const, message: 'no reason given' };
          this.#fail(new LivemigError(body.code, `destination agent: ${body.message}`, { phase: 'precopy' }), false);
          return;
        }
      }
    } catch (err) {
      if (!this.#failure) this.#fail(asLivemigError(err, 'the livemig channel to the destination agent broke'), false);
    }
  }

  #fail(err: LivemigError, tellPeer: boolean): void {
    if (this.#failure) return;
    this.#failure = err;
    // Closing QEMU's socket makes its migration fail; QEMU then resumes the guest on the source.
    this.#socket?.destroy();
    this.#server.close();
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#drained?.();
    if (tellPeer) {
      this.#channel.send(encodeAbortFor(err)).then(() => this.#channel.close()).catch(() => undefined)
        .finally(() => setTimeout(() => this.#channel.destroy(), 2000).unref());
    } else {
      this.#channel.destroy();
    }
    this.#onFailure?.(err);
  }
}

function asLivemigError(err: unknown, context?: string): LivemigError {
  if (isLivemigError(err)) return context ? new LivemigError(err.code, `${context}: ${err.message}`, { phase: err.phase, cause: err }) : err;
  return new LivemigError('LIVEMIG_E_INTERNAL', `${context ?? 'source agent'}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
