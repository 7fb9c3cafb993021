/**
 * The source page cache: the only public surface of `cache/`.
 *
 * `createPageCache('2way' | 'direct', options)` builds a cache behind the `PageCache` interface; the
 * policy is injected by the caller (engine, qemu proxy, bench) and validated here.
 */

import type { CachePolicy, PageCache, PageCacheOptions } from './types.js';
import { assertPolicy } from './options.js';
import { TwoWayCache } from './two-way.js';
import { DirectCache } from './direct.js';

export type { CachePolicy, PageCache, PageCacheOptions, PageCacheStats } from './types.js';
export { TwoWayCache } from './two-way.js';
export { DirectCache, CACHED_PAGE_LIFETIME } from './direct.js';
export {
  DEFAULT_CACHE_CAPACITY_BYTES, DEFAULT_CACHE_PAGE_SIZE, MIN_CACHE_PAGE_SIZE, MAX_CACHE_PAGE_SIZE, MAX_PAGE_INDEX,
} from './options.js';

/**
 * Builds a page cache.
 *
 * @param policy `'2way'` (2-way set-associative, LRU in each set; the paper's) or `'direct'`
 *   (direct-mapped with QEMU's age rule).
 * @param options capacityBytes (@default 67108864, 64 MiB) and pageSize (@default 4096 bytes).
 *   For `'direct'` the capacity must be a power-of-two number of pages; for `'2way'` an even number,
 *   at least 2.
 * @throws LivemigError LIVEMIG_E_CACHE_CONFIG for an unknown policy or options that do not fit it.
 */
export function createPageCache(policy: CachePolicy, options: PageCacheOptions = {}): PageCache {
  assertPolicy(policy);
  return policy === '2way' ? new TwoWayCache(options) : new DirectCache(options);
}
