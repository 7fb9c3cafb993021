/**
 * Multi-page blocks in driver B: a run of consecutive PAGE records of the stream is compressed as
 * one block (src/codec/block.ts), because zstd and LZ4 find matches across pages. The run must be
 * unbroken in the stream (any other item closes it), so the destination rebuilds every byte in order.
 *
 *   block record  page-index = first member   codec-id = a block codec id (8..11)
 *                 payload = headers-length:u16be  headers  block-payload (mask + stream)
 *   headers       each member's QEMU record header (be64 [u8 len idstr]), in stream order
 *
 * Delta blocks carry each member's XOR with its cached old version, or with a zero page when the
 * cache has none (so the first pass rides in the same block as the page itself). Both sides do the
 * cache lookup and insert of each member in stream order, exactly as for a page record, so the two
 * caches stay equal. A lone page, or a block that does not compress, goes out as page records of
 * the family's page codecs instead (lz4/zstd over the page, lz4-delta/zstd-delta over the XOR).
 */

import {
  BLOCK_MASK_BYTES, MAX_BLOCK_PAGES, blockCodecById, blockMaskCount, memberCodecsOf, rawCodec, xorBytes, type BlockCodec,
} from '../../codec/index.js';
import { LivemigError } from '../../core/errors.js';
import { parseRecordHeader } from './envelope.js';
import type { RamPageEvent } from './types.js';
import { writeRamRecordHeader } from './writer.js';

/** Bytes of the headers-length prefix. */
const HEADERS_LENGTH_BYTES = 2;
/** Longest QEMU record header: be64, length byte, 255-byte block name. */
const MAX_HEADER_BYTES = 8 + 1 + 255;

/** Where a closing block writes: `reserve` (flushing a full batch first) and `commit`. */
export interface BlockSink {
  reserve(n: number): Uint8Array;
  commit(pageIndex: number, codecId: number, length: number): void;
}

/**
 * A closed run of PAGE records, ready to be written (here, or on libuv's pool by BlockCompressors).
 */
export interface StagedBlock extends StagedBlockBuffers {
  /** Block codec id (its family, delta flag) and zstd level (ignored for LZ4). */
  codecId: number;
  level: number;
  pageSize: number;
  count: number;
  maskLo: number;
  maskHi: number;
}

/** The arrays of a staged block; whole ones (BlockCompressors' buffers) are reused from block to block. */
export interface StagedBlockBuffers {
  /** The members' QEMU record headers back to back; member k's ends at headerEnds[k]. */
  headers: Uint8Array;
  headerEnds: Uint16Array;
  indexes: Uint32Array;
  /** Whether member k had an old version (its bytes are then an XOR). */
  hadOld: Uint8Array;
  /** What is compressed: pages (full blocks) or XORs (delta blocks), member k at k × pageSize. */
  bytes: Uint8Array;
  /** Delta blocks only: the new page of each member that had an old version, for the raw fallback. */
  pages: Uint8Array | null;
}

/**
 * Writes `b` as one block record, or (a lone page, or a block that does not pay) as one page record
 * per member with the family's page codecs; returns the codec payload bytes (QEMU headers excluded).
 */
export function writeStagedBlock(b: StagedBlock, sink: BlockSink): number {
  const codec = stagedCodecOf(b);
  if (b.count > 1) {
    const out = sink.reserve(blockRecordRoom(b));
    const length = codec.encode(b.maskLo, b.maskHi, b.bytes, out.subarray(HEADERS_LENGTH_BYTES + b.headers.length));
    if (length !== null) return commitBlockRecord(b, codec, out, length, sink);
  }
  return writeMemberRecords(b, codec, sink);
}

/**
 * writeStagedBlock with the compression on libuv's thread pool (BlockCodec.encodeAsync). The sink
 * is the caller's alone until it settles (the pool thread writes into its reservation).
 */
export async function writeStagedBlockAsync(b: StagedBlock, sink: BlockSink): Promise<number> {
  const codec = stagedCodecOf(b);
  if (b.count > 1) {
    const out = sink.reserve(blockRecordRoom(b));
    const length = await codec.encodeAsync(b.maskLo, b.maskHi, b.bytes, out.subarray(HEADERS_LENGTH_BYTES + b.headers.length));
    if (length !== null) return commitBlockRecord(b, codec, out, length, sink);
  }
  return writeMemberRecords(b, codec, sink);
}

function stagedCodecOf(b: StagedBlock): BlockCodec {
  return blockCodecById(b.codecId)!.configure({ zstdLevel: b.level });
}

/** The most bytes `b` takes as one block record (its payload never exceeds the pages themselves). */
function blockRecordRoom(b: StagedBlock): number {
  return HEADERS_LENGTH_BYTES + b.headers.length + BLOCK_MASK_BYTES + b.count * b.pageSize;
}

