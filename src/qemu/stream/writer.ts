/**
 * The destination side of the stream layer: turns parser events back into QEMU's bytes.
 *
 *   opaque    → its bytes, unchanged
 *   ram-page  → be64(offsetInBlock | flags) [u8 len, idstr unless CONTINUE] payload
 *               payload: page → data (pageSize bytes); zero → data[0]; xbzrle → 0x01 be16(len) data
 *   ram-blocks, passthrough → nothing (they describe bytes carried by other events)
 *
 * Every ram-page is checked before a byte of it is written (flags, sizes, alignment), so an event
 * that cannot be a valid record raises LIVEMIG_E_QEMU_STREAM_MALFORMED instead of a wrong stream.
 */

import { LivemigError } from '../../core/errors.js';
import { ENCODING_FLAG_XBZRLE, RamFlag } from './constants.js';
import type { RamPageEvent, StreamEvent } from './types.js';

/** Receives the rebuilt stream, in order. The writer never touches a chunk after handing it over. */
export type ByteSink = (bytes: Uint8Array) => void;

const TWO32 = 0x1_0000_0000;

function malformed(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `cannot rebuild the QEMU stream: ${message}`, { phase: 'qemu-stream' });
}

/** Bytes of a ram-page event's record header: be64, plus u8 len and the idstr unless CONTINUE. */
export function ramRecordHeaderLength(event: RamPageEvent): number {
  return (event.flags & RamFlag.CONTINUE) !== 0 ? 8 : 9 + event.block.length;
}

/**
 * Writes the record header of a ram-page event (be64 and, unless CONTINUE, the block name) at
 * `out[at..]`, after checking it can be a valid record; returns its length in bytes.
 */
export function writeRamRecordHeader(event: RamPageEvent, pageSize: number, out: Uint8Array, at = 0): number {
  const { flags, offsetInBlock } = event;
  const base = flags & ~RamFlag.CONTINUE;
  const expected = event.record === 'page' ? RamFlag.PAGE : event.record === 'zero' ? RamFlag.ZERO : RamFlag.XBZRLE;
  if (base !== expected) throw malformed(`a ${event.record} record with flags 0x${flags.toString(16)}`);
  if (!Number.isSafeInteger(offsetInBlock) || offsetInBlock < 0 || offsetInBlock % pageSize !== 0) {
    throw malformed(`offset ${offsetInBlock} is not a multiple of the ${pageSize}-byte page`);
  }
  const continued = (flags & RamFlag.CONTINUE) !== 0;
  const name = event.block;
  if (!continued && (name.length === 0 || name.length > 255 || !isLatin1(name))) {
    throw malformed(`block name '${name}' cannot be an idstr (1..255 latin1 bytes)`);
  }
  const length = continued ? 8 : 9 + name.length;
  if (out.length - at < length) throw new RangeError(`record header needs ${length} bytes at ${at}`);
  const v = offsetInBlock + flags;
  writeBe32(out, at, Math.floor(v / TWO32));
  writeBe32(out, at + 4, v % TWO32);
  if (!continued) {
    out[at + 8] = name.length;
    for (let i = 0; i < name.length; i++) out[at + 9 + i] = name.charCodeAt(i);
  }
  return length;
}

function writeBe32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/** The record header of a ram-page event (be64 and, unless CONTINUE, the block name). */
export function ramRecordHeader(event: RamPageEvent, pageSize: number): Uint8Array {
  const header = new Uint8Array(8 + ((event.flags & RamFlag.CONTINUE) !== 0 ? 0 : 1 + Math.min(event.block.length, 255)));
  const n = writeRamRecordHeader(event, pageSize, header);
  return n === header.length ? header : header.subarray(0, n);
}

/** Checks a ram-page's data against its record type; returns the bytes between header and data. */
function payloadPrefix(event: RamPageEvent, pageSize: number): Uint8Array | null {
  const n = event.data.length;
  switch (event.record) {
    case 'page':
      if (n !== pageSize) throw malformed(`a PAGE record with ${n} bytes of data, expected ${pageSize}`);
      return null;
    case 'zero':
      if (n !== 1) throw malformed(`a ZERO record with ${n} bytes of data, expected 1 (the fill byte)`);
      return null;
    case 'xbzrle':
      if (n > pageSize || n > 0xffff) throw malformed(`an XBZRLE record of ${n} bytes (at most ${pageSize})`);
      return Uint8Array.of(ENCODING_FLAG_XBZRLE, n >>> 8, n & 0xff);
  }
}

/**
 * Writes a whole ram-page record (header, payload prefix, data) at `out[at..]`, checked like
 * `writeEvent`; returns its length (`eventByteLength(event)`) in bytes.
 */
export function writeRamRecord(event: RamPageEvent, pageSize: number, out: Uint8Array, at = 0): number {
  let n = writeRamRecordHeader(event, pageSize, out, at);
  const prefix = payloadPrefix(event, pageSize);
  if (prefix !== null) {
    out.set(prefix, at + n);
    n += prefix.length;
  }
  out.set(event.data, at + n);
  return n + event.data.length;
}

/**
 * Serialises one event into `sink` (zero, one or several chunks; page data is handed over without a
 * copy). Throws LIVEMIG_E_QEMU_STREAM_MALFORMED for a ram-page that is not a valid record.
 */
export function writeEvent(event: StreamEvent, sink: ByteSink, pageSize = 4096): void {
  switch (event.kind) {
    case 'opaque':
      if (event.bytes.length > 0) sink(event.bytes);
      return;
    case 'ram-page': {
      const header = ramRecordHeader(event, pageSize);
      const prefix = payloadPrefix(event, pageSize);
      sink(header);
      if (prefix !== null) sink(prefix);
      if (event.data.length > 0) sink(event.data);
      return;
    }
    case 'ram-blocks':
    case 'passthrough':
      return;
  }
}

/** Bytes `writeEvent` would produce for `event`. */
export function eventByteLength(event: StreamEvent): number {
  switch (event.kind) {
    case 'opaque': return event.bytes.length;
    case 'ram-page': {
      const name = (event.flags & RamFlag.CONTINUE) !== 0 ? 0 : 1 + Buffer.byteLength(event.block, 'latin1');
      return 8 + name + (event.record === 'xbzrle' ? 3 : 0) + event.data.length;
    }
    default: return 0;
  }
}

/**
 * Rebuilds a stream from events in order. Learns the page size from the `ram-blocks` event (the
 * option is the default before it).
 */
export class QemuStreamWriter {
  readonly #sink: ByteSink;
  #pageSize: number;
  #bytesOut = 0;

  /**
   * @param sink where the rebuilt bytes go.
   * @param pageSize target page size in bytes before a ram-blocks event says otherwise. @default 4096
   */
  constructor(sink: ByteSink, pageSize = 4096) {
    this.#sink = (bytes) => {
      this.#bytesOut += bytes.length;
      sink(bytes);
    };
    this.#pageSize = pageSize;
  }

  /** Bytes written so far. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  write(event: StreamEvent): void {
    if (event.kind === 'ram-blocks') this.#pageSize = event.pageSize;
    writeEvent(event, this.#sink, this.#pageSize);
  }

  writeAll(events: Iterable<StreamEvent>): void {
    for (const e of events) this.write(e);
  }
}

/** Serialises events into one buffer (tests, tools). */
export function serializeEvents(events: Iterable<StreamEvent>, pageSize = 4096): Uint8Array {
  const chunks: Uint8Array[] = [];
  new QemuStreamWriter((b) => chunks.push(b), pageSize).writeAll(events);
  return Buffer.concat(chunks);
}
