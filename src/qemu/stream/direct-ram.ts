/**
 * Direct RAM delivery: the destination agent writes one RAM block's pages straight into the
 * destination QEMU's guest memory (a `memory-backend-file,share=on` mapped into this process)
 * instead of rebuilding their records into QEMU's socket, where QEMU would parse and copy them
 * again. Every other record (other blocks, device state) still goes through the socket.
 *
 * Order is safe because a page of the block never travels both ways: before the source agent's
 * one-way passthrough every record of the block comes here, and after it none does (QEMU then
 * loads the rest itself, after the direct writes, which were made synchronously before later
 * stream bytes were written).
 */
import { LivemigError } from '../../core/errors.js';
import { isZeroPage } from '../../codec/zero.js';
import { xbzrleDecode } from '../../codec/xbzrle.js';

/** What direct delivery did. */
export interface DirectRamStats {
  /** The RAM block written directly. */
  block: string;
  /** Pages written with content (PAGE records and block members). */
  pages: number;
  /** ZERO records handled (the page zeroed if it was not already). */
  zeroPages: number;
  /** XBZRLE records applied onto the page in place. */
  xbzrlePages: number;
  /** Bytes those records take in QEMU's stream, which therefore never crossed QEMU's socket. */
  bytes: number;
}

/** One RAM block's guest memory, mapped into this process. */
export class DirectRam {
  readonly block: string;
  readonly #memory: Uint8Array;
  readonly #pageSize: number;
  readonly #stats: DirectRamStats;

  /** @param memory the whole block (offset 0 = the block's first byte); its length a multiple of `pageSize` */
  constructor(block: string, memory: Uint8Array, pageSize: number) {
    if (memory.length === 0 || memory.length % pageSize !== 0) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `direct RAM for block '${block}' must be a whole number of ${pageSize}-byte pages, got ${memory.length} bytes`);
    }
    this.block = block;
    this.#memory = memory;
    this.#pageSize = pageSize;
    this.#stats = { block, pages: 0, zeroPages: 0, xbzrlePages: 0, bytes: 0 };
  }

  stats(): DirectRamStats {
    return { ...this.#stats };
  }

  /** The guest page at `offsetInBlock`, to decode into. Throws LIVEMIG_E_QEMU_STREAM_MALFORMED outside the block. */
  page(offsetInBlock: number): Uint8Array {
    const ps = this.#pageSize;
    if (offsetInBlock % ps !== 0 || offsetInBlock < 0 || offsetInBlock + ps > this.#memory.length) {
      throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `a page at offset ${offsetInBlock} of block '${this.block}', which has ${this.#memory.length} bytes`, { phase: 'qemu-stream' });
    }
    return this.#memory.subarray(offsetInBlock, offsetInBlock + ps);
  }

  /** Counts a page written through `page()`, from a record of `recordBytes` in QEMU's stream. */
  wrote(recordBytes: number): void {
    this.#stats.pages++;
    this.#stats.bytes += recordBytes;
  }

  /** A ZERO record, as QEMU loads it: the page is zeroed unless it already is (reading does not dirty it). */
  zero(offsetInBlock: number, recordBytes: number): void {
    const page = this.page(offsetInBlock);
    if (!isZeroPage(page)) page.fill(0);
    this.#stats.zeroPages++;
    this.#stats.bytes += recordBytes;
  }

  /** An XBZRLE record, applied onto the page's current (previous) version, as QEMU does. */
  xbzrle(offsetInBlock: number, payload: Uint8Array, recordBytes: number): void {
    xbzrleDecode(payload, this.page(offsetInBlock));
    this.#stats.xbzrlePages++;
    this.#stats.bytes += recordBytes;
  }
}
