/**
 * Where the synthetic guest keeps its workload state: in its own memory, so that a destination built
 * from the migrated bytes continues the workload where the source left off.
 *
 * ```
 * page 0                 header: 32 little-endian u32 words (below), the rest of the page zero
 * pages 1 .. 1+T-1       page table: 8 bytes per page of the whole memory, T = ceil(pageCount*8/pageSize)
 *                          [u32 generation, u32 checksum]   (entries of header/table pages stay 0)
 * pages firstData ..     data pages: initial content, then whatever the workload writes
 * ```
 *
 * generation: how many times the workload has written the page (0 = still its initial content).
 * checksum:   xxh32(page bytes, seed = page index) of the page's current content, so a page moved to
 *             another index, a flipped byte, a zeroed page or an older version all disagree with it.
 * Pages written by trailer workloads end in an 8-byte trailer: [u32 page index, u32 generation].
 *
 * Host byte order is little-endian on every platform livemig targets (x86-64, aarch64); the layout
 * assumes it, as a real guest's memory assumes its CPU's order.
 */
import { xxh32 } from '@node-rs/xxhash';

/** 'LMGS' read as a little-endian u32. */
export const HEADER_MAGIC = 0x53474d4c;
export const LAYOUT_VERSION = 1;

/** Word indexes of the header (u32 each). */
export const H = {
  MAGIC: 0,
  VERSION: 1,
  WORKLOAD: 2,
  PAGE_SIZE: 3,
  PAGE_COUNT: 4,
  FIRST_DATA: 5,
  SEED: 6,
  HOT_PERCENT: 7,
  /** Page writes per second; 0 = as fast as the thread can. */
  DIRTY_RATE: 8,
  /** Zipf exponent × 1000. */
  ZIPF_S_MILLI: 9,
  /** xorshift128 state, 4 words. */
  PRNG: 10,
  /** Next data-page offset of sequential workloads (qemu-test, memstress). */
  CURSOR: 14,
  /** Completed passes over the data pages (sequential workloads). */
  PASS: 15,
  WRITES_LO: 16,
  WRITES_HI: 17,
  /** Pages in the hot set (hotset). */
  HOT_COUNT: 18,
  /** Multiplier coprime with the data-page count: scatters ranks over the data pages (hotset, zipf). */
  SCATTER_MUL: 19,
  /** xxh32 of words 0..30. */
  CHECK: 31,
} as const;
export const HEADER_WORDS = 32;
export const HEADER_CHECK_BYTES = H.CHECK * 4;

/** Bytes at the end of a page written by a trailer workload: page index, generation. */
export const TRAILER_BYTES = 8;

export const WORKLOAD_IDS = { none: 0, idle: 1, hotset: 2, memstress: 3, 'qemu-test': 4, zipf: 5 } as const;
export type SyntheticWorkload = keyof typeof WORKLOAD_IDS;

export function workloadFromId(id: number): SyntheticWorkload | undefined {
  return (Object.keys(WORKLOAD_IDS) as SyntheticWorkload[]).find((k) => WORKLOAD_IDS[k] === id);
}

/** Workloads whose written pages carry a trailer (qemu-test changes one byte only, as QEMU's guest). */
export function usesTrailer(workload: SyntheticWorkload): boolean {
  return workload !== 'qemu-test' && workload !== 'none';
}

/** Header and page table size for a memory of `pageCount` pages. */
export function layoutFor(pageSize: number, pageCount: number): { tablePages: number; firstData: number } {
  const tablePages = Math.ceil((pageCount * 8) / pageSize);
  return { tablePages, firstData: 1 + tablePages };
}

/** Page index that holds page `i`'s table entry. */
export function tablePageOf(i: number, pageSize: number): number {
  return 1 + Math.floor((i * 8) / pageSize);
}

/** The checksum stored in the page table for page `index` with content `page`. */
export function pageChecksum(page: Uint8Array, index: number): number {
  return xxh32(page, index >>> 0);
}

/** Typed views over one memory buffer, shared by the guest object, the worker and the checker. */
export class MemoryViews {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  readonly pageSize: number;
  readonly pageCount: number;
  readonly pageWords: number;
  /** Word index of the first page-table entry (page 0's). */
  readonly tableWord: number;
  readonly firstData: number;
  readonly #headerBytes: Uint8Array;

  constructor(buffer: ArrayBufferLike, pageSize: number) {
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
    this.pageSize = pageSize;
    this.pageCount = this.bytes.length / pageSize;
    this.pageWords = pageSize / 4;
    this.tableWord = this.pageWords;
    this.firstData = layoutFor(pageSize, this.pageCount).firstData;
    this.#headerBytes = this.bytes.subarray(0, HEADER_CHECK_BYTES);
  }

  page(i: number): Uint8Array {
    return this.bytes.subarray(i * this.pageSize, (i + 1) * this.pageSize);
  }

  generation(i: number): number {
    return this.words[this.tableWord + 2 * i];
  }

  checksum(i: number): number {
    return this.words[this.tableWord + 2 * i + 1];
  }

  setEntry(i: number, generation: number, checksum: number): void {
    this.words[this.tableWord + 2 * i] = generation;
    this.words[this.tableWord + 2 * i + 1] = checksum;
  }

  /** Total page writes recorded in the header. */
  writes(): number {
    return this.words[H.WRITES_LO] + this.words[H.WRITES_HI] * 2 ** 32;
  }

  addWrite(): void {
    const lo = (this.words[H.WRITES_LO] + 1) >>> 0;
    this.words[H.WRITES_LO] = lo;
    if (lo === 0) this.words[H.WRITES_HI] += 1;
  }

  headerChecksum(): number {
    return xxh32(this.#headerBytes, 0);
  }

  sealHeader(): void {
    this.words[H.CHECK] = this.headerChecksum();
  }
}
