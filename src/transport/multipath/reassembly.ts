/**
 * The receiver's reassembly: drops duplicates by data sequence number (DSN) and releases messages
 * in the channel's order.
 *
 *   strict:  a message is delivered when every lower DSN has been.
 *   barrier: a barrier (or FIN) is delivered when every lower DSN has been; any other message as
 *            soon as the last barrier before it (its epoch) has been — so between barriers messages
 *            flow in arrival order, and nothing overtakes a barrier in either direction.
 *
 * Held messages are bounded by the sender's window (the receiver checks it: see the channel).
 */
import { FLAG_BARRIER, FLAG_FIN } from './frames.js';
import type { MultipathOrdering } from './types.js';

interface Held {
  flags: number;
  epoch: number;
  payload: Uint8Array;
}

export class Reassembly {
  readonly #strict: boolean;
  readonly #deliver: (payload: Uint8Array, fin: boolean) => void;
  /** Every DSN below it has been delivered: the cumulative ACK. */
  #next = 0;
  /** Delivered DSNs above #next (barrier mode, messages that overtook). */
  readonly #above = new Set<number>();
  readonly #held = new Map<number, Held>();
  #heldBytes = 0;

  constructor(ordering: MultipathOrdering, deliver: (payload: Uint8Array, fin: boolean) => void) {
    this.#strict = ordering === 'strict';
    this.#deliver = deliver;
  }

  /** Every DSN below this one has been delivered. */
  get cumAck(): number {
    return this.#next;
  }

  /** Bytes received but waiting for lower DSNs or a barrier. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** True while something waits for a gap to be filled. */
  get hasGap(): boolean {
    return this.#held.size > 0 || this.#above.size > 0;
  }

  /** True when `dsn` was received before (a retransmitted or reinjected copy). */
  isDuplicate(dsn: number): boolean {
    return dsn < this.#next || this.#above.has(dsn) || this.#held.has(dsn);
  }

  /** Takes a new (non-duplicate) message and delivers whatever it releases. */
  receive(dsn: number, flags: number, epoch: number, payload: Uint8Array): void {
    if (this.#deliverable(dsn, flags, epoch)) {
      this.#release(dsn, flags, payload);
      this.#advance();
    } else {
      this.#held.set(dsn, { flags, epoch, payload });
      this.#heldBytes += payload.length;
    }
  }

  #deliverable(dsn: number, flags: number, epoch: number): boolean {
    if (this.#strict || (flags & (FLAG_BARRIER | FLAG_FIN)) !== 0) return dsn === this.#next;
    // Barrier epoch-1 has been delivered exactly when #next has passed it.
    return epoch === 0 || this.#next >= epoch;
  }

  #release(dsn: number, flags: number, payload: Uint8Array): void {
    if (dsn === this.#next) this.#next++;
    else this.#above.add(dsn);
    this.#deliver(payload, (flags & FLAG_FIN) !== 0);
  }

  #advance(): void {
    for (;;) {
      while (this.#above.delete(this.#next)) this.#next++;
      const h = this.#held.get(this.#next);
      if (h === undefined) return;
      const dsn = this.#next;
      this.#held.delete(dsn);
      this.#heldBytes -= h.payload.length;
      this.#release(dsn, h.flags, h.payload);
      if (!this.#strict && (h.flags & FLAG_BARRIER) !== 0) this.#releaseEpoch(dsn + 1);
    }
  }

  /** After barrier `epoch - 1`: the messages that waited for it, in DSN order. */
  #releaseEpoch(epoch: number): void {
    const ready: number[] = [];
    for (const [dsn, h] of this.#held) if (h.epoch === epoch && (h.flags & (FLAG_BARRIER | FLAG_FIN)) === 0) ready.push(dsn);
    ready.sort((x, y) => x - y);
    for (const dsn of ready) {
      const h = this.#held.get(dsn) as Held;
      this.#held.delete(dsn);
      this.#heldBytes -= h.payload.length;
      this.#release(dsn, h.flags, h.payload);
    }
  }
}
