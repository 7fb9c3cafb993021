/**
 * PAGES bodies: many page records in one frame.
 *
 * Grammar (little-endian):
 *
 *     pages-body   = record-count:u32  record{record-count}      ; records fill the body exactly
 *     record       = page-index:u32  codec-id:u8  payload-length:u24  payload:byte{payload-length}
 *
 * The 24-bit length keeps the record header at 8 bytes while still holding a raw 64 KiB page (a
 * u16 cannot). The codec id is not checked here: the codec registry rejects ids it does not know.
 */

import { LivemigError } from '../core/errors.js';
import { malformed } from './binary.js';
import { allocFrame, assertHeaderFields, assertUint, sealFrame } from './frame-header.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameType, MAX_MAX_FRAME_BYTES, type FrameHeaderFields } from './types.js';

/** Bytes before the first record in a PAGES body (the record count). */
export const PAGES_BODY_HEADER_BYTES = 4;
/** Bytes of one record's header (page index, codec id, payload length). */
export const PAGE_RECORD_HEADER_BYTES = 8;
/** Largest payload one record can carry (24-bit length). */
export const MAX_RECORD_PAYLOAD_BYTES = 0xff_ffff;
/** Smallest maxFrameBytes a PageBatchBuilder accepts: room for one empty record. */
export const MIN_BATCH_FRAME_BYTES = FRAME_HEADER_BYTES + PAGES_BODY_HEADER_BYTES + PAGE_RECORD_HEADER_BYTES;

const RECORDS_START = FRAME_HEADER_BYTES + PAGES_BODY_HEADER_BYTES;
const U32_MAX = 0xffff_ffff;

/** Called once per record; `payload` is a view into the frame body (copy it to keep it). */
export type PageRecordVisitor = (pageIndex: number, codecId: number, payload: Uint8Array) => void;

/**
 * Builds PAGES frames without copying payloads: `reserve` hands out a view of the batch buffer,
 * the caller's codec encodes straight into it, and `commit` records what was written. `finish`
 * seals the frame and returns it in a fresh buffer; the builder is then empty and reusable.
 *
 * A reservation that is not committed is abandoned by the next `reserve` or `finish` (e.g. when
 * an encoder returned null and the caller falls back to another codec).
 */
export class PageBatchBuilder {
  readonly #maxFrameBytes: number;
  #buf: Uint8Array;
  #view: DataView;
  #offset = RECORDS_START;
  #reserved = -1;
  #count = 0;
  #payloadBytes = 0;

  readonly #allocate: (bytes: number) => Uint8Array;

  /**
   * @param maxFrameBytes Largest frame to build (header included), in bytes. @default DEFAULT_MAX_FRAME_BYTES
   * @param allocate Supplies the batch buffers (e.g. from a pool of reused ones, since touching
   *   fresh memory costs page faults). @default a fresh buffer each time
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES, allocate: (bytes: number) => Uint8Array = allocFrame) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < MIN_BATCH_FRAME_BYTES || maxFrameBytes > MAX_MAX_FRAME_BYTES) {
      throw new LivemigError(
        'LIVEMIG_E_INVALID_OPTION',
        `Expected maxFrameBytes to be an integer in ${MIN_BATCH_FRAME_BYTES}..${MAX_MAX_FRAME_BYTES}, got ${maxFrameBytes}`,
      );
    }
    this.#maxFrameBytes = maxFrameBytes;
    this.#allocate = allocate;
    this.#buf = allocate(maxFrameBytes);
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, maxFrameBytes);
  }

  /** The frame limit this builder respects, in bytes. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** Records committed to the current batch. */
  get count(): number {
    return this.#count;
  }

  /** Payload bytes committed to the current batch (record headers excluded). */
  get payloadBytes(): number {
    return this.#payloadBytes;
  }

  /** Bytes the frame would have if finished now (header and record headers included). */
  get frameBytes(): number {
    return this.#offset;
  }

