/**
 * A Channel over several TCP subflows (see PROTOCOL.md).
 *
 * Sending: send() gives the message a DSN and queues it; the scheduler hands each queued message
 * to a subflow with room in its write queue (socket.writableLength below subflowWriteHighWaterBytes).
 * Messages stay in the send window until acknowledged; when a subflow dies its unacknowledged
 * messages go out again on the others. send() waits while the window (unacknowledged payload bytes)
 * exceeds min(sendHighWaterBytes, the peer's receive window).
 *
 * Receiving: duplicates are dropped by DSN; Reassembly releases messages in the channel's order
 * into the consumer's queue. The cumulative ACK (every DSN below it delivered) goes back on the
 * subflows that brought data; while the consumer's queue is above receiveHighWaterBytes, ACKs are
 * withheld, which stops the sender at its window: backpressure without pausing any socket.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ERROR_CODE_NUMBERS, errorCodeFromNumber, isLivemigError, LivemigError } from '../../core/index.js';
import { IdleTimer } from '../idle-timer.js';
import { MessageQueue } from '../message-queue.js';
import type { Channel, SendOptions } from '../types.js';
import { encodeAbort, encodeAck, FLAG_FIN, type Frame } from './frames.js';
import type { ResolvedMultipathOptions } from './options.js';
import { Reassembly } from './reassembly.js';
import { SendWindow, type OutRecord } from './send-window.js';
import { SlotStats, Subflow, type SubflowEvents } from './subflow.js';
import type { MultipathChannelStats, Scheduler } from './types.js';

/** Period of the housekeeping tick (rate samples, gap ACKs, reinjection), in ms. */
const TICK_MS = 50;

/** What the opener (connector or listener) does for the channel. */
export interface ChannelOwner {
  side: 'connect' | 'listen';
  /** A subflow of `slot` died while the channel is alive: try to bring it back (connector). */
  onSubflowDown?(slot: number): void;
  /** The channel finished or failed: forget it (listener's session table, connector's retries). */
  onFinished(): void;
}

interface SendWaiter {
  rec: OutRecord;
  resolve(): void;
  reject(err: unknown): void;
}

export class MultipathChannel implements Channel, SubflowEvents {
  readonly transport = 'multipath' as const;
  /** The session token (hex), as MPTCP's token: it names the session; it is no secret. */
  readonly token: string;
  readonly #options: ResolvedMultipathOptions;
  readonly #owner: ChannelOwner;
  readonly #scheduler: Scheduler;
  readonly #window = new SendWindow();
  readonly #reassembly: Reassembly;
  readonly #queue: MessageQueue;
  readonly #idle: IdleTimer;
  readonly #subflows = new Map<number, Subflow>();
  readonly #slots = new Map<number, SlotStats>();
  #peerWindowBytes: number;
  #sendWaiters: SendWaiter[] = [];
  #error: unknown = undefined;
  #finished = false;
  #closing: Promise<void> | undefined;
  #closeWaiter: { rec: OutRecord; resolve(): void; reject(err: unknown): void } | undefined;
  #peerFinDsn = -1;
  #ackedUpTo = 0;
  #ackWithheld = false;
  #ackFlushScheduled = false;
  #dispatching = false;
  #allDownTimer: NodeJS.Timeout | undefined;
  readonly #tick: NodeJS.Timeout;
  #lastAckProgressMs = performance.now();
  #lastAckMs = 0;
  #bytesSent = 0;
  #bytesReceived = 0;
  #messagesSent = 0;
  #messagesReceived = 0;
  #retransmittedBytes = 0;
  #retransmittedMessages = 0;
  #duplicatesDropped = 0;
  #rejoins = 0;

  /** Use connectMultipath or listenMultipath rather than this constructor. */
  constructor(token: string, peerWindowBytes: number, options: ResolvedMultipathOptions, owner: ChannelOwner) {
    this.token = token;
    this.#options = options;
    this.#owner = owner;
    this.#peerWindowBytes = peerWindowBytes;
    this.#scheduler = options.newScheduler();
    this.#queue = new MessageQueue(() => this.#onConsume());
    this.#reassembly = new Reassembly(options.ordering, (payload, fin) => this.#deliver(payload, fin));
    this.#idle = new IdleTimer(options.idleTimeoutMs, () => this.#ackWithheld, () => this.#onIdle(), false);
    this.#tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#tick.unref();
  }

