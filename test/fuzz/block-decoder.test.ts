/**
 * Fuzzes the multi-page block decoders (src/codec/block.ts) as codec-decoders.test.ts does the page
 * decoders: random bytes and mutated valid blocks (bit flips, mask pokes, truncation, extension,
 * splices, inserted and deleted ranges). Every case must decode or throw a LivemigError; a decoded
 * block must be self-consistent (members in range and ascending, the first one the record's page,
 * exactly members × pageSize bytes); nothing outside the scratch buffer may change. Deterministic
 * from the seed; in-process (the stream decoders are the native ones the page fuzzers already run
 * in a watchdog child; what is new here is the mask and size handling).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../../src/core/units.js';
import { LivemigError } from '../../src/core/errors.js';
import { BLOCK_CODECS, BLOCK_MASK_BYTES, MAX_BLOCK_PAGES, xorBytes, type BlockCodec } from '../../src/codec/index.js';
import { makePageSet } from '../helpers/pages.js';
import { Prng } from '../helpers/prng.js';
import { blockOf } from '../helpers/blocks.js';
import { mutate } from './harness.js';

const CASES = 20_000;
const SEED = 20240611;
const P = PAGE_SIZE;
const GUEST_PAGES = 4096;
const CANARY = 0xa5;
const GUARD = 64;

function corpusOf(codec: BlockCodec, rng: Prng): Uint8Array[] {
  const corpus: Uint8Array[] = [];
  for (const kind of ['zero', 'text', 'binary', 'delta5', 'scatter5'] as const) {
    const set = makePageSet(kind, 64, 17);
    const pages = set.olds ? set.pages.map((p, k) => { const x = new Uint8Array(P); xorBytes(x, p, set.olds![k]); return x; }) : set.pages;
    for (let t = 0; t < 6; t++) {
      // A random mask with bit 0 set, over a random span.
      const span = rng.int(1, MAX_BLOCK_PAGES + 1);
      const bits = [0, ...Array.from({ length: span - 1 }, (_, i) => i + 1).filter(() => rng.chance(0.5))];
      const { lo, hi, data } = blockOf(bits, pages, t);
      const out = new Uint8Array(BLOCK_MASK_BYTES + data.length);
      const n = codec.encode(lo, hi, data, out);
      if (n !== null) corpus.push(out.slice(0, n));
    }
  }
  return corpus;
}

/** The page fuzzers' mutations, plus pokes of the 8-byte page mask that leads every block. */
function mutateBlock(input: Uint8Array, corpus: ReadonlyArray<{ payload: Uint8Array }>, rng: Prng): Uint8Array {
  if (input.length < BLOCK_MASK_BYTES || !rng.chance(0.25)) return mutate(input, corpus, rng);
  const b = input.slice();
  b[rng.int(0, BLOCK_MASK_BYTES)] = rng.pick([0x00, 0x01, 0xff, 0xfe, 0x80, 0x7f]);
  return rng.chance(0.5) ? mutate(b, corpus, rng) : b;
}

for (const codec of BLOCK_CODECS) {
  test(`${codec.name} decoder: ${CASES} random and mutated blocks only ever decode consistently or raise LivemigError, inside the scratch`, () => {
    const rng = new Prng(SEED + codec.id);
    const corpus = corpusOf(codec, rng).map((payload) => ({ payload }));
    assert.ok(corpus.length > 10);
    const backing = new Uint8Array(GUARD + MAX_BLOCK_PAGES * P + GUARD).fill(CANARY);
    const scratch = backing.subarray(GUARD, GUARD + MAX_BLOCK_PAGES * P);
    const failures: string[] = [];
    let accepted = 0;
    let rejected = 0;
    for (let c = 0; c < CASES && failures.length < 5; c++) {
      const input = rng.chance(0.2) ? rng.bytes(rng.int(0, 600)) : mutateBlock(rng.pick(corpus).payload, corpus, rng);
      const first = rng.chance(0.1) ? GUEST_PAGES - rng.int(1, 64) : rng.int(0, GUEST_PAGES - 64);
      try {
        const d = codec.decode(input, first, GUEST_PAGES, P, scratch);
        accepted++;
        const ok = d.pages.length > 0 && d.pages[0] === first && d.pages.every((p, k) => p < GUEST_PAGES && p < first + 64 && (k === 0 || p > d.pages[k - 1]))
          && d.data.length === d.pages.length * P && d.data.byteOffset === scratch.byteOffset;
        if (!ok) failures.push(`case ${c}: accepted an inconsistent block (${d.pages.length} pages from ${d.pages[0]}, ${d.data.length} bytes)`);
      } catch (err) {
        rejected++;
        if (!(err instanceof LivemigError)) failures.push(`case ${c}: threw ${String(err)} instead of a LivemigError`);
      }
      for (let k = 0; k < GUARD; k++) {
        if (backing[k] !== CANARY || backing[backing.length - 1 - k] !== CANARY) {
          failures.push(`case ${c}: wrote outside the scratch`);
          backing.fill(CANARY);
          break;
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(accepted > 0 && rejected > 0, `accepted ${accepted}, rejected ${rejected}`);
  });
}
