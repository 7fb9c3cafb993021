/**
 * Measures what a 64 MiB cache really costs: one page buffer plus small bookkeeping, and nothing more
 * once it is full. Runs in its own process (node --test isolates files), so other tests do not disturb it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageCache, type PageCache } from './cache-test-kit.js';

const MiB = 1024 * 1024;
const CAPACITY = 64 * MiB;
const PAGES = CAPACITY / 4096; // 16384
const BOOKKEEPING_LIMIT = 2 * MiB;

function fill(cache: PageCache, page: Uint8Array, rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    // Contiguous pages from several blocks, so both policies see hits, evictions and refusals.
    for (let p = 0; p < PAGES; p++) {
      page[0] = p & 0xff;
      const pageIndex = p + r * PAGES;
      cache.lookup(pageIndex);
      cache.insert(pageIndex, page);
    }
    cache.sync(); cache.sync(); cache.sync();
  }
}

const kept: PageCache[] = [];

for (const policy of ['2way', 'direct'] as const) {
  test(`a 64 MiB ${policy} cache allocates capacity plus < 2 MiB, and filling it allocates nothing more`, () => {
    const page = new Uint8Array(4096).fill(0xa5);
    const before = process.memoryUsage();
    const cache = createPageCache(policy, { capacityBytes: CAPACITY });
    kept.push(cache);
    const built = process.memoryUsage();
    const abBuilt = built.arrayBuffers - before.arrayBuffers;
    assert.equal(cache.slots, PAGES);
    assert.ok(cache.memoryBytes >= CAPACITY && cache.memoryBytes <= CAPACITY + BOOKKEEPING_LIMIT, `memoryBytes ${cache.memoryBytes}`);
    assert.ok(abBuilt >= CAPACITY, `arrayBuffers grew by ${abBuilt}, less than the capacity: measurement broken`);
    assert.ok(abBuilt <= CAPACITY + BOOKKEEPING_LIMIT, `arrayBuffers grew by ${abBuilt - CAPACITY} beyond capacity`);

    fill(cache, page, 4);
    const s = cache.stats();
    assert.ok(s.inserts >= PAGES, `only ${s.inserts} inserts`);
    const filled = process.memoryUsage();
    const abFill = filled.arrayBuffers - built.arrayBuffers;
    assert.ok(abFill <= 256 * 1024, `filling grew arrayBuffers by ${abFill} bytes`);
    // RSS: the buffer is now touched, so RSS holds it, plus at most some slack for JIT code and heap.
    const rssDelta = filled.rss - before.rss;
    assert.ok(rssDelta >= CAPACITY * 0.9, `rss grew by only ${rssDelta}: pages not really stored?`);
    assert.ok(rssDelta <= CAPACITY + 24 * MiB, `rss grew by ${(rssDelta / MiB).toFixed(1)} MiB for a 64 MiB cache`);
  });
}

test('control: the measurement does see per-page allocation (a naive Map cache grows with every page)', () => {
  const page = new Uint8Array(4096);
  const before = process.memoryUsage().arrayBuffers;
  const naive = new Map<number, Uint8Array>();
  for (let p = 0; p < PAGES; p++) naive.set(p, page.slice());
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown >= CAPACITY * 0.9, `naive cache grew arrayBuffers by ${grown}`);
  assert.equal(naive.size, PAGES);
});

for (const policy of ['2way', 'direct'] as const) {
  test(`a ${policy} cache made with prefault is resident at once; without, it is not until written`, () => {
    const rss = (): number => process.memoryUsage().rss;
    const r0 = rss();
    const lazy = createPageCache(policy, { capacityBytes: CAPACITY });
    const r1 = rss();
    const eager = createPageCache(policy, { capacityBytes: CAPACITY, prefault: true });
    const r2 = rss();
    kept.push(lazy, eager);
    assert.ok(r1 - r0 < CAPACITY / 4, `the lazy cache made ${(r1 - r0) / MiB} MiB resident`);
    assert.ok(r2 - r1 >= CAPACITY * 0.9, `the prefaulted cache made only ${(r2 - r1) / MiB} MiB resident`);
  });
}
