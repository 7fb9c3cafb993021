/**
 * Option validation and the hot-path argument checks shared by the cache policies. Internal to
 * `cache/`: the public surface is `index.ts`.
 */

import { constants as bufferConstants } from 'node:buffer';
import { LivemigError } from '../core/errors.js';
import type { CachePolicy, PageCacheOptions, PageCacheStats } from './types.js';

/** Default page-data capacity in bytes: 64 MiB, QEMU's `xbzrle-cache-size` default (16384 pages of 4 KiB). */
export const DEFAULT_CACHE_CAPACITY_BYTES = 64 * 1024 * 1024;
/** Default page size in bytes. */
export const DEFAULT_CACHE_PAGE_SIZE = 4096;
/** Smallest page size accepted, in bytes (small pages are for tests and the bookkeeping benchmark). */
export const MIN_CACHE_PAGE_SIZE = 64;
/** Largest page size accepted, in bytes (64 KiB, the largest target page size QEMU uses). */
export const MAX_CACHE_PAGE_SIZE = 65536;
/** Largest page index a cache can hold: tags are Int32, so 2^31 - 1 (8 TiB of 4 KiB pages). */
export const MAX_PAGE_INDEX = 0x7fffffff;
/** Tag of a slot that holds no page. Page indexes are never negative, so it never matches one. */
export const EMPTY_TAG = -1;

/** The validated, defaulted options of one cache. */
export interface ResolvedCacheOptions {
  capacityBytes: number;
  pageSize: number;
  slots: number;
}

const POLICIES: readonly CachePolicy[] = ['2way', 'direct'];

/** Renders a rejected value for an error message: numbers as they are, strings quoted. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function configError(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_CACHE_CONFIG', message);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 0x40000000;
}

/** Checks a policy name; throws LIVEMIG_E_CACHE_CONFIG for anything else. */
export function assertPolicy(policy: unknown): asserts policy is CachePolicy {
  if (!POLICIES.includes(policy as CachePolicy)) {
    throw configError(`Expected policy to be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}, got ${describeValue(policy)}`);
  }
}

/**
 * Validates `options` for `policy` once, at the boundary, and fills in the defaults.
 * Throws LIVEMIG_E_CACHE_CONFIG with a message that names the option, what was expected and what came.
 */
export function resolveCacheOptions(policy: CachePolicy, options: PageCacheOptions | undefined): ResolvedCacheOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw configError(`Expected cache options to be an object, got ${describeValue(options)}`);
  }
  const pageSize = options?.pageSize ?? DEFAULT_CACHE_PAGE_SIZE;
  if (typeof pageSize !== 'number' || !isPowerOfTwo(pageSize) || pageSize < MIN_CACHE_PAGE_SIZE || pageSize > MAX_CACHE_PAGE_SIZE) {
    throw configError(
      `Expected pageSize to be a power of two from ${MIN_CACHE_PAGE_SIZE} to ${MAX_CACHE_PAGE_SIZE} bytes, got ${describeValue(pageSize)}`,
    );
  }
  const capacityBytes = options?.capacityBytes ?? DEFAULT_CACHE_CAPACITY_BYTES;
  if (typeof capacityBytes !== 'number' || !Number.isSafeInteger(capacityBytes) || capacityBytes <= 0 || capacityBytes % pageSize !== 0) {
    throw configError(`Expected capacityBytes to be a positive multiple of pageSize (${pageSize}), got ${describeValue(capacityBytes)}`);
  }
  if (capacityBytes > bufferConstants.MAX_LENGTH) {
    throw configError(
      `Expected capacityBytes to be at most ${bufferConstants.MAX_LENGTH} (the largest buffer Node can allocate), got ${capacityBytes}`,
    );
  }
  const slots = capacityBytes / pageSize;
  if (policy === 'direct' && !isPowerOfTwo(slots)) {
    throw configError(
      `Expected capacityBytes to be a power-of-two number of pages for the direct cache, as QEMU's xbzrle-cache-size, ` +
        `got ${capacityBytes} (${slots} pages of ${pageSize}); try ${pageSize * 2 ** Math.floor(Math.log2(slots))}`,
    );
  }
  if (policy === '2way' && (slots < 2 || slots % 2 !== 0)) {
    throw configError(
      `Expected capacityBytes to be an even number of pages (at least 2) for the 2way cache, ` +
        `got ${capacityBytes} (${slots} page${slots === 1 ? '' : 's'} of ${pageSize})`,
    );
  }
  return { capacityBytes, pageSize, slots };
}

/** The one allocation of page data: `capacityBytes` bytes, with a clear error if the host refuses it. */
export function allocatePageBuffer(capacityBytes: number, prefault = false): Uint8Array {
  try {
    const pages = new Uint8Array(capacityBytes);
    return prefault ? pages.fill(0) : pages;
  } catch (cause) {
    throw new LivemigError(
      'LIVEMIG_E_CACHE_CONFIG',
      `Could not allocate ${capacityBytes} bytes for the page cache; lower capacityBytes`,
      { cause },
    );
  }
}

/** Throws for a page index that is not an integer in [0, 2^31 - 1]. Kept tiny so that V8 inlines it. */
export function assertPageIndex(pageIndex: number): void {
  // `x | 0` is x only for int32 integers; together with `>= 0` that is [0, 2^31 - 1].
  if ((pageIndex | 0) !== pageIndex || pageIndex < 0) throwBadPageIndex(pageIndex);
}

/** Throws for a page that is not a Uint8Array of exactly `pageSize` bytes. */
export function assertPage(page: Uint8Array, pageSize: number): void {
  if (!(page instanceof Uint8Array) || page.length !== pageSize) throwBadPage(page, pageSize);
}

function throwBadPageIndex(pageIndex: unknown): never {
  throw new LivemigError(
    'LIVEMIG_E_INVALID_OPTION',
    `Expected pageIndex to be an integer from 0 to ${MAX_PAGE_INDEX}, got ${describeValue(pageIndex)}`,
    { phase: 'cache' },
  );
}

function throwBadPage(page: unknown, pageSize: number): never {
  const got = page instanceof Uint8Array ? `${page.length} bytes` : describeValue(page);
  throw new LivemigError(
    'LIVEMIG_E_INVALID_OPTION',
    `Expected page to be a Uint8Array of pageSize (${pageSize}) bytes, got ${got}`,
    { phase: 'cache' },
  );
}

/** The counters as PageCacheStats, with the hit rate derived (0 before any lookup). */
export function statsSnapshot(c: Omit<PageCacheStats, 'hitRate'>): PageCacheStats {
  const lookups = c.hits + c.misses;
  return { ...c, hitRate: lookups === 0 ? 0 : c.hits / lookups };
}
