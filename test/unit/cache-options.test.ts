import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageCache, DirectCache, TwoWayCache, isLivemigErrorLike, type CachePolicy } from './cache-test-kit.js';

const configError = (message: RegExp) => (e: unknown) => isLivemigErrorLike(e, 'LIVEMIG_E_CACHE_CONFIG', message);

test('capacityBytes that is not a positive multiple of pageSize is refused with the value', () => {
  for (const policy of ['2way', 'direct'] as const) {
    for (const [bad, shown] of [[1000, '1000'], [0, '0'], [-4096, '-4096'], [4096.5, '4096.5'], ['64MiB', "'64MiB'"], [Number.NaN, 'NaN']] as const) {
      assert.throws(() => createPageCache(policy, { capacityBytes: bad as number }),
        configError(new RegExp(`^Expected capacityBytes to be a positive multiple of pageSize \\(4096\\), got ${shown.replace(/[.()]/g, '\\$&')}$`)));
    }
  }
  assert.throws(() => createPageCache('2way', { capacityBytes: 3 * 1024, pageSize: 1024 * 2 }),
    configError(/multiple of pageSize \(2048\), got 3072/));
});

test('the direct cache needs a power-of-two number of pages, as QEMU', () => {
  assert.throws(() => createPageCache('direct', { capacityBytes: 3 * 4096 }),
    configError(/^Expected capacityBytes to be a power-of-two number of pages for the direct cache.*got 12288 \(3 pages of 4096\); try 8192$/));
  assert.equal(createPageCache('direct', { capacityBytes: 4 * 4096 }).slots, 4);
  assert.equal(createPageCache('direct', { capacityBytes: 4096 }).slots, 1);
});

test('the 2way cache needs an even number of pages, at least 2', () => {
  assert.throws(() => createPageCache('2way', { capacityBytes: 4096 }),
    configError(/^Expected capacityBytes to be an even number of pages \(at least 2\) for the 2way cache, got 4096 \(1 page of 4096\)$/));
  assert.throws(() => new TwoWayCache({ capacityBytes: 3 * 4096 }), configError(/got 12288 \(3 pages of 4096\)/));
  assert.equal(createPageCache('2way', { capacityBytes: 6 * 4096 }).slots, 6); // not a power of two: fine
});

test('pageSize must be a power of two from 64 to 65536', () => {
  for (const bad of [0, 100, 32, 131072, -4096]) {
    assert.throws(() => new DirectCache({ pageSize: bad, capacityBytes: 1 << 20 }),
      configError(new RegExp(`^Expected pageSize to be a power of two from 64 to 65536 bytes, got ${bad}$`)));
  }
});

test('an unknown policy or a non-object options value is refused', () => {
  assert.throws(() => createPageCache('lru' as CachePolicy), configError(/^Expected policy to be one of '2way', 'direct', got 'lru'$/));
  assert.throws(() => createPageCache('2way', 5 as never), configError(/^Expected cache options to be an object, got 5$/));
});

test('a capacity larger than Node can allocate is refused before allocating', () => {
  assert.throws(() => createPageCache('direct', { capacityBytes: 2 ** 33 }), configError(/at most \d+ .*got 8589934592/));
});

test('createPageCache builds the class of the policy', () => {
  assert.ok(createPageCache('2way', { capacityBytes: 8192 }) instanceof TwoWayCache);
  assert.ok(createPageCache('direct', { capacityBytes: 8192 }) instanceof DirectCache);
});