  /** True once the channel finished cleanly or failed. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Adds an authenticated subflow for `slot` (replacing a stale one of the same slot). */
  attach(slot: number, socket: Socket, leftover: Buffer): void {
    if (this.#finished) {
      socket.destroy();
      return;
    }
    this.#subflows.get(slot)?.destroy(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `Subflow ${slot} was replaced by a rejoin`));
    let stats = this.#slots.get(slot);
    if (stats === undefined) {
      stats = new SlotStats();
      this.#slots.set(slot, stats);
    } else {
      this.#rejoins++;
    }
    const subflow = new Subflow(slot, socket, stats, this.#options.maxMessageBytes, this);
    this.#subflows.set(slot, subflow);
    if (this.#allDownTimer !== undefined) {
      clearTimeout(this.#allDownTimer);
      this.#allDownTimer = undefined;
    }
    this.#options.onSubflow?.({ socket, slot, side: this.#owner.side });
    subflow.start(leftover);
    // The peer may have lost ACKs with the subflow this one replaces.
    if (this.#ackedUpTo > 0 && !this.#ackWithheld) this.#writeAck(subflow);
    this.#dispatch();
  }

  async send(message: Uint8Array, options?: SendOptions): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closing !== undefined) {
      throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `Cannot send on multipath session ${this.token.slice(0, 8)}: the channel was closed for sending`);
    }
    if (message.length === 0 || message.length > this.#options.maxMessageBytes) {
      throw message.length === 0
        ? new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected a message of at least 1 byte')
        : new LivemigError(
          'LIVEMIG_E_TRANSPORT_TOO_LARGE',
          `Cannot send a ${message.length}-byte message: maxMessageBytes is ${this.#options.maxMessageBytes}; split it or raise maxMessageBytes`,
        );
    }
    const rec = this.#window.add(message, options?.barrier === true, false);
    this.#bytesSent += message.length;
    this.#messagesSent++;
    this.#dispatch();
    if (this.#window.unackedBytes <= this.#windowBytes()) return;
    await new Promise<void>((resolve, reject) => this.#sendWaiters.push({ rec, resolve, reject }));
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#error !== undefined) return Promise.reject(this.#error);
    // FIN takes a DSN of its own: acknowledged means everything before it arrived.
    const rec = this.#window.add(new Uint8Array(0), false, true);
    this.#closing = new Promise<void>((resolve, reject) => {
      this.#closeWaiter = { rec, resolve, reject };
    });
    this.#dispatch();
    return this.#closing;
  }

  destroy(err?: Error): void {
    this.#fail(err ?? new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The multipath channel ${this.token.slice(0, 8)} was destroyed`), true, true);
  }

