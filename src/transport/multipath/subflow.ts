/**
 * One subflow: a TCP socket past its handshake, carrying data-phase frames. It splits the byte
 * stream into frames, writes frames with a flush callback (room again for the scheduler), samples
 * its delivery rate and reports its death once.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { MessageSplitter } from '../message-splitter.js';
import { frameLength, parseFrame, type Frame } from './frames.js';
import type { SubflowView } from './types.js';

/** Weight of the newest sample in the rate average. */
const RATE_EWMA_WEIGHT = 0.3;
/** Shortest interval over which a rate sample is taken, in ms. */
const RATE_SAMPLE_MS = 50;

/** Counters of one subflow slot; they outlive the socket, across rejoins. */
export class SlotStats {
  label = '';
  bytesSent = 0;
  bytesReceived = 0;
  retransmittedBytes = 0;
  messagesSent = 0;
  /** Payload bytes ever scheduled here (first sends and retransmissions). */
  scheduledBytes = 0;
  /** Payload bytes whose latest copy went out here and that are not acknowledged yet. */
  inflightBytes = 0;
  /** Payload bytes acknowledged whose latest copy went out here. */
  ackedBytes = 0;
  rateBytesPerSec = 0;
  /** Everything sent here was acknowledged at some moment of the current rate interval. */
  wentIdle = true;
}

export interface SubflowEvents {
  onFrame(subflow: Subflow, frame: Frame): void;
  /** Called once, when the subflow dies (error, reset, close, end). */
  onDown(subflow: Subflow, err: unknown, graceful: boolean): void;
  /** The peer broke the protocol (malformed or oversized frame): the whole channel must fail. */
  onFatal(subflow: Subflow, err: unknown): void;
  /** A write was flushed to the kernel: the subflow has room again. */
  onFlushed(subflow: Subflow): void;
}

export class Subflow implements SubflowView {
  readonly slot: number;
  readonly socket: Socket;
  readonly stats: SlotStats;
  readonly #splitter: MessageSplitter;
  readonly #events: SubflowEvents;
  #up = true;
  #sampleMs = performance.now();
  #sampleAcked = 0;
  /** performance.now() of the last frame received. */
  lastReceiveMs = performance.now();
  /** Received a DATA frame since the last ACK went out on this subflow. */
  ackDue = false;

  readonly #onFlushedWrite = (err?: Error | null): void => {
    if (err != null) return;
    this.#events.onFlushed(this);
  };

  constructor(slot: number, socket: Socket, stats: SlotStats, maxMessageBytes: number, events: SubflowEvents) {
    this.slot = slot;
    this.socket = socket;
    this.stats = stats;
    this.#events = events;
    this.#splitter = new MessageSplitter(frameLength(maxMessageBytes), maxMessageBytes + 64);
    stats.label = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}->${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#down(null, true));
    socket.on('error', (err) => this.#down(err, false));
    socket.on('close', () => this.#down(null, false));
  }

  get id(): number {
    return this.slot;
  }

  get label(): string {
    return this.stats.label;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Not yet acknowledged: in our write queue, in the kernel or on the wire (as MPTCP's sk_wmem_queued). */
  get queuedBytes(): number {
    return this.socket.writableLength + this.stats.inflightBytes;
  }

  /** Bytes in our own write queue, not yet handed to the kernel. */
  get writableBytes(): number {
    return this.socket.writableLength;
  }

  get rateBytesPerSec(): number {
    return this.stats.rateBytesPerSec;
  }

  get scheduledBytes(): number {
    return this.stats.scheduledBytes;
  }

  /** Feeds bytes that arrived with the end of the handshake, then starts reading. */
  start(leftover: Buffer): void {
    if (leftover.length > 0) this.#onData(leftover);
    if (this.#up) this.socket.resume();
  }

  /** Writes one frame (header and optional payload) as one unit. */
  write(header: Uint8Array, payload?: Uint8Array): void {
    if (!this.#up) return;
    const s = this.socket;
    if (payload === undefined || payload.length === 0) {
      s.write(header, this.#onFlushedWrite);
      return;
    }
    s.cork();
    s.write(header);
    s.write(payload, this.#onFlushedWrite);
    s.uncork();
  }

  /**
   * Takes a rate sample (call periodically): payload bytes acknowledged per second, over an
   * interval in which the subflow had data outstanding (an idle subflow keeps its last value).
   * Acknowledged, not flushed: the kernel takes bytes at memory speed until its buffer fills.
   * An app-limited interval (everything acknowledged at some moment) only raises a measured estimate: a
   * trickle of small messages says nothing of the path's capacity, and a low estimate from one
   * would starve the subflow for good (measured: 1 % of a QEMU stream on one of two equal paths).
   */
  sample(nowMs: number): void {
    const intervalMs = nowMs - this.#sampleMs;
    if (intervalMs < RATE_SAMPLE_MS) return;
    const st = this.stats;
    const acked = st.ackedBytes - this.#sampleAcked;
    if (acked > 0 || st.inflightBytes > 0) {
      const rate = (acked * 1000) / intervalMs;
      if (!st.wentIdle || (st.rateBytesPerSec > 0 && rate > st.rateBytesPerSec)) {
        st.rateBytesPerSec = st.rateBytesPerSec === 0 ? rate : st.rateBytesPerSec + RATE_EWMA_WEIGHT * (rate - st.rateBytesPerSec);
      }
    }
    st.wentIdle = st.inflightBytes === 0;
    this.#sampleAcked = st.ackedBytes;
    this.#sampleMs = nowMs;
  }

  /** Ends the subflow cleanly after what is queued (the channel is finished both ways). */
  end(): void {
    if (!this.#up) return;
    this.#up = false;
    this.socket.end();
    // Do not wait forever for the peer's FIN.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Writes a last frame (ABORT), then closes; the peer's reset is not waited for. */
  abort(lastFrame: Uint8Array): void {
    if (!this.#up) return;
    this.#up = false;
    this.socket.end(lastFrame);
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Kills the subflow (and reports it down). */
  destroy(err: unknown): void {
    this.#down(err, false);
  }

  #onData(chunk: Buffer): void {
    if (!this.#up) return;
    this.lastReceiveMs = performance.now();
    try {
      this.#splitter.push(chunk, (f) => {
        if (this.#up) this.#events.onFrame(this, parseFrame(f));
      });
    } catch (err) {
      this.#events.onFatal(this, err);
    }
  }

  #down(err: unknown, graceful: boolean): void {
    if (!this.#up) {
      if (!this.socket.destroyed && !graceful && err !== null) this.socket.destroy();
      return;
    }
    this.#up = false;
    if (graceful) {
      // The peer ended its side: end ours, and do not wait forever for the close.
      if (!this.socket.destroyed) this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else if (!this.socket.destroyed) {
      this.socket.destroy();
    }
    this.#events.onDown(this, err, graceful);
  }
}
