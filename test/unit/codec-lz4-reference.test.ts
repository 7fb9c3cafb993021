/**
 * The native LZ4 codecs against the naive TypeScript reference (test/reference/lz4-naive.ts):
 * both directions on 10,000 seeded random page pairs, and the decoders' verdicts on mutated blocks.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../../src/core/units.js';
import {
  NATIVE_DELTA_UNCHANGED, NATIVE_E_MALFORMED, NATIVE_E_OVERRUN, NATIVE_E_TRUNCATED, nativeBinding,
} from '../../src/codec/native.js';
import { Prng } from '../helpers/prng.js';
import { mutateClustered, mutateScattered } from '../helpers/pages.js';
import { NaiveLz4Error, naiveCompress, naiveDecompress, type NaiveErrorKind } from '../reference/lz4-naive.js';

const PAIRS = 10_000;

/** A page built from random segments: noise, runs, back-references and small-alphabet text. */
function structuredPage(rng: Prng, size: number): Uint8Array {
  const p = new Uint8Array(size);
  let i = 0;
  while (i < size) {
    const len = Math.min(size - i, rng.int(1, rng.chance(0.2) ? 700 : 40));
    switch (rng.int(0, 4)) {
      case 0:
        rng.fill(p.subarray(i, i + len));
        break;
      case 1:
        p.fill(rng.chance(0.5) ? 0 : rng.int(0, 256), i, i + len);
        break;
      case 2: {
        if (i === 0) break;
        const offset = rng.int(1, Math.min(i, 65535) + 1);
        for (let k = 0; k < len; k++) p[i + k] = p[i + k - offset];
        break;
      }
      default:
        for (let k = 0; k < len; k++) p[i + k] = 0x61 + rng.int(0, 6);
    }
    i += len;
  }
  return p;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k] ^ b[k];
  return out;
}

test(`native and naive LZ4 agree both ways on ${PAIRS} seeded random page pairs (full and delta)`, () => {
  const nat = nativeBinding();
  const rng = new Prng(20240601);
  const out = new Uint8Array(PAGE_SIZE * 2 + 64);
  let unchanged = 0;
  for (let k = 0; k < PAIRS; k++) {
    // Mostly 4 KiB pages; some short ones exercise the end-of-block rules near the start.
    const size = rng.chance(0.1) ? rng.int(0, 300) : PAGE_SIZE;
    const old = structuredPage(rng, size);
    const page = old.slice();
    if (size > 0 && !rng.chance(0.05)) {
      if (rng.chance(0.5)) mutateClustered(page, rng.float() * 0.3, rng);
      else if (size >= 8) mutateScattered(page, rng.float() * 0.1, rng);
    }
    const label = `pair ${k} (size ${size})`;

    // native encode -> naive decode
    const n = nat.lz4Compress(page, out);
    assert.ok(n > 0, label);
    const viaNaive = new Uint8Array(size);
    assert.equal(naiveDecompress(out.subarray(0, n), viaNaive), size, label);
    assert.deepEqual(viaNaive, page, label);

    // naive encode -> native decode
    const naiveBlock = naiveCompress(page);
    const viaNative = new Uint8Array(size);
    assert.equal(nat.lz4Decompress(naiveBlock, viaNative), size, label);
    assert.deepEqual(viaNative, page, label);

    // native delta encode -> naive decode + XOR
    const d = nat.lz4DeltaCompress(old, page, out);
    if (d === NATIVE_DELTA_UNCHANGED) {
      assert.deepEqual(page, old, `${label}: reported unchanged`);
      unchanged++;
    } else {
      assert.ok(d > 0, label);
      const x = new Uint8Array(size);
      assert.equal(naiveDecompress(out.subarray(0, d), x), size, label);
      assert.deepEqual(xor(x, old), page, label);
    }

    // naive-encoded XOR -> native delta decode onto the old page
    if (size > 0) {
      const target = old.slice();
      assert.equal(nat.lz4DeltaDecompress(naiveCompress(xor(old, page)), target), size, label);
      assert.deepEqual(target, page, label);
    }
  }
  assert.ok(unchanged > 100 && unchanged < PAIRS / 5, `unchanged pairs: ${unchanged}`);
});

const KIND_OF_CODE: Record<number, NaiveErrorKind> = {
  [NATIVE_E_TRUNCATED]: 'truncated',
  [NATIVE_E_MALFORMED]: 'malformed',
  [NATIVE_E_OVERRUN]: 'overrun',
};

