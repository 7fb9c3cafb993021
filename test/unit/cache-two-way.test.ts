import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TwoWayCache } from './cache-test-kit.js';

const PAGE = 64;
const page = (fill: number): Uint8Array => new Uint8Array(PAGE).fill(fill);

/** Three distinct pages of `cache` that share one set (found by scanning page indexes). */
function sameSet(cache: TwoWayCache, start = 0): [number, number, number] {
  const set = cache.setOf(start);
  const found = [start];
  for (let p = start + 1; found.length < 3; p++) if (cache.setOf(p) === set) found.push(p);
  return found as [number, number, number];
}

test('a conflicting insert evicts the least recently inserted of the two ways', () => {
  const cache = new TwoWayCache({ capacityBytes: 2 * PAGE, pageSize: PAGE }); // one set: every page conflicts
  cache.insert(10, page(1));
  cache.insert(20, page(2));
  cache.insert(30, page(3));
  assert.equal(cache.lookup(10), null);
  assert.deepEqual(cache.lookup(20), page(2));
  assert.deepEqual(cache.lookup(30), page(3));
  assert.equal(cache.stats().evictions, 1);
});

test('a lookup refreshes recency, so the other way is evicted next', () => {
  const cache = new TwoWayCache({ capacityBytes: 2 * PAGE, pageSize: PAGE });
  cache.insert(10, page(1));
  cache.insert(20, page(2));
  assert.ok(cache.lookup(10)); // 10 is now the most recently used; 20 the victim
  cache.insert(30, page(3));
  assert.equal(cache.lookup(20), null);
  assert.deepEqual(cache.lookup(10), page(1));
  assert.deepEqual(cache.lookup(30), page(3));
});

test('an in-place overwrite refreshes recency too', () => {
  const cache = new TwoWayCache({ capacityBytes: 2 * PAGE, pageSize: PAGE });
  cache.insert(10, page(1));
  cache.insert(20, page(2));
  cache.insert(10, page(4));
  cache.insert(30, page(3));
  assert.equal(cache.lookup(20), null);
  assert.deepEqual(cache.lookup(10), page(4));
});

test('LRU is kept per set: in a 16384-page cache a conflict evicts only within its own set', () => {
  const cache = new TwoWayCache({ capacityBytes: 16384 * PAGE, pageSize: PAGE });
  const [a, b, c] = sameSet(cache, 12345);
  const [x, y] = sameSet(cache, 777);
  assert.notEqual(cache.setOf(a), cache.setOf(x));
  for (const p of [x, a, y, b]) cache.insert(p, page(p & 0xff));
  assert.ok(cache.lookup(a));
  assert.ok(cache.lookup(x)); // in set X, y becomes the victim
  cache.insert(c, page(9)); // evicts b (LRU of a's set), not anything in x's set
  assert.equal(cache.lookup(b), null);
  assert.ok(cache.lookup(a) && cache.lookup(c) && cache.lookup(x) && cache.lookup(y));
});

test('set index stays in range and fills every set, for power-of-two and other set counts', () => {
  for (const slots of [2, 6, 30, 1024, 16384]) {
    const cache = new TwoWayCache({ capacityBytes: slots * PAGE, pageSize: PAGE });
    const seen = new Uint32Array(cache.sets);
    for (let p = 0; p < cache.sets * 8; p++) {
      const s = cache.setOf(p);
      assert.ok(Number.isInteger(s) && s >= 0 && s < cache.sets, `set ${s} of ${cache.sets}`);
      seen[s]++;
    }
    // Each aligned block of `sets` pages is a bijection onto the sets: 8 blocks, 8 pages per set.
    assert.ok(seen.every((n) => n === 8), `slots ${slots}: uneven ${[...seen].slice(0, 8)}`);
    const big = 2 ** 31 - 1;
    assert.ok(cache.setOf(big) >= 0 && cache.setOf(big) < cache.sets);
  }
});

test('an aligned contiguous run of `slots` pages fills the cache with no eviction', () => {
  const cache = new TwoWayCache({ capacityBytes: 4096 * PAGE, pageSize: PAGE });
  const base = 3 * cache.slots;
  for (let p = base; p < base + cache.slots; p++) cache.insert(p, page(1));
  assert.equal(cache.stats().evictions, 0);
  for (let p = base; p < base + cache.slots; p++) assert.ok(cache.lookup(p), `page ${p}`);
});

test('strided access does not collide: half a cache of pages at any power-of-two stride mostly stays cached', () => {
  const cache0 = new TwoWayCache({ capacityBytes: 16384 * PAGE, pageSize: PAGE });
  for (const stride of [1, 2, 16, 512, 8192, 16384, 65536, 1 << 17]) {
    const cache = new TwoWayCache({ capacityBytes: 16384 * PAGE, pageSize: PAGE });
    const n = cache0.slots / 2;
    for (let i = 0; i < n; i++) cache.insert(i * stride, page(1));
    let hits = 0;
    for (let i = 0; i < n; i++) if (cache.lookup(i * stride)) hits++;
    // `pageIndex mod sets` would keep only 2 pages for stride >= 8192; random placement keeps ~90%.
    assert.ok(hits / n >= 0.85, `stride ${stride}: ${hits}/${n}`);
  }
});

test('the 2-way cache never refuses an insert, whatever the syncs', () => {
  const cache = new TwoWayCache({ capacityBytes: 2 * PAGE, pageSize: PAGE });
  for (let p = 0; p < 100; p++) assert.equal(cache.insert(p, page(p)), true);
  assert.equal(cache.stats().rejected, 0);
  assert.equal(cache.stats().evictions, 98);
});

test('a cyclic scan of three pages sharing a set keeps two of them hitting once rounds are synced (plain LRU keeps none)', () => {
  const cache = new TwoWayCache({ capacityBytes: 64 * 4096, pageSize: 4096 });
  const set = cache.setOf(5);
  const trio = [5];
  for (let p = 6; trio.length < 3; p++) if (cache.setOf(p) === set) trio.push(p);
  const page = new Uint8Array(4096);
  let hits = 0;
  let lookups = 0;
  for (let round = 0; round < 10; round++) {
    cache.sync();
    for (const p of trio) {
      lookups++;
      if (cache.lookup(p)) hits++;
      else cache.insert(p, page);
    }
  }
  // Round 0 misses all three; from round 1 on two of three hit.
  assert.equal(hits, 18, `${hits} hits of ${lookups}`);
  assert.ok(cache.stats().rejected >= 9);
});
