/**
 * Interop with independent LZ4 implementations, both ways: lz4-napi (lz4_flex, Rust; its blocks
 * carry a 4-byte little-endian size prefix) and node-lz4 (bundled C lz4 1.9.2; raw blocks).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../../src/core/units.js';
import { lz4Codec } from '../../src/codec/lz4.js';
import { lz4DeltaCodec } from '../../src/codec/lz4-delta.js';
import { makePageSet, type PageClass } from '../helpers/pages.js';
import { asBuffer, lz4Napi, nodeLz4, withSizePrefix } from '../helpers/lz4-peers.js';

const CLASSES: PageClass[] = ['zero', 'text', 'binary', 'random', 'delta5'];

function pagesOf(kind: PageClass): Uint8Array[] {
  const set = makePageSet(kind, 128, 13);
  // For delta classes interop is about the XOR blocks, so test those pages.
  if (set.olds === null) return set.pages;
  return set.pages.map((p, k) => p.map((b, i) => b ^ set.olds![k][i]));
}

for (const kind of CLASSES) {
  test(`lz4-napi blocks of ${kind} pages decode with lz4Codec, and ours decode with lz4-napi`, () => {
    let ours = 0;
    for (const page of pagesOf(kind)) {
      const prefixed = lz4Napi.compressSync(Buffer.from(page));
      assert.equal(prefixed.readUInt32LE(0), PAGE_SIZE);
      const back = new Uint8Array(PAGE_SIZE);
      lz4Codec.decode(prefixed.subarray(4), back);
      assert.deepEqual(back, page);

      const out = new Uint8Array(PAGE_SIZE * 2);
      const n = lz4Codec.encode(null, page, out);
      if (n === null) continue;
      ours++;
      assert.deepEqual(new Uint8Array(lz4Napi.uncompressSync(withSizePrefix(out.subarray(0, n), PAGE_SIZE))), page);
    }
    if (kind !== 'random') assert.ok(ours > 64, `${kind}: only ${ours} pages compressed`);
  });

  test(`node-lz4 (C 1.9.2) blocks of ${kind} pages decode with lz4Codec, and ours decode with node-lz4`, () => {
    let theirs = 0;
    for (const page of pagesOf(kind)) {
      const dst = Buffer.alloc(PAGE_SIZE * 2);
      const m = nodeLz4.encodeBlock(asBuffer(page), dst);
      if (m > 0) {
        theirs++;
        const back = new Uint8Array(PAGE_SIZE);
        lz4Codec.decode(dst.subarray(0, m), back);
        assert.deepEqual(back, page);
      }
      const out = new Uint8Array(PAGE_SIZE * 2);
      const n = lz4Codec.encode(null, page, out);
      if (n === null) continue;
      const back = Buffer.alloc(PAGE_SIZE);
      assert.equal(nodeLz4.decodeBlock(asBuffer(out.subarray(0, n)), back), PAGE_SIZE);
      assert.deepEqual(new Uint8Array(back), page);
    }
    if (kind !== 'random') assert.ok(theirs > 64, `${kind}: node-lz4 compressed only ${theirs} pages`);
  });
}

test('lz4-delta payloads are plain LZ4 blocks of the XOR: peers decode them and their XOR blocks apply', () => {
  const set = makePageSet('delta5', 64, 17);
  for (let k = 0; k < set.pages.length; k++) {
    const old = set.olds![k];
    const page = set.pages[k];
    const x = page.map((b, i) => b ^ old[i]);
    const out = new Uint8Array(PAGE_SIZE);
    const n = lz4DeltaCodec.encode(old, page, out);
    assert.ok(n !== null && n > 0);
    assert.deepEqual(new Uint8Array(lz4Napi.uncompressSync(withSizePrefix(out.subarray(0, n), PAGE_SIZE))), x);

    const theirs = lz4Napi.compressSync(Buffer.from(x)).subarray(4);
    const target = old.slice();
    lz4DeltaCodec.decode(theirs, target);
    assert.deepEqual(target, page);
  }
});

test('a page ending in a long periodic run (period 1..20: the final match reaches the last 16 bytes) decodes exactly, from both peers', () => {
  const out = new Uint8Array(PAGE_SIZE * 2);
  const back = new Uint8Array(PAGE_SIZE);
  for (let period = 1; period <= 20; period++) {
    for (const runStart of [37, 1000, 4000]) {
      const page = new Uint8Array(PAGE_SIZE);
      for (let i = 0; i < runStart; i++) page[i] = (i * 131 + period) & 0xff;
      // A periodic run to the page's end: the encoder's last match ends within the last 16 bytes.
      for (let i = runStart; i < PAGE_SIZE; i++) page[i] = page[runStart - period + ((i - runStart) % period)];
      for (const encoder of ['ours', 'node-lz4'] as const) {
        let payload: Uint8Array;
        if (encoder === 'ours') {
          const n = lz4Codec.encode(null, page, out);
          assert.ok(n !== null, `period ${period}: ours did not compress`);
          payload = out.subarray(0, n);
        } else {
          const buf = Buffer.alloc(PAGE_SIZE * 2);
          payload = buf.subarray(0, nodeLz4.encodeBlock(Buffer.from(page), buf));
        }
        back.fill(0xee);
        lz4Codec.decode(payload, back);
        assert.deepEqual(back, page, `${encoder}: period ${period}, run from ${runStart}`);
      }
    }
  }
});
