/**
 * The source-side page cache: old versions of pages, kept so that a re-dirtied page can be sent as a
 * delta against what the destination already has.
 */

export type CachePolicy = '2way' | 'direct';

export interface PageCacheOptions {
  /** Capacity in bytes of page data. @default 67108864 (64 MiB, QEMU's xbzrle-cache-size default) */
  capacityBytes?: number;
  /** Page size in bytes. @default 4096 */
  pageSize?: number;
  /**
   * Write the whole buffer at once, so that the kernel's first-write faults (1.1 us per 4 KiB page
   * here: 150 ms of CPU per 512 MiB) are paid now rather than by the first pass that fills it, and
   * so that a cache the host cannot hold fails now rather than mid-migration. @default false
   */
  prefault?: boolean;
}

export interface PageCacheStats {
  /** Lookups that found the page. */
  hits: number;
  /** Lookups that did not. */
  misses: number;
  /** Pages written into the cache (new entries and overwrites). */
  inserts: number;
  /** Inserts that displaced another page. */
  evictions: number;
  /** Inserts refused (the direct cache's age rule). */
  rejected: number;
  /** Bytes of page data copied into the cache. */
  bytesInserted: number;
  /** hits / (hits + misses), or 0 before any lookup. */
  hitRate: number;
}

export interface PageCache {
  readonly policy: CachePolicy;
  readonly capacityBytes: number;
  readonly pageSize: number;
  /** How many pages fit. */
  readonly slots: number;
  /**
   * The cached old version of page `pageIndex`, as a view into the cache's buffer (valid until the
   * next insert), or null on a miss. Counts a hit or a miss and refreshes recency.
   */
  lookup(pageIndex: number): Uint8Array | null;
  /** Copies `page` in as the current version of `pageIndex`. Returns false if the policy refused. */
  insert(pageIndex: number, page: Uint8Array): boolean;
  /** Marks a dirty-bitmap sync (a new round); the direct cache ages its entries by it. */
  sync(): void;
  stats(): PageCacheStats;
  /** Bytes this cache holds in memory, page buffer and bookkeeping together. */
  readonly memoryBytes: number;
}
