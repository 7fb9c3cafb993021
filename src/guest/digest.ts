/**
 * Memory digests, to prove that the destination's memory equals the source's.
 *
 * Algorithm `xxh64-pages-v1`:
 *   pageHash[i] = xxh64(page i bytes, seed 0)                                          (u64)
 *   root        = xxh64(u64le pageCount ‖ u64le pageHash[0] ‖ … ‖ u64le pageHash[n-1], seed 0)
 *   printed as 16 lower-case hex digits.
 * The page count in front makes memories of different shapes differ even if their bytes agree
 * (another page size gives other page hashes as well).
 * A PageHashTable kept up to date page by page (set(i, page) as pages arrive) yields the same root
 * as memoryDigest() over the final memory, without rehashing it at the end.
 */
import { Xxh64, xxh64 } from '@node-rs/xxhash';
import { LivemigError } from '../core/index.js';

/** Name of the digest algorithm, as it travels in the DIGEST frame. */
export const DIGEST_ALGORITHM = 'xxh64-pages-v1';

/** xxh64 of one page (seed 0). */
export function hashPage(page: Uint8Array): bigint {
  return xxh64(page, 0n);
}

/** The per-page hash table of a guest's memory. */
export class PageHashTable {
  readonly pageCount: number;
  readonly #hashes: BigUint64Array;

  /**
   * @param pageCount pages of memory; every entry starts as 0 (not the hash of a zero page).
   * @param options.shared back the hashes with a SharedArrayBuffer, so encoder threads can record
   *   hashes directly (see `sharedBuffer`). @default false
   */
  constructor(pageCount: number, options: { shared?: boolean } = {}) {
    if (!Number.isInteger(pageCount) || pageCount < 0) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a page count, got ${pageCount}`);
    }
    this.pageCount = pageCount;
    this.#hashes = options.shared ? new BigUint64Array(new SharedArrayBuffer(pageCount * 8)) : new BigUint64Array(pageCount);
  }

  /**
   * The SharedArrayBuffer holding the hashes (entry i is the u64, host order, at byte 8 i), for
   * threads that write them directly; null unless built with `shared: true`.
   */
  get sharedBuffer(): SharedArrayBuffer | null {
    return this.#hashes.buffer instanceof SharedArrayBuffer ? this.#hashes.buffer : null;
  }

  /** A table filled from `memory` (its length a multiple of pageSize). */
  static fromMemory(memory: Uint8Array, pageSize: number): PageHashTable {
    const table = new PageHashTable(checkedPageCount(memory, pageSize));
    for (let i = 0; i < table.pageCount; i++) table.#hashes[i] = xxh64(memory.subarray(i * pageSize, (i + 1) * pageSize), 0n);
    return table;
  }

  /** Records the current content of page `index` (the whole page: its length is the page size). */
  set(index: number, page: Uint8Array): void {
    this.setHash(index, hashPage(page));
  }

  /** Records that page `index` is all zero, without hashing it (the zero page's hash is a constant). */
  setZero(index: number, pageSize: number): void {
    this.setHash(index, zeroPageHash(pageSize));
  }

  /** Records a hash computed elsewhere (e.g. by a codec thread). */
  setHash(index: number, hash: bigint): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pageCount) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a page index from 0 to ${this.pageCount - 1}, got ${index}`);
    }
    this.#hashes[index] = hash;
  }

  get(index: number): bigint {
    return this.#hashes[index];
  }

  /** The digest of the whole memory, as 16 hex digits. */
  root(): string {
    return rootOf(this.#hashes);
  }
}

const ZERO_HASHES = new Map<number, bigint>();
/** xxh64 of an all-zero page of `pageSize` bytes, computed once per size. */
export function zeroPageHash(pageSize: number): bigint {
  let h = ZERO_HASHES.get(pageSize);
  if (h === undefined) ZERO_HASHES.set(pageSize, (h = hashPage(new Uint8Array(pageSize))));
  return h;
}

function checkedPageCount(memory: Uint8Array, pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize <= 0 || memory.length % pageSize !== 0) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected memory (${memory.length} B) to be whole pages of ${pageSize} B`);
  }
  return memory.length / pageSize;
}

function rootOf(hashes: BigUint64Array): string {
  const prefix = new BigUint64Array([BigInt(hashes.length)]);
  const h = new Xxh64(0n);
  // BigUint64Array stores host order; livemig hosts are little-endian (see synthetic/layout.ts).
  h.update(new Uint8Array(prefix.buffer));
  h.update(new Uint8Array(hashes.buffer, hashes.byteOffset, hashes.byteLength));
  return h.digest().toString(16).padStart(16, '0');
}

/** Recomputes the digest of `memory` from scratch; equals the root of an up-to-date PageHashTable. */
export function memoryDigest(memory: Uint8Array, pageSize: number): string {
  return PageHashTable.fromMemory(memory, pageSize).root();
}
