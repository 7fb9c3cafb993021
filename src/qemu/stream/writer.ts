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
const latin1Bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

function malformed(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `cannot rebuild the QEMU stream: ${message}`, { phase: 'qemu-stream' });
}

/** The record header of a ram-page event (be64 and, unless CONTINUE, the block name). */
export function ramRecordHeader(event: RamPageEvent, pageSize: number): Uint8Array {
  const { flags, offsetInBlock } = event;
  const base = flags & ~RamFlag.CONTINUE;
  const expected = event.record === 'page' ? RamFlag.PAGE : event.record === 'zero' ? RamFlag.ZERO : RamFlag.XBZRLE;
  if (base !== expected) throw malformed(`a ${event.record} record with flags 0x${flags.toString(16)}`);
  if (!Number.isSafeInteger(offsetInBlock) || offsetInBlock < 0 || offsetInBlock % pageSize !== 0) {
    throw malformed(`offset ${offsetInBlock} is not a multiple of the ${pageSize}-byte page`);
  }
  const continued = (flags & RamFlag.CONTINUE) !== 0;
  const name = continued ? null : latin1Bytes(event.block);
  if (name !== null && (name.length === 0 || name.length > 255 || Buffer.from(name).toString('latin1') !== event.block)) {
    throw malformed(`block name '${event.block}' cannot be an idstr (1..255 latin1 bytes)`);
  }
  const header = new Uint8Array(8 + (name === null ? 0 : 1 + name.length));
  const view = new DataView(header.buffer);
  const v = offsetInBlock + flags;
  view.setUint32(0, Math.floor(v / TWO32));
  view.setUint32(4, v % TWO32);
  if (name !== null) {
    header[8] = name.length;
    header.set(name, 9);
  }
  return header;
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
