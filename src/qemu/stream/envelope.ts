/**
 * How driver B carries a QEMU stream inside livemig PAGES frames (interim, until the wire grows a
 * frame type of its own). Every item is one PAGES record, in stream order:
 *
 *   opaque bytes    page-index 0      codec-id 0xFF  payload = the bytes (≤ OPAQUE_PIECE_BYTES)
 *   verbatim record page-index = idx  codec-id 0xFE  payload = the whole QEMU record, as on the wire
 *   page record     page-index = idx  codec-id = a livemig codec
 *                                     payload = QEMU record header (be64 [u8 len idstr]) + codec payload
 *   block record    page-index = first member  codec-id = a block codec (8..11)
 *                                     payload = a run of PAGE records' headers + one block (page-blocks.ts)
 *
 * idx is the page's global index (block firstPage + offsetInBlock / pageSize), the key of both
 * agents' page cache and PageMirror. Ids 0xFE/0xFF are above every livemig codec id.
 */

import { LivemigError } from '../../core/errors.js';
import { ENCODING_FLAG_XBZRLE, RamFlag } from './constants.js';
import type { RamPageEvent, RamRecordType } from './types.js';

/** Codec id of an opaque-bytes record. */
export const OPAQUE_RECORD_ID = 0xff;
/** Codec id of a RAM record sent as it was (its page could not be rebuilt from content). */
export const VERBATIM_RECORD_ID = 0xfe;
/** Largest opaque piece per record, in bytes. */
export const OPAQUE_PIECE_BYTES = 256 * 1024;

const TWO32 = 0x1_0000_0000;
const latin1 = new TextDecoder('latin1');

function malformed(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `driver B envelope: ${message}`, { phase: 'qemu-stream' });
}

/** A QEMU record header parsed back from an envelope payload. */
export interface ParsedRecordHeader {
  record: RamRecordType;
  flags: number;
  offsetInBlock: number;
  /** Block name, or null when the record CONTINUEs the previous block. */
  block: string | null;
  /** Bytes of the header. */
  length: number;
}

/** Parses the QEMU record header at the start of `bytes`. */
export function parseRecordHeader(bytes: Uint8Array, pageSize: number): ParsedRecordHeader {
  if (bytes.length < 8) throw malformed(`record header of ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v = view.getUint32(0) * TWO32 + view.getUint32(4);
  const flags = v % pageSize;
  const base = flags & ~RamFlag.CONTINUE;
  const record: RamRecordType | null = base === RamFlag.PAGE ? 'page' : base === RamFlag.ZERO ? 'zero' : base === RamFlag.XBZRLE ? 'xbzrle' : null;
  if (record === null) throw malformed(`record flags 0x${flags.toString(16)}`);
  if (flags & RamFlag.CONTINUE) return { record, flags, offsetInBlock: v - flags, block: null, length: 8 };
  if (bytes.length < 9 || bytes.length < 9 + bytes[8]) throw malformed('record header cut inside its block name');
  return { record, flags, offsetInBlock: v - flags, block: latin1.decode(bytes.subarray(9, 9 + bytes[8])), length: 9 + bytes[8] };
}

/** Parses one whole QEMU RAM record (a verbatim envelope payload) into a ram-page event. */
export function parseVerbatimRecord(bytes: Uint8Array, pageSize: number, lastBlock: string | null): RamPageEvent {
  const h = parseRecordHeader(bytes, pageSize);
  const block = h.block ?? lastBlock;
  if (block === null) throw malformed('a CONTINUE record before any named block');
  let at = h.length;
  let len: number;
  if (h.record === 'page') len = pageSize;
  else if (h.record === 'zero') len = 1;
  else {
    if (bytes.length < at + 3 || bytes[at] !== ENCODING_FLAG_XBZRLE) throw malformed('XBZRLE record without its 0x01 and length');
    len = (bytes[at + 1] << 8) | bytes[at + 2];
    at += 3;
  }
  if (bytes.length !== at + len) throw malformed(`verbatim ${h.record} record of ${bytes.length} bytes, expected ${at + len}`);
  return { kind: 'ram-page', record: h.record, block, blockIndex: -1, offsetInBlock: h.offsetInBlock, flags: h.flags, data: bytes.subarray(at) };
}
