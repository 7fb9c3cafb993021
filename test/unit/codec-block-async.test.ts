/**
 * Block compression on libuv's thread pool (the addon's blockCompressAsync, BlockCodec.encodeAsync):
 * byte-identical to the synchronous encode for every block codec and level, many blocks at once
 * each land in their own output, and bad arguments are clear errors thrown before anything queues.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_CODECS, BLOCK_MASK_BYTES, blockCodecOf, getBlockCodec } from '../../src/codec/index.js';
import { nativeBinding } from '../../src/codec/native.js';

const PAGE = 4096;

/** `pages` pages of text-like bytes that differ per seed: compressible, but not trivially. */
function textPages(pages: number, seed: number): Uint8Array {
  const words = ['page', 'guest', 'dirty', 'round', 'cache', 'delta', 'wire', 'path', `s${seed}`];
  let x = seed * 2654435761 >>> 0;
  let s = '';
  while (s.length < pages * PAGE) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += words[x % words.length] + (x & 0x100 ? ' ' : '\n');
  }
  return new Uint8Array(Buffer.from(s.slice(0, pages * PAGE), 'latin1'));
}

function maskOf(pages: number): [number, number] {
  return [pages >= 32 ? -1 : (2 ** pages - 1) | 0, pages > 32 ? (2 ** (pages - 32) - 1) | 0 : 0];
}

test('encodeAsync writes exactly what encode writes, for every block codec and zstd levels -3, 1 and 9', async () => {
  const codecs = [...BLOCK_CODECS, blockCodecOf('zstd', false, { zstdLevel: -3 }), blockCodecOf('zstd', true, { zstdLevel: 9 })];
  for (const codec of codecs) {
    for (const pages of [2, 33, 64]) {
      const data = textPages(pages, pages);
      const [lo, hi] = maskOf(pages);
      const syncOut = new Uint8Array(BLOCK_MASK_BYTES + data.length);
      const asyncOut = new Uint8Array(syncOut.length);
      const n = codec.encode(lo, hi, data, syncOut);
      const m = await codec.encodeAsync(lo, hi, data, asyncOut);
      assert.ok(n !== null && n < data.length, `${codec.name}: text did not compress`);
      assert.equal(m, n, `${codec.name} level ${codec.level}, ${pages} pages`);
      assert.ok(Buffer.from(asyncOut.subarray(0, m!)).equals(Buffer.from(syncOut.subarray(0, n))), `${codec.name}: bytes differ`);
    }
  }
});

test('encodeAsync resolves null when the block does not pay, as encode returns null', async () => {
  let x = 0x9e3779b9;
  const noise = new Uint8Array(8 * PAGE).map(() => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32: incompressible bytes
    return x & 0xff;
  });
  const [lo, hi] = maskOf(8);
  for (const codec of BLOCK_CODECS) {
    const out = new Uint8Array(BLOCK_MASK_BYTES + noise.length);
    assert.equal(codec.encode(lo, hi, noise, out), null, codec.name);
    assert.equal(await codec.encodeAsync(lo, hi, noise, out), null, codec.name);
    // An output too small for any stream is null as well, without queueing anything.
    assert.equal(await codec.encodeAsync(lo, hi, textPages(8, 1), out.subarray(0, BLOCK_MASK_BYTES)), null, codec.name);
  }
});

test('many blocks compressing at once each land in their own output, and decode back', async () => {
  const codec = getBlockCodec('zstd-block');
  const [lo, hi] = maskOf(64);
  const inputs = Array.from({ length: 24 }, (_, i) => textPages(64, 100 + i));
  const outs = inputs.map((d) => new Uint8Array(BLOCK_MASK_BYTES + d.length));
  const lengths = await Promise.all(inputs.map((d, i) => codec.encodeAsync(lo, hi, d, outs[i])));
  const scratch = new Uint8Array(64 * PAGE);
  for (let i = 0; i < inputs.length; i++) {
    assert.ok(lengths[i] !== null);
    const { pages, data } = codec.decode(outs[i].subarray(0, lengths[i]!), 0, 64, PAGE, scratch);
    assert.equal(pages.length, 64);
    assert.ok(Buffer.from(data).equals(Buffer.from(inputs[i])), `block ${i} decodes to another block's pages`);
  }
});

test('blockCompressAsync refuses bad arguments with a TypeError before queueing', () => {
  const b = nativeBinding();
  const src = new Uint8Array(2 * PAGE);
  const dst = new Uint8Array(2 * PAGE);
  const done = () => assert.fail('done ran for refused arguments');
  assert.throws(() => b.blockCompressAsync(src, dst, 1, dst.length, undefined as unknown as () => void), /done must be a function/);
  assert.throws(() => b.blockCompressAsync('x' as unknown as Uint8Array, dst, 1, dst.length, done), /src must be a Uint8Array/);
  assert.throws(() => b.blockCompressAsync(src, dst, 99, dst.length, done), /level must be an integer zstd compression level/);
  assert.throws(() => b.blockCompressAsync(src, dst, 1, dst.length + 1, done), /maxBytes must be an integer between 0 and dst.length/);
  assert.throws(() => b.blockCompressAsync(new Uint8Array(0), dst, null, dst.length, done), /src must hold 1 to MAX_BLOCK_BYTES/);
  assert.throws(() => b.blockCompressAsync(new Uint8Array(b.MAX_BLOCK_BYTES + 1), dst, 1, dst.length, done), /src must hold 1 to MAX_BLOCK_BYTES/);
  assert.throws(() => b.blockCompressAsync(src, src.subarray(PAGE), 1, PAGE, done), /must not overlap/);
});
