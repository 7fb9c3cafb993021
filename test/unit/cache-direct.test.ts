import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectCache, CACHED_PAGE_LIFETIME } from './cache-test-kit.js';

const PAGE = 64;
const SLOTS = 16;
const page = (fill: number): Uint8Array => new Uint8Array(PAGE).fill(fill);
const make = (): DirectCache => new DirectCache({ capacityBytes: SLOTS * PAGE, pageSize: PAGE });

test('pages map to slot pageIndex & (slots - 1), as QEMU: page p and p + slots share a slot', () => {
  const cache = make();
  cache.insert(3, page(1));
  for (let i = 0; i < CACHED_PAGE_LIFETIME; i++) cache.sync();
  assert.equal(cache.insert(3 + 5 * SLOTS, page(2)), true);
  assert.equal(cache.lookup(3), null); // replaced: same slot
  assert.deepEqual(cache.lookup(3 + 5 * SLOTS), page(2));
  assert.equal(cache.stats().evictions, 1);
  cache.insert(4, page(3)); // a different slot: no conflict
  assert.deepEqual(cache.lookup(3 + 5 * SLOTS), page(2));
});

test('an insert over another page written within the last two syncs is refused and counted', () => {
  const cache = make();
  assert.equal(cache.insert(1, page(1)), true); // age 0
  assert.equal(cache.insert(1 + SLOTS, page(2)), false); // 0 + 2 > 0
  cache.sync();
  assert.equal(cache.insert(1 + SLOTS, page(2)), false); // 0 + 2 > 1
  assert.deepEqual(cache.lookup(1), page(1)); // kept, and this hit refreshes its age to 1
  cache.sync(); // age 2: would have been accepted without the hit
  assert.equal(cache.insert(1 + SLOTS, page(2)), false); // 1 + 2 > 2
  assert.equal(cache.lookup(1 + SLOTS), null);
  const s = cache.stats();
  assert.equal(s.rejected, 3);
  assert.equal(s.inserts, 1);
  assert.equal(s.evictions, 0);
});

test('the same insert is accepted once two syncs have passed without a hit', () => {
  const cache = make();
  cache.insert(1, page(1));
  cache.sync();
  cache.sync(); // 0 + 2 > 2 is false
  assert.equal(cache.age, 2);
  assert.equal(cache.insert(1 + SLOTS, page(2)), true);
  assert.equal(cache.lookup(1), null);
  assert.deepEqual(cache.lookup(1 + SLOTS), page(2));
  assert.equal(cache.stats().evictions, 1);
});

test('an overwrite of the same page is never refused by the age rule, and happens in place', () => {
  const cache = make();
  cache.insert(7, page(1));
  const view = cache.lookup(7);
  assert.equal(cache.insert(7, page(2)), true); // same page, same sync
  assert.deepEqual(view, page(2));
  assert.equal(cache.stats().rejected, 0);
  assert.equal(cache.stats().evictions, 0);
});

test('an empty slot takes any page at once', () => {
  const cache = make();
  for (let p = 0; p < SLOTS; p++) assert.equal(cache.insert(p + 100 * SLOTS, page(p)), true);
  assert.equal(cache.stats().rejected, 0);
});
