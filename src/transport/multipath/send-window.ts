/**
 * The sender's side of reliability: every message (and the FIN) gets a data sequence number, stays
 * here until the peer acknowledges it cumulatively, and waits in a pending queue (in DSN order)
 * until a subflow takes it — again after the subflow that carried it died.
 */
import { LivemigError } from '../../core/index.js';
import { encodeDataHeader, FLAG_BARRIER, FLAG_FIN } from './frames.js';

/** One message in flight. */
export interface OutRecord {
  readonly dsn: number;
  readonly flags: number;
  readonly header: Buffer;
  readonly payload: Uint8Array;
  /** Slot that carried the latest copy; -1 before the first transmission. */
  slot: number;
  transmissions: number;
  /** performance.now() of the latest transmission. */
  sentAtMs: number;
  pending: boolean;
}

export class SendWindow {
  #nextDsn = 0;
  /** 1 + the DSN of the last barrier sent, 0 before the first. */
  #epoch = 0;
  #unacked: OutRecord[] = [];
  #unackedHead = 0;
  #unackedBytes = 0;
  #pending: OutRecord[] = [];
  #pendingHead = 0;

  /** Lowest DSN not yet acknowledged. */
  get una(): number {
    return this.#unackedHead < this.#unacked.length ? this.#unacked[this.#unackedHead].dsn : this.#nextDsn;
  }

  get nextDsn(): number {
    return this.#nextDsn;
  }

  /** Payload bytes sent and not yet acknowledged (the window in use). */
  get unackedBytes(): number {
    return this.#unackedBytes;
  }

  get hasPending(): boolean {
    return this.#pendingHead < this.#pending.length;
  }

  /** Assigns the next DSN to a message (or the FIN) and queues it for transmission. */
  add(payload: Uint8Array, barrier: boolean, fin: boolean): OutRecord {
    const dsn = this.#nextDsn++;
    const flags = (barrier ? FLAG_BARRIER : 0) | (fin ? FLAG_FIN : 0);
    const rec: OutRecord = {
      dsn, flags, header: encodeDataHeader(flags, payload.length, dsn, this.#epoch), payload,
      slot: -1, transmissions: 0, sentAtMs: 0, pending: true,
    };
    if (barrier || fin) this.#epoch = dsn + 1;
    this.#unacked.push(rec);
    this.#unackedBytes += payload.length;
    this.#pending.push(rec);
    return rec;
  }

  /** The next record to transmit, skipping ones acknowledged meanwhile; undefined when none. */
  peekPending(): OutRecord | undefined {
    while (this.#pendingHead < this.#pending.length) {
      const rec = this.#pending[this.#pendingHead];
      if (rec.pending && rec.dsn >= this.una) return rec;
      rec.pending = false;
      this.#shiftPending();
    }
    return undefined;
  }

  /** Removes the record returned by peekPending (it was transmitted). */
  shiftPending(): void {
    this.#pending[this.#pendingHead].pending = false;
    this.#shiftPending();
  }

  /**
   * Takes a cumulative ACK; returns the number of bytes it freed. Throws on an ACK beyond what was
   * sent (a broken peer).
   */
  ack(cumAck: number, onAcked?: (rec: OutRecord) => void): number {
    if (cumAck > this.#nextDsn) {
      throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `The peer acknowledged DSN ${cumAck - 1}, but only ${this.#nextDsn} messages were sent`);
    }
    let freed = 0;
    while (this.#unackedHead < this.#unacked.length && this.#unacked[this.#unackedHead].dsn < cumAck) {
      const rec = this.#unacked[this.#unackedHead];
      this.#unacked[this.#unackedHead++] = undefined as unknown as OutRecord;
      rec.pending = false;
      freed += rec.payload.length;
      onAcked?.(rec);
    }
    if (this.#unackedHead === this.#unacked.length) {
      this.#unacked = [];
      this.#unackedHead = 0;
    } else if (this.#unackedHead >= 1024 && this.#unackedHead * 2 >= this.#unacked.length) {
      this.#unacked = this.#unacked.slice(this.#unackedHead);
      this.#unackedHead = 0;
    }
    this.#unackedBytes -= freed;
    return freed;
  }

  /** Unacknowledged records whose latest copy went out on `slot`, and not queued again yet. */
  onSlot(slot: number): OutRecord[] {
    const out: OutRecord[] = [];
    for (let i = this.#unackedHead; i < this.#unacked.length; i++) {
      const rec = this.#unacked[i];
      if (rec.slot === slot && !rec.pending) out.push(rec);
    }
    return out;
  }

  /** The oldest unacknowledged record, if any. */
  oldest(): OutRecord | undefined {
    return this.#unacked[this.#unackedHead];
  }

  /** Queues records again for transmission, ahead of newer ones (DSN order is kept). */
  requeue(records: OutRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) r.pending = true;
    const rest = this.#pending.slice(this.#pendingHead);
    const merged: OutRecord[] = [];
    let i = 0;
    let j = 0;
    records.sort((x, y) => x.dsn - y.dsn);
    while (i < records.length || j < rest.length) {
      if (j >= rest.length || (i < records.length && records[i].dsn < rest[j].dsn)) merged.push(records[i++]);
      else merged.push(rest[j++]);
    }
    this.#pending = merged;
    this.#pendingHead = 0;
  }

  #shiftPending(): void {
    this.#pending[this.#pendingHead++] = undefined as unknown as OutRecord;
    if (this.#pendingHead === this.#pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    } else if (this.#pendingHead >= 1024 && this.#pendingHead * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
  }
}