/** A random damage to a valid block. */
function mutate(block: Uint8Array, rng: Prng): Uint8Array {
  const b = block.slice();
  switch (rng.int(0, 6)) {
    case 0: b[rng.int(0, b.length)] ^= 1 << rng.int(0, 8); return b;
    case 1: b[rng.int(0, b.length)] = rng.pick([0, 0xff, 0x0f, 0xf0]); return b;
    case 2: return b.subarray(0, rng.int(0, b.length));
    case 3: return Uint8Array.from([...b, ...rng.bytes(rng.int(1, 6))]);
    case 4: { const at = rng.int(0, b.length); return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]); }
    default: { const at = rng.int(0, b.length); b.fill(rng.int(0, 256), at, at + rng.int(1, 4)); return b; }
  }
}

test('on mutated blocks the native decoder and the naive reference give the same verdict and bytes', () => {
  const nat = nativeBinding();
  const rng = new Prng(77);
  const verdicts = { ok: 0, truncated: 0, malformed: 0, overrun: 0 };
  for (let k = 0; k < 4000; k++) {
    const size = rng.chance(0.2) ? rng.int(13, 200) : PAGE_SIZE;
    const page = structuredPage(rng, size);
    const block = rng.chance(0.5) ? naiveCompress(page) : (() => {
      const out = new Uint8Array(size * 2 + 64);
      return out.slice(0, nat.lz4Compress(page, out));
    })();
    const bad = mutate(block, rng);
    const a = new Uint8Array(size);
    const b = new Uint8Array(size);
    const rc = nat.lz4Decompress(bad, a);
    let naive: number | NaiveErrorKind;
    try {
      naive = naiveDecompress(bad, b);
    } catch (err) {
      assert.ok(err instanceof NaiveLz4Error, String(err));
      naive = err.kind;
    }
    if (rc >= 0) {
      assert.equal(naive, rc, `case ${k}: native produced ${rc}, naive said ${naive}`);
      assert.deepEqual(a.subarray(0, rc), b.subarray(0, rc), `case ${k}`);
      verdicts.ok++;
    } else {
      assert.equal(KIND_OF_CODE[rc], naive, `case ${k}: native ${rc}, naive ${naive}`);
      verdicts[naive as NaiveErrorKind]++;
    }
  }
  // The mutations must exercise every verdict, or this test proves little.
  for (const [kind, count] of Object.entries(verdicts)) assert.ok(count > 50, `${kind}: only ${count} cases`);
});

test('liblz4 agrees with our decoder on every full-page block except the offset-0 ones it accepts', () => {
  const nat = nativeBinding();
  const rng = new Prng(99);
  let offsetZeroAccepted = 0; // reported in the test name on failure only
  for (let k = 0; k < 3000; k++) {
    const page = structuredPage(rng, PAGE_SIZE);
    const bad = k % 4 === 0 ? naiveCompress(page) : mutate(naiveCompress(page), rng);
    const ours = new Uint8Array(PAGE_SIZE);
    const theirs = new Uint8Array(PAGE_SIZE);
    const rc = nat.lz4Decompress(bad, ours);
    const sys = nat.lz4DecompressSystem(bad, theirs);
    if (rc === PAGE_SIZE) {
      assert.equal(sys, PAGE_SIZE, `case ${k}`);
      assert.deepEqual(ours, theirs, `case ${k}`);
    } else if (sys === PAGE_SIZE) {
      // liblz4 1.9.4 does not check for offset 0; the spec calls such a block corrupt.
      assert.throws(() => naiveDecompress(bad, new Uint8Array(PAGE_SIZE)), /offset 0/, `case ${k}`);
      offsetZeroAccepted++;
    }
  }
  // A hand-made block makes sure the offset-0 path is covered at least once.
  const lits = new Uint8Array(16).fill(0x61);
  const block = Uint8Array.from([0xf0, 1, ...lits, 0, 0, 0xc0, ...lits.subarray(0, 12)]);
  assert.equal(nat.lz4DecompressSystem(block, new Uint8Array(32)), 32, 'liblz4 accepts offset 0');
  assert.equal(nat.lz4Decompress(block, new Uint8Array(32)), NATIVE_E_MALFORMED, 'we reject it');
});

test('the naive encoder honours the end-of-block rules for every small size', () => {
  const rng = new Prng(5);
  for (let size = 0; size <= 64; size++) {
    for (const page of [new Uint8Array(size), structuredPage(rng, size)]) {
      const block = naiveCompress(page);
      const out = new Uint8Array(size);
      // liblz4 checks the same rules relative to the buffer end, so an exact buffer tests them.
      assert.equal(nativeBinding().lz4DecompressSystem(block, out), size, `size ${size}`);
      assert.deepEqual(out, page);
      if (size < 13) assert.equal(block.length, 1 + size + (size >= 15 ? 1 : 0), `size ${size} must be all literals`);
    }
  }
});
