/** The link-following `adaptive` choice: the pure chooser, the learning, and the plans in PageEncoder. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../../src/core/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { getCodecById } from '../../src/codec/index.js';
import { CodecChooser, choosePlan, PLAN_PRIORS, type PlanStats } from '../../src/engine/codec-chooser.js';
import { CODEC_PLANS, emptySamples, addSample } from '../../src/engine/codec-plan.js';
import { PageEncoder } from '../../src/engine/page-encoder.js';
import { makePageSet } from '../helpers/pages.js';

/** Rates and ratios shaped like this machine's: stronger plans are slower and smaller. */
const STATS: PlanStats = {
  raw: { full: { cpuBytesPerSec: 4e9, ratio: 1 }, delta: { cpuBytesPerSec: 4e9, ratio: 1 } },
  'lz4-delta': { full: { cpuBytesPerSec: 600e6, ratio: 0.45 }, delta: { cpuBytesPerSec: 1.5e9, ratio: 0.05 } },
  'zstd-delta@-1': { full: { cpuBytesPerSec: 350e6, ratio: 0.38 }, delta: { cpuBytesPerSec: 900e6, ratio: 0.04 } },
  'zstd-delta@1': { full: { cpuBytesPerSec: 250e6, ratio: 0.31 }, delta: { cpuBytesPerSec: 700e6, ratio: 0.04 } },
};
const MIX = { full: 100_000, delta: 0, pages: 100_000 };

test('choosePlan picks the strongest plan on a slow link and no compression on a fast one', () => {
  const slow = choosePlan(STATS, 10e6, MIX, { pageSize: PAGE_SIZE });
  assert.equal(slow.order.plan, 'zstd-delta@1');
  assert.equal(slow.order.blend, undefined);
  const fast = choosePlan(STATS, 20e9, MIX, { pageSize: PAGE_SIZE });
  assert.equal(fast.order.plan, 'raw');
  const unknown = choosePlan(STATS, Number.POSITIVE_INFINITY, MIX, { pageSize: PAGE_SIZE });
  assert.equal(unknown.order.plan, 'raw');
  assert.equal(unknown.choice.linkBytesPerSec, null);
  // The report explains itself: one candidate per plan, with its rate, ratio and predicted time.
  assert.deepEqual(slow.choice.candidates.map((c) => c.plan), [...CODEC_PLANS]);
  const z = slow.choice.candidates.find((c) => c.plan === 'zstd-delta@1')!;
  assert.equal(z.ratio, 0.31);
  assert.ok(Math.abs(z.predictedMs - (MIX.full * PAGE_SIZE * 0.31) / 10e6 * 1000) < 1);
});

test('choosePlan blends a byte-bound and a CPU-bound plan where the two times meet', () => {
  // At 200 MB/s lz4 is byte-bound (1229 ms of wire vs 683 ms CPU), zstd@-1 CPU-bound.
  const r = choosePlan(STATS, 200e6, MIX, { pageSize: PAGE_SIZE, tolerance: 0 });
  assert.equal(r.order.plan, 'lz4-delta');
  assert.ok(r.order.blend !== undefined && r.order.blend.startsWith('zstd'));
  assert.ok(r.order.blendFraction! > 0 && r.order.blendFraction! < 1);
  const pure = Math.min(...r.choice.candidates.map((c) => c.predictedMs));
  assert.ok(r.predicted.ms < pure, `blend ${r.predicted.ms} ms should beat every single plan (${pure} ms)`);
});

test('more threads move the choice to a stronger plan on the same link', () => {
  const one = choosePlan(STATS, 150e6, MIX, { pageSize: PAGE_SIZE, threads: 1, tolerance: 0 });
  const four = choosePlan(STATS, 150e6, MIX, { pageSize: PAGE_SIZE, threads: 4, tolerance: 0 });
  assert.ok(four.predicted.outBytes < one.predicted.outBytes);
  assert.equal(four.order.plan, 'zstd-delta@1');
});

test('choosePlan leaves out plans not offered (no zstd at an old destination)', () => {
  const r = choosePlan(STATS, 10e6, MIX, { pageSize: PAGE_SIZE, candidates: ['raw', 'lz4-delta'] });
  assert.equal(r.order.plan, 'lz4-delta');
  assert.deepEqual(r.choice.candidates.map((c) => c.plan), ['raw', 'lz4-delta']);
});

