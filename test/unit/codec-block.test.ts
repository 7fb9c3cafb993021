/**
 * Multi-page block codecs (src/codec/block.ts): golden round trips, the validation that runs before
 * any page is written, and interop of the stream with the plain LZ4 and zstd decoders.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PAGE_SIZE } from '../../src/core/units.js';
import { isLivemigError } from '../../src/core/errors.js';
import {
  BLOCK_CODECS, BLOCK_CODEC_IDS, BLOCK_MASK_BYTES, CODEC_IDS, MAX_BLOCK_PAGES, blockCodecById, blockCodecNames, blockCodecOf, blockMaskCount,
  codecNames, getBlockCodec, getCodecById, xorBytes, type BlockCodec,
} from '../../src/codec/index.js';
import { nativeBinding } from '../../src/codec/native.js';
import { asBuffer, nodeLz4 } from '../helpers/lz4-peers.js';
import { makePageSet, type PageClass } from '../helpers/pages.js';
import { blockOf } from '../helpers/blocks.js';
import { Prng } from '../helpers/prng.js';

const P = PAGE_SIZE;
const GUEST_PAGES = 1024;


function encode(codec: BlockCodec, lo: number, hi: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK_MASK_BYTES + data.length);
  const n = codec.encode(lo, hi, data, out);
  assert.ok(n !== null, `${codec.name}: ${data.length} bytes did not compress`);
  return out.subarray(0, n);
}

const scratch = () => new Uint8Array(MAX_BLOCK_PAGES * P);
const CLASSES: PageClass[] = ['zero', 'text', 'binary', 'delta1', 'delta5', 'scatter5'];
const MASKS: number[][] = [[0, 1], [0, 5, 9, 31], [0, 32], [0, 31, 32, 63], Array.from({ length: 64 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i * 2)];

test('block codec ids are appended after the page codec ids and the table names every block codec', () => {
  const pageIds = new Set<number>(Object.values(CODEC_IDS));
  assert.deepEqual(Object.values(BLOCK_CODEC_IDS), [8, 9, 10, 11]);
  for (const id of Object.values(BLOCK_CODEC_IDS)) {
    assert.ok(!pageIds.has(id), `block id ${id} is also a page codec id`);
    assert.throws(() => getCodecById(id), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_UNKNOWN'));
  }
  assert.deepEqual(blockCodecNames(), ['lz4-block', 'zstd-block', 'lz4-delta-block', 'zstd-delta-block']);
  for (const c of BLOCK_CODECS) assert.equal(blockCodecById(c.id), c);
  assert.equal(blockCodecById(CODEC_IDS.lz4), undefined);
  for (const name of blockCodecNames()) assert.ok(!codecNames().includes(name as never));
  assert.equal(blockCodecOf('zstd', true, { zstdLevel: 3 }).level, 3);
  assert.equal(getBlockCodec('zstd-block', { zstdLevel: 5 }).id, BLOCK_CODEC_IDS['zstd-block']);
  assert.throws(() => blockCodecOf('zstd', false, { zstdLevel: 0 }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  assert.throws(() => getBlockCodec('lz4'), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_UNKNOWN'));
});

for (const codec of [blockCodecOf('lz4', false), blockCodecOf('zstd', false), blockCodecOf('zstd', false, { zstdLevel: 3 }), blockCodecOf('lz4', true), blockCodecOf('zstd', true, { zstdLevel: -3 })]) {
  test(`${codec.name}${codec.level !== null ? ` level ${codec.level}` : ''}: every mask shape round-trips the members' bytes exactly, at the right pages`, () => {
    for (const kind of CLASSES) {
      const set = makePageSet(kind, 64, 5);
      // Delta classes carry XORs, as the engine stages them.
      const pages = set.olds ? set.pages.map((p, k) => { const x = new Uint8Array(P); xorBytes(x, p, set.olds![k]); return x; }) : set.pages;
      for (const bits of MASKS) {
        const { lo, hi, data } = blockOf(bits, pages);
        const out = new Uint8Array(BLOCK_MASK_BYTES + data.length);
        const n = codec.encode(lo, hi, data, out);
        if (n === null) continue;
        assert.ok(n < data.length + BLOCK_MASK_BYTES);
        const first = 100;
        const d = codec.decode(out.subarray(0, n), first, GUEST_PAGES, P, scratch());
        assert.deepEqual(d.pages, bits.map((b) => first + b), `${kind} mask ${bits.join(',')}`);
        assert.ok(Buffer.from(d.data).equals(data), `${kind} mask ${bits.join(',')}: bytes differ`);
      }
    }
  });
}

test('blocks beat page-by-page compression on neighbouring text pages (the point of blocks)', () => {
  const pages = makePageSet('text', 64, 9).pages;
  const lz4 = nativeBinding();
  let perPage = 0;
  const tmp = new Uint8Array(2 * P);
  for (const p of pages) perPage += 8 + lz4.lz4Compress(p, tmp, P - 1);
  const { lo, hi, data } = blockOf(Array.from({ length: 64 }, (_, i) => i), pages);
  const block = encode(blockCodecOf('lz4', false), lo, hi, data).length + 8;
  assert.ok(block < perPage, `block ${block} bytes vs ${perPage} page by page`);
});

test('encode refuses data that does not compress (the writer then sends the pages alone)', () => {
  const rnd = new Prng(3).bytes(4 * P);
  for (const c of BLOCK_CODECS) assert.equal(c.encode(0b1111, 0, rnd, new Uint8Array(8 + rnd.length)), null, c.name);
  // Too small an output buffer is the same ordinary outcome.
  const text = blockOf([0, 1], makePageSet('text', 2, 1).pages).data;
  assert.equal(blockCodecOf('lz4', false).encode(3, 0, text, new Uint8Array(20)), null);
  // A mask that does not match the data is a bug of the caller.
  assert.throws(() => blockCodecOf('lz4', false).encode(0b110, 0, text, new Uint8Array(3 * P)), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INTERNAL'));
  assert.throws(() => blockCodecOf('lz4', false).encode(0b111, 0, text, new Uint8Array(3 * P)), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INTERNAL'));
});

test('a malformed block is refused before anything but the scratch is written: mask, page range, exact size', () => {
  const pages = makePageSet('text', 4, 2).pages;
  for (const codec of BLOCK_CODECS) {
    const { lo, hi, data } = blockOf([0, 1, 2], pages);
    const good = encode(codec, lo, hi, data);
    const withMask = (l: number, h: number): Uint8Array => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(0, l >>> 0, true);
      new DataView(b.buffer).setUint32(4, h >>> 0, true);
      return b;
    };
    const refuses = (payload: Uint8Array, code: string, first = 10, label = code): void => {
      assert.throws(() => codec.decode(payload, first, GUEST_PAGES, P, scratch()), (e: unknown) => isLivemigError(e, code as never), `${codec.name}: ${label}`);
    };
    refuses(withMask(0, 0), 'LIVEMIG_E_CODEC_MALFORMED', 10, 'empty mask');
    refuses(withMask(0b1110, 0), 'LIVEMIG_E_CODEC_MALFORMED', 10, 'bit 0 clear');
    // Three members declared as four, or as two: the stream does not produce exactly that.
    refuses(withMask(0b1111, 0), 'LIVEMIG_E_CODEC_TRUNCATED', 10, 'more members than the stream holds');
    refuses(withMask(0b11, 0), 'LIVEMIG_E_CODEC_OVERRUN', 10, 'fewer members than the stream holds');
    refuses(withMask(0b111, 0), 'LIVEMIG_E_WIRE_MALFORMED', GUEST_PAGES - 2, 'a member past the guest');
    refuses(withMask(1, 1 << 31), 'LIVEMIG_E_WIRE_MALFORMED', GUEST_PAGES - 63, 'bit 63 past the guest');
    refuses(good.subarray(0, 8), 'LIVEMIG_E_CODEC_TRUNCATED', 10, 'no stream');
    refuses(good.subarray(0, 3), 'LIVEMIG_E_CODEC_TRUNCATED', 10, 'half a mask');
    assert.throws(() => codec.decode(good.subarray(0, good.length - 1), 10, GUEST_PAGES, P, scratch()), (e: unknown) => isLivemigError(e), `${codec.name}: cut stream`);
    // And the good one decodes, at the last pages of the guest too.
    assert.equal(codec.decode(good, GUEST_PAGES - 3, GUEST_PAGES, P, scratch()).pages.at(-1), GUEST_PAGES - 1);
  }
});

test('lz4 block streams are plain LZ4 blocks: liblz4 and node-lz4 decode them to the concatenated pages', () => {
  for (const kind of ['text', 'binary', 'zero'] as PageClass[]) {
    const { lo, hi, data } = blockOf(Array.from({ length: 64 }, (_, i) => i), makePageSet(kind, 64, 4).pages);
    for (const codec of [blockCodecOf('lz4', false), blockCodecOf('lz4', true)]) {
      const stream = encode(codec, lo, hi, data).subarray(BLOCK_MASK_BYTES);
      const a = new Uint8Array(data.length);
      assert.equal(nativeBinding().lz4DecompressSystem(stream, a), data.length);
      assert.ok(Buffer.from(a).equals(data), `${kind}: liblz4`);
      const b = Buffer.alloc(data.length);
      assert.equal(nodeLz4.decodeBlock(asBuffer(stream), b), data.length);
      assert.ok(b.equals(data), `${kind}: node-lz4`);
    }
    // The other way: node-lz4's block of the pages, behind a mask, decodes with ours.
    const theirs = Buffer.alloc(data.length * 2);
    const n = nodeLz4.encodeBlock(asBuffer(data), theirs);
    assert.ok(n > 0);
    const payload = new Uint8Array(BLOCK_MASK_BYTES + n);
    payload.set([lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24]);
    payload.set(theirs.subarray(0, n), BLOCK_MASK_BYTES);
    const d = blockCodecOf('lz4', false).decode(payload, 0, GUEST_PAGES, P, scratch());
    assert.ok(Buffer.from(d.data).equals(data), `${kind}: node-lz4 block through our decoder`);
  }
});

const ZSTD = '/usr/bin/zstd';
test('zstd block streams, given the magic number, decode with zstd -d; the CLI\'s frames decode with ours', { skip: existsSync(ZSTD) ? false : `${ZSTD} is not installed` }, () => {
  const magic = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
  for (const kind of ['text', 'binary'] as PageClass[]) {
    const { lo, hi, data } = blockOf(Array.from({ length: 48 }, (_, i) => i), makePageSet(kind, 48, 6).pages);
    for (const level of [1, 3, -5]) {
      const stream = encode(blockCodecOf('zstd', false, { zstdLevel: level }), lo, hi, data).subarray(BLOCK_MASK_BYTES);
      const r = spawnSync(ZSTD, ['-d', '-c', '-q'], { input: Buffer.concat([magic, stream]), maxBuffer: 64 << 20, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr?.toString());
      assert.ok(r.stdout.equals(data), `${kind} L${level}: zstd -d gives other bytes`);
    }
    const cli = spawnSync(ZSTD, ['-c', '-q', '-3'], { input: data, maxBuffer: 64 << 20, timeout: 60_000 });
    assert.equal(cli.status, 0);
    const payload = new Uint8Array(BLOCK_MASK_BYTES + cli.stdout.length - 4);
    new DataView(payload.buffer).setUint32(0, lo >>> 0, true);
    new DataView(payload.buffer).setUint32(4, hi >>> 0, true);
    payload.set(cli.stdout.subarray(4), BLOCK_MASK_BYTES);
    const d = blockCodecOf('zstd', false).decode(payload, 0, GUEST_PAGES, P, scratch());
    assert.ok(Buffer.from(d.data).equals(data), `${kind}: CLI frame through our decoder`);
  }
});

test('blockMaskCount and xorBytes (aligned and unaligned) compute what they say', () => {
  assert.equal(blockMaskCount(0, 0), 0);
  assert.equal(blockMaskCount(-1, -1), 64);
  assert.equal(blockMaskCount(0x80000001, 1), 3);
  const rng = new Prng(8);
  const a = rng.bytes(P + 3);
  const b = rng.bytes(P + 3);
  for (const off of [0, 1]) {
    const out = new Uint8Array(P + 3);
    xorBytes(out.subarray(off, off + P), a.subarray(off, off + P), b.subarray(0, P));
    for (let i = 0; i < P; i++) assert.equal(out[off + i], a[off + i] ^ b[i]);
  }
});
