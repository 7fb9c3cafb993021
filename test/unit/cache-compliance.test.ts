/**
 * The PageCache compliance suite: every policy runs the same tests, so a caller may swap policies
 * without changing what it can rely on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageCache, isLivemigErrorLike, type CachePolicy, type PageCache, type PageCacheOptions } from './cache-test-kit.js';
import { Prng } from '../helpers/prng.js';

/** Small pages keep the suite fast; the behaviour does not depend on the page size. */
const PAGE = 64;

function pageOf(pageSize: number, seed: number): Uint8Array {
  const page = new Uint8Array(pageSize);
  for (let i = 0; i < pageSize; i++) page[i] = (seed * 131 + i * 7 + (seed >>> 8)) & 0xff;
  return page;
}

/** A seeded source of floats in [0, 1), so random tests replay exactly. */
function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.float();
}

function pageCacheCompliance(policy: CachePolicy, make: (options?: PageCacheOptions) => PageCache): void {
  describe(`PageCache compliance: ${policy}`, () => {
    test('reports its policy, geometry and a memory size of capacity plus small bookkeeping', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      assert.equal(cache.policy, policy);
      assert.equal(cache.capacityBytes, 16 * PAGE);
      assert.equal(cache.pageSize, PAGE);
      assert.equal(cache.slots, 16);
      assert.ok(cache.memoryBytes >= cache.capacityBytes);
      assert.ok(cache.memoryBytes <= cache.capacityBytes + 16 * 16, `memoryBytes ${cache.memoryBytes}`);
    });

    test('defaults to 64 MiB of 4 KiB pages', () => {
      const cache = make();
      assert.equal(cache.capacityBytes, 64 * 1024 * 1024);
      assert.equal(cache.pageSize, 4096);
      assert.equal(cache.slots, 16384);
    });

    test('a lookup in an empty cache misses and counts the miss', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      assert.equal(cache.lookup(3), null);
      assert.deepEqual(cache.stats(), { hits: 0, misses: 1, inserts: 0, evictions: 0, rejected: 0, bytesInserted: 0, hitRate: 0 });
    });

    test('a hit after insert returns identical bytes, as a page-sized copy that does not alias the input', () => {
      const cache = make({ capacityBytes: 16 * 4096, pageSize: 4096 });
      const page = pageOf(4096, 7);
      const expected = page.slice();
      assert.equal(cache.insert(1234, page), true);
      page.fill(0); // the caller reuses its buffer; the cache must have copied
      const got = cache.lookup(1234);
      assert.ok(got !== null);
      assert.equal(got.length, 4096);
      assert.deepEqual(got, expected);
      assert.equal(cache.stats().hits, 1);
    });

    test('an insert of a cached page overwrites it in place without an eviction', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      cache.insert(5, pageOf(PAGE, 1));
      const first = cache.lookup(5);
      assert.equal(cache.insert(5, pageOf(PAGE, 2)), true);
      assert.deepEqual(cache.lookup(5), pageOf(PAGE, 2));
      // In place: the view handed out before now shows the new bytes (same slot of the one buffer).
      assert.deepEqual(first, pageOf(PAGE, 2));
      const s = cache.stats();
      assert.equal(s.inserts, 2);
      assert.equal(s.evictions, 0);
      assert.equal(s.bytesInserted, 2 * PAGE);
    });

    test('a page can be re-inserted from its own lookup view', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      cache.insert(9, pageOf(PAGE, 9));
      const view = cache.lookup(9);
      assert.ok(view);
      assert.equal(cache.insert(9, view), true);
      assert.deepEqual(cache.lookup(9), pageOf(PAGE, 9));
    });

    test('sync does not drop cached pages', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      cache.insert(1, pageOf(PAGE, 1));
      for (let i = 0; i < 5; i++) cache.sync();
      assert.deepEqual(cache.lookup(1), pageOf(PAGE, 1));
    });

    test('never holds more pages than slots', () => {
      const cache = make({ capacityBytes: 8 * PAGE, pageSize: PAGE });
      const page = pageOf(PAGE, 3);
      for (let round = 0; round < 4; round++) {
        for (let p = 0; p < 40; p++) cache.insert(p * 3 + round, page);
        cache.sync(); cache.sync(); cache.sync();
      }
      let resident = 0;
      for (let p = 0; p < 200; p++) if (cache.lookup(p) !== null) resident++;
      assert.ok(resident > 0 && resident <= cache.slots, `resident ${resident}`);
    });

    test('stats add up over a random workload', () => {
      const cache = make({ capacityBytes: 32 * PAGE, pageSize: PAGE });
      const rand = prng(42);
      let lookups = 0; let insertCalls = 0; let accepted = 0;
      for (let i = 0; i < 5000; i++) {
        const p = Math.floor(rand() * 100);
        if (rand() < 0.5) { cache.lookup(p); lookups++; } else { insertCalls++; if (cache.insert(p, pageOf(PAGE, i))) accepted++; }
        if (i % 97 === 0) cache.sync();
      }
      const s = cache.stats();
      assert.equal(s.hits + s.misses, lookups);
      assert.equal(s.inserts, accepted);
      assert.equal(s.inserts + s.rejected, insertCalls);
      assert.equal(s.bytesInserted, s.inserts * PAGE);
      assert.ok(s.evictions <= s.inserts);
      assert.ok(s.hits > 0 && s.misses > 0 && s.evictions > 0);
      assert.equal(s.hitRate, s.hits / lookups);
    });

    test('a lookup never returns stale or foreign bytes (random differential test against the last accepted insert)', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      const rand = prng(7);
      const latest = new Map<number, Uint8Array>();
      let hits = 0;
      for (let i = 0; i < 20000; i++) {
        const p = Math.floor(rand() * 48);
        const op = rand();
        if (op < 0.45) {
          const got = cache.lookup(p);
          if (got !== null) {
            hits++;
            const want = latest.get(p);
            assert.ok(want, `page ${p} returned but never accepted`);
            assert.deepEqual(got, want, `page ${p} at step ${i}`);
          }
        } else if (op < 0.97) {
          const page = pageOf(PAGE, i);
          if (cache.insert(p, page)) {
            latest.set(p, page);
            // An accepted insert is found at once.
            assert.deepEqual(cache.lookup(p), page);
          } else {
            latest.delete(p);
            assert.equal(cache.lookup(p), null, 'a refused page must not be cached');
          }
        } else {
          cache.sync();
        }
      }
      assert.ok(hits > 100, `only ${hits} hits: the test exercised too little`);
    });

    test('rejects a page of the wrong size and a page index that is not an int32 >= 0', () => {
      const cache = make({ capacityBytes: 16 * PAGE, pageSize: PAGE });
      assert.throws(() => cache.insert(1, new Uint8Array(PAGE - 1)),
        (e: unknown) => isLivemigErrorLike(e, 'LIVEMIG_E_INVALID_OPTION', /Expected page to be a Uint8Array of pageSize \(64\) bytes, got 63 bytes/));
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 31, 2 ** 40]) {
        assert.throws(() => cache.lookup(bad), (e: unknown) => isLivemigErrorLike(e, 'LIVEMIG_E_INVALID_OPTION', /Expected pageIndex/));
        assert.throws(() => cache.insert(bad, new Uint8Array(PAGE)), (e: unknown) => isLivemigErrorLike(e, 'LIVEMIG_E_INVALID_OPTION', /Expected pageIndex/));
      }
      assert.equal(cache.insert(2 ** 31 - 1, new Uint8Array(PAGE)), true);
      assert.ok(cache.lookup(2 ** 31 - 1));
    });
  });
}

for (const policy of ['2way', 'direct'] as const) {
  pageCacheCompliance(policy, (options) => createPageCache(policy, options));
}