  stats(): MultipathChannelStats {
    const slots = [...this.#slots.entries()].sort((x, y) => x[0] - y[0]);
    return {
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
      messagesSent: this.#messagesSent,
      messagesReceived: this.#messagesReceived,
      paths: slots.map(([slot, s]) => ({
        label: s.label,
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        retransmittedBytes: s.retransmittedBytes,
        messagesSent: s.messagesSent,
        inflightBytes: s.inflightBytes,
        rateBytesPerSec: Math.round(s.rateBytesPerSec),
        state: this.#subflows.get(slot)?.up === true ? 'up' : 'down',
      })),
      retransmittedBytes: this.#retransmittedBytes,
      retransmittedMessages: this.#retransmittedMessages,
      duplicatesDropped: this.#duplicatesDropped,
      rejoins: this.#rejoins,
      subflowsUp: [...this.#subflows.values()].filter((s) => s.up).length,
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#queue.iterator();
  }

  // ---- SubflowEvents ----

  onFrame(subflow: Subflow, frame: Frame): void {
    this.#idle.touch();
    if (this.#error !== undefined) return;
    try {
      if (frame.kind === 'data') this.#onData(subflow, frame.dsn, frame.flags, frame.epoch, frame.payload);
      else if (frame.kind === 'ack') this.#onAck(frame.cumAck, frame.windowBytes);
      else this.#onPeerAbort(frame.codeNumber, frame.message);
    } catch (err) {
      this.#fail(err, true, true);
    }
  }

  onFlushed(): void {
    this.#idle.touch();
    this.#dispatch();
  }

  onFatal(_subflow: Subflow, err: unknown): void {
    this.#fail(err, true, true);
  }

  onDown(subflow: Subflow, _err: unknown, _graceful: boolean): void {
    if (this.#subflows.get(subflow.slot) === subflow) this.#subflows.delete(subflow.slot);
    if (this.#finished) return;
    // Its unacknowledged messages go out again on the survivors (the receiver drops duplicates).
    const lost = this.#window.onSlot(subflow.slot);
    this.#window.requeue(lost);
    if (this.#subflows.size === 0) this.#armAllDown();
    else if (!this.#ackWithheld) this.#flushAcks(true);
    this.#owner.onSubflowDown?.(subflow.slot);
    this.#dispatch();
  }

  // ---- sending ----

  #windowBytes(): number {
    return Math.max(1, Math.min(this.#options.sendHighWaterBytes, this.#peerWindowBytes));
  }

  #dispatch(): void {
    if (this.#dispatching || this.#finished) return;
    this.#dispatching = true;
    try {
      const limit = this.#options.subflowWriteHighWaterBytes;
      for (let rec = this.#window.peekPending(); rec !== undefined; rec = this.#window.peekPending()) {
        const room: Subflow[] = [];
        for (const s of this.#subflows.values()) if (s.up && s.writableBytes < limit) room.push(s);
        if (room.length === 0) break;
        const chosen = room.length === 1 ? room[0] : this.#scheduler.pick(room, rec.payload.length) as Subflow;
        this.#window.shiftPending();
        this.#transmit(rec, chosen);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #transmit(rec: OutRecord, subflow: Subflow): void {
    const st = subflow.stats;
    const bytes = rec.payload.length;
    if (rec.transmissions > 0) {
      st.retransmittedBytes += bytes;
      this.#retransmittedBytes += bytes;
      this.#retransmittedMessages++;
    } else if ((rec.flags & FLAG_FIN) === 0) {
      st.bytesSent += bytes;
      st.messagesSent++;
    }
    st.scheduledBytes += bytes;
    if (rec.slot >= 0) this.#slotStats(rec.slot).inflightBytes -= bytes;
    st.inflightBytes += bytes;
    rec.transmissions++;
    rec.slot = subflow.slot;
    rec.sentAtMs = performance.now();
    subflow.write(rec.header, rec.payload);
  }

  #onAck(cumAck: number, windowBytes: number): void {
    this.#lastAckMs = performance.now();
    this.#peerWindowBytes = windowBytes;
    const before = this.#window.una;
    this.#window.ack(cumAck, this.#onAcked);
    const una = this.#window.una;
    if (una > before) this.#lastAckProgressMs = this.#lastAckMs;
    const limit = this.#windowBytes();
    if (this.#sendWaiters.length > 0) {
      const still: SendWaiter[] = [];
      for (const w of this.#sendWaiters) {
        if (w.rec.dsn < una || this.#window.unackedBytes <= limit) w.resolve();
        else still.push(w);
      }
      this.#sendWaiters = still;
    }
    const cw = this.#closeWaiter;
    if (cw !== undefined && cw.rec.dsn < una) {
      this.#closeWaiter = undefined;
      cw.resolve();
    }
    this.#checkDone();
    this.#dispatch();
  }

  readonly #onAcked = (rec: OutRecord): void => {
    if (rec.slot < 0) return;
    const st = this.#slotStats(rec.slot);
    st.inflightBytes -= rec.payload.length;
    st.ackedBytes += rec.payload.length;
    if (st.inflightBytes === 0) st.wentIdle = true;
  };

  #slotStats(slot: number): SlotStats {
    return this.#slots.get(slot) as SlotStats;
  }

  // ---- receiving ----

  #onData(subflow: Subflow, dsn: number, flags: number, epoch: number, payload: Uint8Array): void {
    subflow.ackDue = true;
    this.#scheduleAckFlush();
    if (this.#reassembly.isDuplicate(dsn)) {
      this.#duplicatesDropped++;
      return;
    }
    if (this.#peerFinDsn >= 0 && dsn > this.#peerFinDsn) {
      throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `The peer sent DSN ${dsn} after its FIN (DSN ${this.#peerFinDsn})`);
    }
    if ((flags & FLAG_FIN) !== 0) {
      this.#peerFinDsn = dsn;
    } else {
      const { messageLength } = this.#options;
      if (messageLength !== undefined) {
        // The message format's own check, as a stream transport applies it when splitting.
        const n = messageLength(payload);
        if (n !== payload.length) {
          throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `A ${payload.length}-byte message announces ${String(n)} bytes in its header`);
        }
      }
      subflow.stats.bytesReceived += payload.length;
    }
    this.#reassembly.receive(dsn, flags, epoch, payload);
    // The peer's FIN is delivered: acknowledge it now, before the consumer's loop ends (a microtask
    // later), not on the next turn; a consumer that exits then would leave the peer's close() hanging.
    if (this.#peerFinDsn >= 0 && this.#reassembly.cumAck > this.#peerFinDsn && !this.#ackWithheld) this.#flushAcks(true);
    // Held bytes never exceed the window we advertise unless the peer ignores it.
    if (this.#reassembly.heldBytes > this.#options.receiveHighWaterBytes + this.#options.maxMessageBytes) {
      throw new LivemigError(
        'LIVEMIG_E_TRANSPORT_MALFORMED',
        `The peer overran the receive window: ${this.#reassembly.heldBytes} bytes wait for reordering (window ${this.#options.receiveHighWaterBytes})`,
      );
    }
  }

  #deliver(payload: Uint8Array, fin: boolean): void {
    if (fin) {
      this.#queue.end();
      return;
    }
    this.#bytesReceived += payload.length;
    this.#messagesReceived++;
    this.#queue.push(payload);
    if (this.#queue.bytes > this.#options.receiveHighWaterBytes) this.#ackWithheld = true;
  }

  #onConsume(): void {
    this.#idle.touch();
    if (this.#ackWithheld && this.#queue.bytes <= this.#options.receiveHighWaterBytes) {
      this.#ackWithheld = false;
      this.#flushAcks(true);
    }
  }

  #scheduleAckFlush(): void {
    if (this.#ackFlushScheduled) return;
    this.#ackFlushScheduled = true;
    // One ACK per subflow per burst of frames, not one per message.
    setImmediate(() => {
      this.#ackFlushScheduled = false;
      if (!this.#ackWithheld) this.#flushAcks(false);
    });
  }

  /** ACKs on every subflow that brought data (or, with `any`, at least one subflow). */
  #flushAcks(any: boolean): void {
    if (this.#finished) return;
    let sent = false;
    for (const s of this.#subflows.values()) {
      if (s.up && s.ackDue) {
        this.#writeAck(s);
        sent = true;
      }
    }
    if (!sent && any) {
      for (const s of this.#subflows.values()) {
        if (s.up) {
          this.#writeAck(s);
          break;
        }
      }
    }
    this.#checkDone();
  }

  #writeAck(subflow: Subflow): void {
    subflow.ackDue = false;
    this.#ackedUpTo = this.#reassembly.cumAck;
    subflow.write(encodeAck(this.#ackedUpTo, this.#options.receiveHighWaterBytes));
  }

  // ---- lifecycle ----

  /** Finished both ways: our FIN acknowledged, and the peer's FIN acknowledged by us. */
  #checkDone(): void {
    if (this.#finished || this.#closing === undefined || this.#closeWaiter !== undefined) return;
    if (this.#peerFinDsn < 0 || this.#ackedUpTo <= this.#peerFinDsn) return;
    // The final ACK goes on every subflow before its end, so the peer reads it before any EOF.
    for (const s of this.#subflows.values()) if (s.up) this.#writeAck(s);
    this.#finish();
    for (const s of this.#subflows.values()) s.end();
  }

  #finish(): void {
    this.#finished = true;
    this.#idle.stop();
    clearInterval(this.#tick);
    if (this.#allDownTimer !== undefined) clearTimeout(this.#allDownTimer);
    this.#owner.onFinished();
  }

  #armAllDown(): void {
    if (this.#allDownTimer !== undefined) return;
    const ms = this.#options.rejoinTimeoutMs;
    this.#allDownTimer = setTimeout(() => {
      this.#allDownTimer = undefined;
      if (this.#subflows.size > 0) return;
      this.#fail(new LivemigError(
        'LIVEMIG_E_TRANSPORT_CLOSED',
        `Every subflow of multipath session ${this.token.slice(0, 8)} is down and none rejoined within ${ms} ms `
        + '(rejoinTimeoutMs); check the peer process and the network paths',
      ), false, false);
    }, ms);
  }

  #onTick(): void {
    const now = performance.now();
    for (const s of this.#subflows.values()) s.sample(now);
    // A gap can only be filled by the sender: tell it where we are, so it can reinject.
    if (this.#reassembly.hasGap && !this.#ackWithheld) this.#flushAcks(true);
    this.#maybeReinject(now);
  }

  /**
   * Opportunistic retransmission (as MPTCP's): the window is full and the ACK has not moved for
   * reinjectAfterMs although ACKs keep coming (so the peer is reading, not pushing back) — the
   * oldest message is stuck behind a slow subflow. Its slot's old messages go out again elsewhere.
   */
  #maybeReinject(now: number): void {
    const after = this.#options.reinjectAfterMs;
    if (after === 0 || this.#subflows.size < 2) return;
    if (this.#window.unackedBytes < this.#windowBytes() && this.#closeWaiter === undefined) return;
    if (now - this.#lastAckProgressMs < after || now - this.#lastAckMs > after) return;
    const oldest = this.#window.oldest();
    if (oldest === undefined || oldest.pending || now - oldest.sentAtMs < after) return;
    const stuck = this.#window.onSlot(oldest.slot).filter((r) => now - r.sentAtMs >= after);
    this.#window.requeue(stuck);
    this.#lastAckProgressMs = now;
    // Keep them off the slow slot while it is the only other choice.
    const slow = this.#subflows.get(oldest.slot);
    const others = [...this.#subflows.values()].filter((s) => s !== slow && s.up);
    for (let rec = this.#window.peekPending(); rec !== undefined && others.length > 0; rec = this.#window.peekPending()) {
      const room = others.filter((s) => s.writableBytes < this.#options.subflowWriteHighWaterBytes);
      if (room.length === 0) break;
      this.#window.shiftPending();
      this.#transmit(rec, room.length === 1 ? room[0] : this.#scheduler.pick(room, rec.payload.length) as Subflow);
    }
    this.#dispatch();
  }

  #onIdle(): void {
    const ms = this.#options.idleTimeoutMs;
    this.#fail(new LivemigError(
      'LIVEMIG_E_TRANSPORT_TIMEOUT',
      `No data moved on multipath session ${this.token.slice(0, 8)} for ${ms} ms (idleTimeoutMs); check that the peer `
      + 'process is alive and not stalled, and that the network paths are up, or raise idleTimeoutMs',
    ), true, true);
  }

  #onPeerAbort(codeNumber: number, message: string): void {
    const code = errorCodeFromNumber(codeNumber) ?? 'LIVEMIG_E_TRANSPORT_CLOSED';
    this.#fail(new LivemigError(
      'LIVEMIG_E_TRANSPORT_CLOSED',
      `The peer aborted the multipath channel (${code}): ${message}`,
    ), false, false);
  }

  /**
   * Breaks the channel: fails the consumer (at once when `local`, else after what already arrived),
   * pending sends and close; tells the peer with an ABORT frame on every subflow when `tellPeer`.
   */
  #fail(err: unknown, local: boolean, tellPeer: boolean): void {
    if (this.#error !== undefined) {
      if (local) this.#queue.fail(this.#error, true);
      return;
    }
    this.#error = err;
    this.#queue.fail(err, local);
    for (const w of this.#sendWaiters.splice(0)) w.reject(err);
    this.#closeWaiter?.reject(err);
    this.#closeWaiter = undefined;
    // A close() promise nobody awaits must not become an unhandled rejection.
    this.#closing?.catch(() => undefined);
    const wasFinished = this.#finished;
    if (!wasFinished) this.#finish();
    const code = isLivemigError(err) ? ERROR_CODE_NUMBERS[err.code] : ERROR_CODE_NUMBERS.LIVEMIG_E_TRANSPORT_CLOSED;
    const frame = encodeAbort(code, err instanceof Error ? err.message : String(err));
    for (const s of this.#subflows.values()) {
      if (tellPeer) s.abort(frame);
      else s.destroy(err);
    }
    this.#subflows.clear();
  }
}
