import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReusableBuffers } from '../../../src/qemu/proxy/reusable-buffers.js';

test('a given-back buffer serves the next request that fits, and a larger request gets a new one', () => {
  const pool = new ReusableBuffers(2, 1024);
  const a = pool.take(100);
  assert.equal(a.length, 1024, 'small requests get the minimum size');
  pool.give(a);
  assert.equal(pool.take(1000), a);
  pool.give(a);
  const big = pool.take(4096);
  assert.notEqual(big, a);
  assert.equal(big.length, 4096);
  assert.equal(pool.free, 1, 'the small buffer stays free');
});

test('the free list keeps at most `keep` buffers', () => {
  const pool = new ReusableBuffers(2, 16);
  const bufs = [pool.take(16), pool.take(16), pool.take(16)];
  for (const b of bufs) pool.give(b);
  assert.equal(pool.free, 2);
});
