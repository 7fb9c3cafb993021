/**
 * On a seeded workload whose hot pages conflict in the direct-mapped cache (page p and p + slots), the
 * 2-way cache keeps both and hits more often; on a plain random workload it is at least as good.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageCache, type CachePolicy, type PageCache } from './cache-test-kit.js';
import { Prng } from '../helpers/prng.js';

const PAGE = 64;
const SLOTS = 1024;

/** A seeded source of floats in [0, 1), so random tests replay exactly. */
function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.float();
}

/** Runs rounds of dirty pages through `cache` as XBZRLE does: lookup, then insert the new version; sync per round. */
function run(policy: CachePolicy, rounds: (rand: () => number) => number[][]): PageCache {
  const cache = createPageCache(policy, { capacityBytes: SLOTS * PAGE, pageSize: PAGE });
  const page = new Uint8Array(PAGE);
  for (const round of rounds(prng(2024))) {
    for (const p of round) {
      cache.lookup(p);
      page[0] = p & 0xff;
      cache.insert(p, page);
    }
    cache.sync();
  }
  return cache;
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

test('two hot pages sharing a direct slot: the 2-way cache hits nearly always, the direct cache half the time', () => {
  const rounds = () => Array.from({ length: 100 }, () => [5, 5 + SLOTS]);
  const twoWay = run('2way', rounds).stats();
  const direct = run('direct', rounds).stats();
  assert.ok(twoWay.hitRate >= 0.99, `2way ${twoWay.hitRate}`);
  assert.ok(direct.hitRate <= 0.51, `direct ${direct.hitRate}`);
  assert.ok(direct.rejected >= 99, `direct refused ${direct.rejected}`);
});

test('a hot set of conflicting pairs plus cold noise: 2-way hit rate exceeds direct by a wide margin', () => {
  const rounds = (rand: () => number): number[][] => {
    const hot: number[] = [];
    for (let i = 0; i < SLOTS / 8; i++) {
      const a = Math.floor(rand() * 64) * SLOTS + i * 8; // distinct direct slots i*8 ...
      hot.push(a, a + 7 * SLOTS); // ... each holding a conflicting pair
    }
    return Array.from({ length: 60 }, () => {
      const cold = Array.from({ length: SLOTS / 16 }, () => Math.floor(rand() * (1 << 20)));
      return shuffle([...hot, ...cold], rand);
    });
  };
  const twoWay = run('2way', rounds).stats();
  const direct = run('direct', rounds).stats();
  assert.ok(twoWay.hitRate >= direct.hitRate + 0.2, `2way ${twoWay.hitRate.toFixed(3)} vs direct ${direct.hitRate.toFixed(3)}`);
});

test('uniform random dirtying (no designed conflicts): the 2-way hit rate is at least the direct one', () => {
  const rounds = (rand: () => number): number[][] =>
    Array.from({ length: 60 }, () => Array.from({ length: SLOTS }, () => Math.floor(rand() * 2 * SLOTS)));
  const twoWay = run('2way', rounds).stats();
  const direct = run('direct', rounds).stats();
  assert.ok(twoWay.hitRate >= direct.hitRate, `2way ${twoWay.hitRate.toFixed(3)} vs direct ${direct.hitRate.toFixed(3)}`);
});