test('CodecChooser learns a slow link from waiting and a fast one from not waiting', () => {
  const ch = new CodecChooser({ pageSize: PAGE_SIZE });
  assert.equal(ch.linkBytesPerSec, Number.POSITIVE_INFINITY);
  // Waited 80 % of a second that moved 10 MB: the link drains 10 MB/s.
  ch.observe({ wallMs: 1000, waitMs: 800, wireBytes: 10e6, samples: emptySamples() });
  assert.equal(ch.linkBytesPerSec, 10e6);
  assert.equal(ch.decide(MIX).order.plan, 'zstd-delta@1');
  // Then it never waited while moving 2 GB/s: at least that fast.
  ch.observe({ wallMs: 1000, waitMs: 0, wireBytes: 2e9, samples: emptySamples() });
  assert.equal(ch.linkBytesPerSec, 2e9);
  // A cap bounds the link from above.
  const capped = new CodecChooser({ pageSize: PAGE_SIZE, capBytesPerSec: 125e6 });
  capped.observe({ wallMs: 1000, waitMs: 900, wireBytes: 500e6, samples: emptySamples() });
  assert.equal(capped.linkBytesPerSec, 125e6);
});

test('CodecChooser replaces its priors with what the samples measured', () => {
  const ch = new CodecChooser({ pageSize: PAGE_SIZE });
  const s = emptySamples();
  // lz4 measured ten times slower than its prior: on a 50 MB/s link zstd@1 no longer pays its CPU.
  addSample(s, 'lz4-delta', 'full', { pages: 1000, inBytes: 1000 * PAGE_SIZE, outBytes: 400 * PAGE_SIZE, ms: (1000 * PAGE_SIZE) / 60e3 });
  ch.observe({ wallMs: 100, waitMs: 0, wireBytes: 0, samples: s });
  const est = ch.stats['lz4-delta']!.full;
  assert.ok(Math.abs(est.cpuBytesPerSec - 60e6) / 60e6 < 0.01, `${est.cpuBytesPerSec}`);
  assert.equal(est.ratio, 0.4);
  assert.equal(PLAN_PRIORS['lz4-delta'].full.ratio, 0.5, 'the priors themselves stay untouched');
});

test('PageEncoder adaptive follows the plan it is given, switching between pages, and every page decodes', () => {
  const set = makePageSet('text', 64, 5);
  const cache = createPageCache('2way', { capacityBytes: 4096 * PAGE_SIZE });
  const enc = new PageEncoder('adaptive', cache, PAGE_SIZE, 64);
  const out = new Uint8Array(2 * PAGE_SIZE);
  const dest = set.pages.map(() => new Uint8Array(PAGE_SIZE));
  const ids = new Set<string>();
  const send = (k: number, page: Uint8Array, round: number) => {
    const r = enc.encode(k, page, round, out);
    if (r === null) return;
    const codec = getCodecById(r.codecId);
    ids.add(codec.name);
    codec.decode(out.subarray(0, r.length), dest[k]);
  };
  enc.setPlan({ plan: 'raw', sampleEvery: 4 });
  for (let k = 0; k < 32; k++) send(k, set.pages[k], 0);
  assert.deepEqual([...ids], ['raw']);
  enc.setPlan({ plan: 'zstd-delta@1', sampleEvery: 4 });
  for (let k = 32; k < 64; k++) send(k, set.pages[k], 0);
  assert.ok(ids.has('zstd'));
  const s = enc.takeSamples()!;
  assert.equal(s.full, 64);
  assert.equal(s.plans.raw!.full!.pages, 32 + 8, 'own pages plus zstd-time samples');
  assert.ok(s.plans['lz4-delta']!.full!.pages === 16, 'one in four pages sampled by each other plan');
  // Round 1: changed pages go as deltas of the plan in force, unchanged ones not at all.
  const changed = set.pages.map((p, k) => (k % 2 === 0 ? Uint8Array.from(p, (b, i) => (i < 16 ? b ^ 0x5a : b)) : p));
  enc.setPlan({ plan: 'lz4-delta' });
  ids.clear();
  for (let k = 0; k < 64; k++) send(k, changed[k], 1);
  assert.deepEqual([...ids], ['lz4-delta']);
  assert.equal(enc.counters.unchangedPages, 32);
  for (let k = 0; k < 64; k++) assert.deepEqual(dest[k], changed[k], `page ${k}`);
});

test('a raw plan still skips unchanged cache hits and a blend spreads its share evenly', () => {
  const set = makePageSet('text', 40, 6);
  const cache = createPageCache('2way', { capacityBytes: 4096 * PAGE_SIZE });
  const enc = new PageEncoder('adaptive', cache, PAGE_SIZE, 40);
  const out = new Uint8Array(2 * PAGE_SIZE);
  enc.setPlan({ plan: 'lz4-delta', blend: 'zstd-delta@-1', blendFraction: 0.25 });
  const names: string[] = [];
  for (let k = 0; k < 40; k++) names.push(getCodecById(enc.encode(k, set.pages[k], 0, out)!.codecId).name);
  assert.equal(names.filter((n) => n === 'zstd').length, 10);
  enc.setPlan({ plan: 'raw' });
  for (let k = 0; k < 40; k++) assert.equal(enc.encode(k, set.pages[k], 1, out), null);
  assert.equal(enc.counters.unchangedPages, 40);
});
