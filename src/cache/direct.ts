/**
 * The direct-mapped page cache QEMU uses for XBZRLE (migration/page_cache.c), with its age rule.
 *
 * ```
 *   slot = pageIndex & (slots - 1)          one slot per position, slots a power of two
 *   #pages  Uint8Array(capacityBytes)       slot k's bytes at [k * pageSize, (k + 1) * pageSize)
 *   #tags   Int32Array(slots)               page index held by slot k, or -1 when empty
 *   #ages   Uint32Array(slots)              dirty-sync count when slot k was last written or hit
 * ```
 *
 * Age rule (CACHED_PAGE_LIFETIME = 2): an insert into a slot that holds ANOTHER page whose
 * `age + 2 > currentAge` is refused, so a page written or hit in the last two syncs is not thrown out
 * by a page that merely maps to the same slot. A hit sets the slot's age to the current age; `sync()`
 * advances the current age by one, as QEMU's `dirty_sync_count`.
 */

import type { CachePolicy, PageCache, PageCacheOptions, PageCacheStats } from './types.js';
import {
  EMPTY_TAG, allocatePageBuffer, assertPage, assertPageIndex, resolveCacheOptions, statsSnapshot,
} from './options.js';

/** Syncs a page stays protected from replacement by another page (QEMU's CACHED_PAGE_LIFETIME). */
export const CACHED_PAGE_LIFETIME = 2;

/** A direct-mapped page cache with QEMU's slot function and age rule. */
export class DirectCache implements PageCache {
  /** Always `'direct'`. */
  readonly policy: CachePolicy = 'direct';
  /** Bytes of page data the cache holds. */
  readonly capacityBytes: number;
  /** Bytes in one page. */
  readonly pageSize: number;
  /** Pages the cache holds: `capacityBytes / pageSize`, a power of two. */
  readonly slots: number;
  /** Bytes held in memory: the page buffer plus the tag and age arrays. */
  readonly memoryBytes: number;

  #pages: Uint8Array;
  /** `#pages.buffer` (offset 0): views made with the constructor cost less than `subarray` (no species lookup). */
  #buffer: ArrayBuffer;
  #tags: Int32Array;
  #ages: Uint32Array;
  #mask: number;
  #age = 0;

  #hits = 0;
  #misses = 0;
  #inserts = 0;
  #evictions = 0;
  #rejected = 0;
  #bytesInserted = 0;

  /**
   * @param options capacityBytes (@default 64 MiB; a power-of-two number of pages, as QEMU requires) and
   *   pageSize (@default 4096 bytes). Throws LIVEMIG_E_CACHE_CONFIG when they do not fit.
   */
  constructor(options: PageCacheOptions = {}) {
    const { capacityBytes, pageSize, slots } = resolveCacheOptions('direct', options);
    this.capacityBytes = capacityBytes;
    this.pageSize = pageSize;
    this.slots = slots;
    this.#mask = slots - 1;
    this.#pages = allocatePageBuffer(capacityBytes, options.prefault);
    this.#buffer = this.#pages.buffer as ArrayBuffer;
    this.#tags = new Int32Array(slots).fill(EMPTY_TAG);
    this.#ages = new Uint32Array(slots);
    this.memoryBytes = this.#pages.byteLength + this.#tags.byteLength + this.#ages.byteLength;
  }

  /** The current age: the number of `sync()` calls so far. */
  get age(): number {
    return this.#age;
  }

  /** The cached page as a view into the cache's buffer (valid until the next insert), or null. A hit refreshes the age. */
  lookup(pageIndex: number): Uint8Array | null {
    assertPageIndex(pageIndex);
    const slot = pageIndex & this.#mask;
    if (this.#tags[slot] !== pageIndex) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    this.#ages[slot] = this.#age;
    return new Uint8Array(this.#buffer, slot * this.pageSize, this.pageSize);
  }

  /**
   * Copies `page` in as page `pageIndex`. Returns false, and copies nothing, when the slot holds another
   * page written or hit within the last CACHED_PAGE_LIFETIME syncs.
   */
  insert(pageIndex: number, page: Uint8Array): boolean {
    assertPageIndex(pageIndex);
    assertPage(page, this.pageSize);
    const slot = pageIndex & this.#mask;
    const tag = this.#tags[slot];
    if (tag !== pageIndex && tag !== EMPTY_TAG) {
      // Another page, still fresh: keep it (QEMU returns -1 and the caller sends a normal page).
      if (this.#ages[slot] + CACHED_PAGE_LIFETIME > this.#age) {
        this.#rejected++;
        return false;
      }
      this.#evictions++;
    }
    this.#pages.set(page, slot * this.pageSize);
    this.#tags[slot] = pageIndex;
    this.#ages[slot] = this.#age;
    this.#inserts++;
    this.#bytesInserted += this.pageSize;
    return true;
  }

  /** Marks a dirty-bitmap sync: the current age goes up by one. */
  sync(): void {
    this.#age++;
  }

  /** A snapshot of the counters. */
  stats(): PageCacheStats {
    return statsSnapshot({
      hits: this.#hits, misses: this.#misses, inserts: this.#inserts, evictions: this.#evictions,
      rejected: this.#rejected, bytesInserted: this.#bytesInserted,
    });
  }
}