  /** The largest payload a `reserve` could get now, in bytes (0 when not even a header fits). */
  get remainingPayloadBytes(): number {
    return Math.min(MAX_RECORD_PAYLOAD_BYTES, Math.max(0, this.#maxFrameBytes - this.#offset - PAGE_RECORD_HEADER_BYTES));
  }

  /**
   * A view of `maxPayloadBytes` bytes of the batch buffer to encode one payload into, or null when
   * the batch is full (finish it and retry). Throws LIVEMIG_E_INVALID_OPTION if the payload could
   * not fit even an empty batch, since retrying would never succeed.
   */
  reserve(maxPayloadBytes: number): Uint8Array | null {
    assertUint(maxPayloadBytes, MAX_RECORD_PAYLOAD_BYTES, 'reserved payload bytes');
    const start = this.#offset + PAGE_RECORD_HEADER_BYTES;
    if (start + maxPayloadBytes > this.#maxFrameBytes) {
      this.#reserved = -1;
      if (this.#count === 0) {
        throw new LivemigError(
          'LIVEMIG_E_INVALID_OPTION',
          `maxFrameBytes ${this.#maxFrameBytes} cannot hold a ${maxPayloadBytes}-byte page payload: raise maxFrameBytes`,
        );
      }
      return null;
    }
    this.#reserved = maxPayloadBytes;
    return this.#buf.subarray(start, start + maxPayloadBytes);
  }

  /** Records the payload the caller wrote into the last reservation: its first `length` bytes. */
  commit(pageIndex: number, codecId: number, length: number): void {
    if (this.#reserved < 0) {
      throw new LivemigError('LIVEMIG_E_INTERNAL', 'PageBatchBuilder.commit() without a reserve() before it', { phase: 'wire' });
    }
    assertUint(length, this.#reserved, 'committed payload length');
    assertUint(pageIndex, U32_MAX, 'page index');
    assertUint(codecId, 0xff, 'codec id');
    const at = this.#offset;
    this.#view.setUint32(at, pageIndex, true);
    // codec id in the low byte, the 24-bit length above it: one aligned-size store.
    this.#view.setUint32(at + 4, codecId | (length << 8), true);
    this.#offset = at + PAGE_RECORD_HEADER_BYTES + length;
    this.#reserved = -1;
    this.#count++;
    this.#payloadBytes += length;
  }

  /** Copies `payload` in as one record. False when the batch is full (nothing was added). */
  add(pageIndex: number, codecId: number, payload: Uint8Array): boolean {
    const out = this.reserve(payload.length);
    if (out === null) return false;
    out.set(payload);
    this.commit(pageIndex, codecId, payload.length);
    return true;
  }

  /**
   * Seals the batch as one PAGES frame and returns it; the builder never touches it again, so the
   * channel may own it. A batch at least half full is handed over without a copy (the frame is
   * then a view of a maxFrameBytes buffer); a smaller one is copied into an exact-size buffer.
   * The builder is empty afterwards. An empty batch makes a valid frame of zero records.
   */
  finish(fields: FrameHeaderFields = {}): Uint8Array {
    const { round = 0, seq = 0, flags = 0 } = fields;
    assertHeaderFields(FrameType.PAGES, flags, round, seq);
    const total = this.#offset;
    this.#view.setUint32(FRAME_HEADER_BYTES, this.#count, true);
    sealFrame(this.#buf, FrameType.PAGES, flags, total - FRAME_HEADER_BYTES, round, seq);
    let frame: Uint8Array;
    if (total * 2 >= this.#maxFrameBytes) {
      // A mostly full batch: hand the buffer itself over (no copy) and start a new one.
      frame = this.#buf.subarray(0, total);
      this.#buf = this.#allocate(this.#maxFrameBytes);
      this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#maxFrameBytes);
    } else {
      // A small batch: copy it out so the frame does not pin a whole maxFrameBytes buffer.
      frame = allocFrame(total);
      frame.set(this.#buf.subarray(0, total));
    }
    this.reset();
    return frame;
  }

  /** Drops the current batch. */
  reset(): void {
    this.#offset = RECORDS_START;
    this.#reserved = -1;
    this.#count = 0;
    this.#payloadBytes = 0;
  }
}

/**
 * Calls `fn` for every record of a PAGES body, in order, and returns the record count. The whole
 * body is validated first (count, every record's bounds, no trailing bytes), so a malformed batch
 * throws LIVEMIG_E_WIRE_MALFORMED before `fn` sees any record, and nothing is read out of bounds.
 */
export function forEachPageRecord(body: Uint8Array, fn: PageRecordVisitor): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const count = validatePagesBody(body, view);
  let at = PAGES_BODY_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const pageIndex = view.getUint32(at, true);
    const word = view.getUint32(at + 4, true);
    const start = at + PAGE_RECORD_HEADER_BYTES;
    const end = start + (word >>> 8);
    fn(pageIndex, word & 0xff, body.subarray(start, end));
    at = end;
  }
  return count;
}

/** Validates a PAGES body's structure and returns its record count. */
function validatePagesBody(body: Uint8Array, view: DataView): number {
  const what = 'PAGES';
  if (body.length < PAGES_BODY_HEADER_BYTES) throw malformed(what, `body of ${body.length} bytes has no record count`);
  const count = view.getUint32(0, true);
  // Cheap bound first: a count the body cannot possibly hold is rejected without walking it.
  if (count > (body.length - PAGES_BODY_HEADER_BYTES) / PAGE_RECORD_HEADER_BYTES) {
    throw malformed(what, `record count ${count} cannot fit in a body of ${body.length} bytes`);
  }
  let at = PAGES_BODY_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (body.length - at < PAGE_RECORD_HEADER_BYTES) {
      throw malformed(what, `record ${i} of ${count}: header at byte ${at} runs past the body end (${body.length})`);
    }
    const length = view.getUint32(at + 4, true) >>> 8;
    at += PAGE_RECORD_HEADER_BYTES;
    if (body.length - at < length) {
      throw malformed(what, `record ${i} of ${count}: ${length}-byte payload at byte ${at} runs past the body end (${body.length})`);
    }
    at += length;
  }
  if (at !== body.length) throw malformed(what, `${body.length - at} bytes after the last of ${count} records`);
  return count;
}

/** Record count of a PAGES body after validating it, without visiting records. */
export function countPageRecords(body: Uint8Array): number {
  return validatePagesBody(body, new DataView(body.buffer, body.byteOffset, body.byteLength));
}