/** Writes the headers prefix before the block payload of `length` bytes in `out`, and commits it. */
function commitBlockRecord(b: StagedBlock, codec: BlockCodec, out: Uint8Array, length: number, sink: BlockSink): number {
  const { headers } = b;
  out[0] = headers.length >>> 8;
  out[1] = headers.length & 0xff;
  out.set(headers, HEADERS_LENGTH_BYTES);
  sink.commit(b.indexes[0], codec.id, HEADERS_LENGTH_BYTES + headers.length + length);
  return HEADERS_LENGTH_BYTES + length;
}

/** `b` as one page record per member, with the family's page codecs. */
function writeMemberRecords(b: StagedBlock, codec: BlockCodec, sink: BlockSink): number {
  const { count: n, pageSize: ps, headers } = b;
  const { page: single, deltaId: singleDeltaId } = memberCodecsOf(codec);
  let sent = 0;
  for (let k = 0, from = 0; k < n; k++) {
    const header = headers.subarray(from, b.headerEnds[k]);
    from = b.headerEnds[k];
    const rec = sink.reserve(header.length + ps);
    rec.set(header);
    const body = rec.subarray(header.length);
    let id = b.hadOld[k] === 1 ? singleDeltaId : single.id;
    let len = single.encode(null, b.bytes.subarray(k * ps, (k + 1) * ps), body);
    if (len === null) {
      id = rawCodec.id;
      len = ps;
      body.set((b.hadOld[k] === 1 ? b.pages! : b.bytes).subarray(k * ps, (k + 1) * ps));
    }
    sink.commit(b.indexes[k], id, header.length + len);
    sent += len;
  }
  return sent;
}

/** Fresh StagedBlockBuffers for blocks of `pageSize` pages (`pages` only for delta blocks). */
export function allocStagedBlockBuffers(pageSize: number, delta: boolean): StagedBlockBuffers {
  return {
    headers: new Uint8Array(MAX_BLOCK_PAGES * MAX_HEADER_BYTES), headerEnds: new Uint16Array(MAX_BLOCK_PAGES), indexes: new Uint32Array(MAX_BLOCK_PAGES),
    hadOld: new Uint8Array(MAX_BLOCK_PAGES), bytes: new Uint8Array(MAX_BLOCK_PAGES * pageSize), pages: delta ? new Uint8Array(MAX_BLOCK_PAGES * pageSize) : null,
  };
}

/** Source side: PAGE records waiting to be compressed together. */
export class BlockStage {
  readonly codec: BlockCodec;
  readonly #pageSize: number;
  readonly #maxSpan: number;
  readonly #headers = new Uint8Array(MAX_BLOCK_PAGES * MAX_HEADER_BYTES);
  readonly #headerEnds = new Uint16Array(MAX_BLOCK_PAGES);
  readonly #indexes = new Uint32Array(MAX_BLOCK_PAGES);
  readonly #bytes: Uint8Array;
  readonly #pages: Uint8Array | null;
  readonly #hadOld = new Uint8Array(MAX_BLOCK_PAGES);
  #count = 0;
  #headerBytes = 0;
  #maskLo = 0;
  #maskHi = 0;

  /** `span`: a block covers at most this many consecutive page indexes (2..64). */
  constructor(codec: BlockCodec, pageSize: number, span: number) {
    this.codec = codec;
    this.#pageSize = pageSize;
    this.#maxSpan = span;
    this.#bytes = new Uint8Array(MAX_BLOCK_PAGES * pageSize);
    this.#pages = codec.delta ? new Uint8Array(MAX_BLOCK_PAGES * pageSize) : null;
  }

  get count(): number {
    return this.#count;
  }

  /** Bytes a closed block hands to the compressor. */
  get stagedBytes(): number {
    return this.#count * this.#pageSize;
  }

  /** Whether page `index` can join the open block (an empty stage takes any page). */
  fits(index: number): boolean {
    if (this.#count === 0) return true;
    const first = this.#indexes[0];
    return index > this.#indexes[this.#count - 1] && index - first < this.#maxSpan;
  }

  /**
   * Adds the PAGE record `event` of page `index` (call `fits` first) with its content `page`; `old`
   * is the cached version (delta blocks), null for none. Both are copied.
   */
  add(index: number, event: RamPageEvent, page: Uint8Array, old: Uint8Array | null): void {
    const k = this.#count;
    if (k === 0) {
      this.#maskLo = 0;
      this.#maskHi = 0;
    }
    const bit = index - (k === 0 ? index : this.#indexes[0]);
    if (bit < 32) this.#maskLo |= 1 << bit;
    else this.#maskHi |= 1 << (bit - 32);
    this.#indexes[k] = index;
    this.#headerBytes += writeRamRecordHeader(event, this.#pageSize, this.#headers, this.#headerBytes);
    this.#headerEnds[k] = this.#headerBytes;
    const at = k * this.#pageSize;
    const slot = this.#bytes.subarray(at, at + this.#pageSize);
    const delta = this.#pages !== null && old !== null;
    if (delta) {
      // Copy first: a page in a socket chunk is rarely 8-byte aligned, and xorBytes is 7x slower then.
      const mine = this.#pages!.subarray(at, at + this.#pageSize);
      mine.set(page); // (also kept for the raw fallback)
      xorBytes(slot, old, mine);
    } else {
      slot.set(page);
    }
    this.#hadOld[k] = delta ? 1 : 0;
    this.#count = k + 1;
  }

  /**
   * Empties the stage and returns what it held: views of its own buffers (valid until the next
   * `add`), or with `into` views of those buffers, copied into (to compress off this thread).
   */
  take(into?: StagedBlockBuffers): StagedBlock {
    const n = this.#count;
    const cut = <T extends Uint8Array | Uint16Array | Uint32Array>(a: T, len: number, to: T | null | undefined): T => {
      if (into === undefined) return a.subarray(0, len) as T;
      const view = to!.subarray(0, len) as T;
      view.set(a.subarray(0, len));
      return view;
    };
    const b: StagedBlock = {
      codecId: this.codec.id, level: this.codec.level ?? 0, pageSize: this.#pageSize, count: n, maskLo: this.#maskLo, maskHi: this.#maskHi,
      headers: cut(this.#headers, this.#headerBytes, into?.headers), headerEnds: cut(this.#headerEnds, n, into?.headerEnds), indexes: cut(this.#indexes, n, into?.indexes),
      hadOld: cut(this.#hadOld, n, into?.hadOld), bytes: cut(this.#bytes, n * this.#pageSize, into?.bytes),
      pages: this.#pages === null ? null : cut(this.#pages, n * this.#pageSize, into?.pages),
    };
    this.#count = 0;
    this.#headerBytes = 0;
    return b;
  }
}

function malformed(why: string): LivemigError {
  return new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `driver B block record: ${why}`, { phase: 'qemu-stream' });
}

/** Whether `codecId` is a block record's. */
export function isBlockRecord(codecId: number): boolean {
  return blockCodecById(codecId) !== undefined;
}

/** Bytes a block record rebuilds to (its headers and member pages); 0 when it is malformed (decoding then throws). */
export function blockRebuiltBound(payload: Uint8Array, pageSize: number): number {
  if (payload.length < HEADERS_LENGTH_BYTES) return 0;
  const headerBytes = (payload[0] << 8) | payload[1];
  const mask = HEADERS_LENGTH_BYTES + headerBytes;
  if (payload.length < mask + BLOCK_MASK_BYTES) return 0;
  const v = new DataView(payload.buffer, payload.byteOffset + mask, BLOCK_MASK_BYTES);
  return headerBytes + blockMaskCount(v.getUint32(0, true), v.getUint32(4, true)) * pageSize;
}

/** One member of a decoded block record, for the destination to apply in order. */
export interface BlockMember {
  index: number;
  /** The member's QEMU record header. */
  header: Uint8Array;
  /** Block name from the header, or null when it CONTINUEs. */
  block: string | null;
  /** The page's offset in its block, from the header. */
  offsetInBlock: number;
  /** Its page (full blocks) or its XOR with the old version (delta blocks): a view of the scratch. */
  data: Uint8Array;
}

/**
 * Validates and decompresses a block record into `scratch` (MAX_BLOCK_PAGES × pageSize bytes):
 * every header must be a PAGE record's, one per member. Throws before the caller applies anything.
 */
export function decodeBlockRecord(first: number, codecId: number, payload: Uint8Array, pageSize: number, scratch: Uint8Array): { codec: BlockCodec; members: BlockMember[] } {
  const codec = blockCodecById(codecId);
  if (codec === undefined) throw malformed(`codec id ${codecId} is not a block codec`);
  if (payload.length < HEADERS_LENGTH_BYTES) throw malformed(`payload of ${payload.length} bytes`);
  const headerBytes = (payload[0] << 8) | payload[1];
  const headers = payload.subarray(HEADERS_LENGTH_BYTES, HEADERS_LENGTH_BYTES + headerBytes);
  if (headers.length !== headerBytes) throw malformed(`${headerBytes} header bytes announced, ${headers.length} present`);
  // The page range is the caller's to trust: a page index is only a cache key here.
  const decoded = codec.decode(payload.subarray(HEADERS_LENGTH_BYTES + headerBytes), first, Number.MAX_SAFE_INTEGER, pageSize, scratch);
  const members: BlockMember[] = [];
  let at = 0;
  for (let k = 0; k < decoded.pages.length; k++) {
    if (at >= headers.length) throw malformed(`${decoded.pages.length} members but headers for ${k}`);
    const h = parseRecordHeader(headers.subarray(at), pageSize);
    if (h.record !== 'page') throw malformed(`member ${k} has a ${h.record} record header, not a page's`);
    members.push({ index: decoded.pages[k], header: headers.subarray(at, at + h.length), block: h.block, offsetInBlock: h.offsetInBlock, data: decoded.data.subarray(k * pageSize, (k + 1) * pageSize) });
    at += h.length;
  }
  if (at !== headers.length) throw malformed(`${headers.length - at} header bytes left after ${members.length} members`);
  return { codec, members };
}
