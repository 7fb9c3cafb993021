/**
 * The zstd and zstd-delta codecs: magicless frames from the system libzstd through livemig's addon.
 * Interop with the reference `zstd` CLI lives in codec-zstd-interop.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../../src/core/units.js';
import { isLivemigError, LivemigError, type ErrorCode } from '../../src/core/errors.js';
import { zstdCodec, createZstdCodec, checkZstdLevel } from '../../src/codec/zstd.js';
import { zstdDeltaCodec, createZstdDeltaCodec } from '../../src/codec/zstd-delta.js';
import { lz4Codec } from '../../src/codec/lz4.js';
import { getCodec } from '../../src/codec/registry.js';
import { CODEC_IDS, type PageCodec } from '../../src/codec/types.js';
import {
  NATIVE_DELTA_UNCHANGED, NATIVE_E_MALFORMED, NATIVE_E_OVERRUN, NATIVE_E_SHORT, NATIVE_E_TRUNCATED, nativeBinding,
} from '../../src/codec/native.js';
import { Prng } from '../helpers/prng.js';
import { assertCanariesIntact, guardedPage, makePageSet } from '../helpers/pages.js';

const OUT_BYTES = 2 * PAGE_SIZE;

function encoded(codec: PageCodec, page: Uint8Array, old: Uint8Array | null = null): Uint8Array {
  const out = new Uint8Array(OUT_BYTES);
  const n = codec.encode(old, page, out);
  assert.ok(n !== null && n > 0, `${codec.name} did not encode`);
  return out.slice(0, n);
}

function roundTrip(codec: PageCodec, page: Uint8Array): number | null {
  const out = new Uint8Array(OUT_BYTES);
  const n = codec.encode(null, page, out);
  if (n === null) return null;
  const g = guardedPage(page.length, new Prng(n).bytes(page.length));
  codec.decode(out.subarray(0, n), g.page);
  assert.deepEqual(g.page, page);
  assertCanariesIntact(g, `${codec.name} decode`);
  return n;
}

function expectCodecError(fn: () => void, code: ErrorCode | ErrorCode[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof LivemigError, `expected LivemigError, got ${String(err)}`);
    assert.ok((Array.isArray(code) ? code : [code]).includes(err.code), `${err.code}: ${err.message}`);
    assert.equal(err.phase, 'codec');
    return true;
  });
}

/** Block headers of a magicless frame with a 2-byte frame header: [type, size][]. */
function blocksOf(frame: Uint8Array): Array<{ type: number; size: number; last: boolean }> {
  const blocks = [];
  let pos = 2;
  for (;;) {
    const h = frame[pos] | (frame[pos + 1] << 8) | (frame[pos + 2] << 16);
    const b = { type: (h >> 1) & 3, size: h >>> 3, last: (h & 1) === 1 };
    blocks.push(b);
    pos += 3 + (b.type === 1 ? 1 : b.size);
    if (b.last) break;
  }
  assert.equal(pos, frame.length, 'frame has bytes after its last block');
  return blocks;
}

test('zstd codec metadata matches the wire table (ids 6 and 7)', () => {
  assert.equal(zstdCodec.name, 'zstd');
  assert.equal(zstdCodec.id, CODEC_IDS.zstd);
  assert.equal(CODEC_IDS.zstd, 6);
  assert.equal(zstdCodec.delta, false);
  assert.equal(zstdDeltaCodec.name, 'zstd-delta');
  assert.equal(zstdDeltaCodec.id, 7);
  assert.equal(zstdDeltaCodec.delta, true);
  assert.equal(getCodec('zstd'), zstdCodec);
  assert.equal(getCodec('zstd-delta'), zstdDeltaCodec);
});

test('the addon links the system libzstd 1.4+', () => {
  const b = nativeBinding();
  assert.ok(b.ZSTD_VERSION_NUMBER >= 10400, String(b.ZSTD_VERSION_NUMBER));
  assert.ok(b.ZSTD_MAX_LEVEL >= 19 && b.ZSTD_MIN_LEVEL <= -7);
});

test('a compressed page costs 5 bytes of framing: 2-byte magicless header (no size, checksum, dict id) + one block header', () => {
  for (const kind of ['text', 'binary'] as const) {
    for (const page of makePageSet(kind, 16, 2).pages) {
      const frame = encoded(zstdCodec, page);
      assert.equal(frame[0], 0x00, 'frame header descriptor: no content size, no checksum, no dictionary id');
      assert.equal(frame[1] >> 3, 2, 'window descriptor: 4 KiB window (exponent 12 - 10)');
      const blocks = blocksOf(frame);
      assert.equal(blocks.length, 1);
      assert.equal(blocks[0].type, 2, 'a compressed block');
      assert.equal(frame.length, 2 + 3 + blocks[0].size);
    }
  }
});

test('zstd round-trips zero, text and binary pages and compresses them at least as well as lz4', () => {
  const zero = new Uint8Array(PAGE_SIZE);
  const n = roundTrip(zstdCodec, zero);
  assert.ok(n !== null && n <= 16, `zero page took ${n} bytes`);
  for (const kind of ['text', 'binary'] as const) {
    const set = makePageSet(kind, 64, 3);
    let zstdBytes = 0;
    let lz4Bytes = 0;
    for (const page of set.pages) {
      zstdBytes += roundTrip(zstdCodec, page) ?? PAGE_SIZE;
      lz4Bytes += lz4Codec.encode(null, page, new Uint8Array(OUT_BYTES)) ?? PAGE_SIZE;
    }
    assert.ok(zstdBytes < lz4Bytes, `${kind}: zstd ${zstdBytes} B, lz4 ${lz4Bytes} B`);
  }
});

test('zstd returns null for a random page and when out is too small, and fits exactly', () => {
  const rng = new Prng(11);
  assert.equal(zstdCodec.encode(null, rng.bytes(PAGE_SIZE), new Uint8Array(OUT_BYTES)), null);
  const text = makePageSet('text', 1, 5).pages[0];
  const need = encoded(zstdCodec, text).length;
  assert.equal(zstdCodec.encode(null, text, new Uint8Array(need - 1)), null);
  assert.equal(zstdCodec.encode(null, text, new Uint8Array(need)), need);
  assert.equal(zstdCodec.encode(null, text, new Uint8Array(0)), null);
});

test('levels: configure/getCodec give per-level instances of the same codec; each level round-trips', () => {
  const text = makePageSet('text', 8, 7).pages;
  const l3 = getCodec('zstd', { zstdLevel: 3 });
  assert.equal(l3, zstdCodec.configure!({ zstdLevel: 3 }));
  assert.equal(l3, createZstdCodec(3));
  assert.notEqual(l3, zstdCodec);
  assert.equal(l3.name, 'zstd');
  assert.equal(l3.id, zstdCodec.id);
  assert.equal(getCodec('zstd', {}), zstdCodec, 'no level means level 1');
  assert.equal(getCodec('lz4', { zstdLevel: 3 }), lz4Codec, 'codecs without parameters ignore them');
  assert.equal(getCodec('zstd-delta', { zstdLevel: 5 }), createZstdDeltaCodec(5));
  const sizes = new Map<number, number>();
  for (const level of [-7, -1, 1, 3, 9, 19]) {
    const codec = getCodec('zstd', { zstdLevel: level });
    let total = 0;
    for (const page of text) total += roundTrip(codec, page) ?? PAGE_SIZE;
    sizes.set(level, total);
  }
  // Different levels really reach libzstd: the fastest and the strongest differ.
  assert.ok(sizes.get(19)! < sizes.get(-7)!, JSON.stringify([...sizes]));
  // Interleaving levels on one context does not leak a level into another codec's output.
  const page = text[0];
  const a = encoded(zstdCodec, page);
  encoded(createZstdCodec(19), page);
  assert.deepEqual(encoded(zstdCodec, page), a);
});

test('out-of-range zstd levels throw LIVEMIG_E_INVALID_OPTION', () => {
  for (const bad of [0, 20, -8, 1.5, Number.NaN]) {
    assert.throws(() => checkZstdLevel(bad), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION') && /1\.\.19/.test(e.message));
    assert.throws(() => getCodec('zstd', { zstdLevel: bad }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  }
  const b = nativeBinding();
  assert.throws(() => b.zstdCompress(new Uint8Array(16), new Uint8Array(64), 99), TypeError);
  assert.throws(() => b.zstdCompress(new Uint8Array(16), new Uint8Array(64), 'x' as unknown as number), TypeError);
});

test('zstd works on unaligned views and SharedArrayBuffer pages (byteOffset honoured)', () => {
  const page = makePageSet('text', 1, 9).pages[0];
  const backing = new Uint8Array(PAGE_SIZE + 7);
  const view = backing.subarray(3, 3 + PAGE_SIZE);
  view.set(page);
  const outBacking = new Uint8Array(OUT_BYTES + 5).fill(0xee);
  const out = outBacking.subarray(5);
  const n = zstdCodec.encode(null, view, out);
  assert.ok(n !== null);
  assert.deepEqual(out.subarray(0, n), encoded(zstdCodec, page));
  assert.ok(outBacking.subarray(0, 5).every((b) => b === 0xee), 'wrote before the out view');
  const shared = new Uint8Array(new SharedArrayBuffer(PAGE_SIZE * 2), PAGE_SIZE, PAGE_SIZE);
  zstdCodec.decode(out.subarray(0, n), shared);
  assert.deepEqual(shared, page);
  assert.ok(new Uint8Array(shared.buffer, 0, PAGE_SIZE).every((b) => b === 0));
});

/** A magicless frame with header bytes `header` and one raw block of `body`. */
function rawFrame(header: number[], body: Uint8Array, last = true): Uint8Array {
  const h = (body.length << 3) | (0 << 1) | (last ? 1 : 0);
  return Uint8Array.from([...header, h & 0xff, (h >> 8) & 0xff, h >> 16, ...body]);
}

test('zstd decode rejects malformed payloads with the matching LivemigError code', () => {
  const page = makePageSet('text', 1, 21).pages[0];
  const good = encoded(zstdCodec, page);
  const dst = new Uint8Array(PAGE_SIZE);
  const body = new Uint8Array(PAGE_SIZE).fill(0x61);
  // Control: hand-built frames of one raw block are valid.
  zstdCodec.decode(rawFrame([0x00, 0x10], body), dst);
  assert.ok(dst.every((b) => b === 0x61));
  zstdCodec.decode(rawFrame([0x60, 0x00, 0x0f], body), dst); // single segment, 2-byte content size 4096
  expectCodecError(() => zstdCodec.decode(new Uint8Array(0), dst), 'LIVEMIG_E_CODEC_TRUNCATED');
  expectCodecError(() => zstdCodec.decode(good.subarray(0, good.length - 1), dst), ['LIVEMIG_E_CODEC_TRUNCATED', 'LIVEMIG_E_CODEC_MALFORMED']);
  for (let cut = 1; cut < good.length; cut += 37) {
    expectCodecError(() => zstdCodec.decode(good.subarray(0, cut), dst), ['LIVEMIG_E_CODEC_TRUNCATED', 'LIVEMIG_E_CODEC_MALFORMED']);
  }
  expectCodecError(() => zstdCodec.decode(Uint8Array.from([...good, 0]), dst), 'LIVEMIG_E_CODEC_MALFORMED');
  // Two frames of half a page each make a page, but a payload is exactly one frame.
  const half = rawFrame([0x00, 0x10], body.subarray(0, PAGE_SIZE / 2));
  expectCodecError(() => zstdCodec.decode(Uint8Array.from([...half, ...half]), dst), 'LIVEMIG_E_CODEC_MALFORMED');
  expectCodecError(() => zstdCodec.decode(half, dst), 'LIVEMIG_E_CODEC_TRUNCATED');
  expectCodecError(() => zstdCodec.decode(rawFrame([0x00, 0x10], new Uint8Array(PAGE_SIZE + 1)), dst), 'LIVEMIG_E_CODEC_OVERRUN');
  expectCodecError(() => zstdCodec.decode(rawFrame([0x08, 0x10], body), dst), 'LIVEMIG_E_CODEC_MALFORMED'); // reserved bit
  expectCodecError(() => zstdCodec.decode(rawFrame([0x01, 0x10, 0x07], body), dst), 'LIVEMIG_E_CODEC_MALFORMED'); // dictionary id
  expectCodecError(() => zstdCodec.decode(rawFrame([0x60, 0x01, 0x0f], body), dst), 'LIVEMIG_E_CODEC_OVERRUN'); // declares 4097
  expectCodecError(() => zstdCodec.decode(rawFrame([0x60, 0xff, 0x0e], body), dst), 'LIVEMIG_E_CODEC_TRUNCATED'); // declares 4095
  const reserved = rawFrame([0x00, 0x10], body);
  reserved[2] |= 0x06; // block type 3
  expectCodecError(() => zstdCodec.decode(reserved, dst), 'LIVEMIG_E_CODEC_MALFORMED');
  // A declared size that agrees with the page but data that does not is corruption.
  const lying = rawFrame([0x60, 0x00, 0x0f], body.subarray(0, 100));
  expectCodecError(() => zstdCodec.decode(lying, dst), ['LIVEMIG_E_CODEC_MALFORMED', 'LIVEMIG_E_CODEC_TRUNCATED']);
});

test('the addon decoder reports each failure class and never writes outside dst', () => {
  const { zstdDecompress } = nativeBinding();
  const g = guardedPage(PAGE_SIZE);
  const body = new Uint8Array(PAGE_SIZE).fill(1);
  assert.equal(zstdDecompress(new Uint8Array(0), g.page), NATIVE_E_TRUNCATED);
  assert.equal(zstdDecompress(Uint8Array.of(0x00, 0x10, 0x01), g.page), NATIVE_E_TRUNCATED);
  assert.equal(zstdDecompress(rawFrame([0x00, 0x10], body.subarray(1)), g.page), NATIVE_E_SHORT);
  assert.equal(zstdDecompress(rawFrame([0x00, 0x10], new Uint8Array(PAGE_SIZE + 64)), g.page), NATIVE_E_OVERRUN);
  assert.equal(zstdDecompress(rawFrame([0x08, 0x10], body), g.page), NATIVE_E_MALFORMED);
  // RLE block claiming a megabyte: refused from its header, nothing written.
  const rle = (1 << 20 << 3) | (1 << 1) | 1;
  assert.equal(zstdDecompress(Uint8Array.of(0x00, 0x10, rle & 0xff, (rle >> 8) & 0xff, rle >> 16, 7), g.page), NATIVE_E_MALFORMED);
  // Corrupt compressed blocks: libzstd's own checks, still bounded by the page.
  const rng = new Prng(3);
  const good = encoded(zstdCodec, makePageSet('binary', 1, 4).pages[0]);
  let rejected = 0;
  for (let k = 0; k < 500; k++) {
    const bad = good.slice();
    bad[rng.int(5, bad.length)] ^= 1 << rng.int(0, 8);
    const rc = zstdDecompress(bad, g.page);
    assert.ok(rc === PAGE_SIZE || [NATIVE_E_TRUNCATED, NATIVE_E_MALFORMED, NATIVE_E_OVERRUN, NATIVE_E_SHORT].includes(rc), String(rc));
    if (rc < 0) rejected++;
  }
  assert.ok(rejected > 100, `only ${rejected} of 500 corrupted frames rejected`);
  assertCanariesIntact(g, 'after malformed frames');
});

test('zstd-delta encodes an unchanged page to 0 bytes and decodes 0 bytes as "unchanged"', () => {
  const old = makePageSet('binary', 1, 31).pages[0];
  assert.equal(zstdDeltaCodec.encode(old, old.slice(), new Uint8Array(OUT_BYTES)), 0);
  assert.equal(nativeBinding().zstdDeltaCompress(old, old.slice(), new Uint8Array(OUT_BYTES), 1), NATIVE_DELTA_UNCHANGED);
  const page = old.slice();
  zstdDeltaCodec.decode(new Uint8Array(0), page);
  assert.deepEqual(page, old);
});

test('zstd-delta round-trips delta pages at levels 1 and 3, smaller than lz4-delta', () => {
  for (const codec of [zstdDeltaCodec, createZstdDeltaCodec(3)]) {
    for (const kind of ['delta1', 'delta5', 'delta20', 'scatter5'] as const) {
      const set = makePageSet(kind, 32, 4);
      let bytes = 0;
      let lz4Bytes = 0;
      for (let k = 0; k < set.pages.length; k++) {
        const old = set.olds![k];
        const payload = encoded(codec, set.pages[k], old);
        bytes += payload.length;
        lz4Bytes += getCodec('lz4-delta').encode(old, set.pages[k], new Uint8Array(OUT_BYTES)) ?? PAGE_SIZE;
        const g = guardedPage(PAGE_SIZE, old);
        codec.decode(payload, g.page);
        assert.deepEqual(g.page, set.pages[k]);
        assertCanariesIntact(g, kind);
      }
      assert.ok(bytes <= lz4Bytes, `${kind}: zstd-delta ${bytes} B, lz4-delta ${lz4Bytes} B`);
    }
  }
});

test('zstd-delta without an old page throws LIVEMIG_E_CODEC_NEEDS_BASE; a delta that does not pay is null', () => {
  assert.throws(() => zstdDeltaCodec.encode(null, new Uint8Array(PAGE_SIZE), new Uint8Array(OUT_BYTES)),
    (err: unknown) => isLivemigError(err, 'LIVEMIG_E_CODEC_NEEDS_BASE'));
  const rng = new Prng(41);
  assert.equal(zstdDeltaCodec.encode(rng.bytes(PAGE_SIZE), rng.bytes(PAGE_SIZE), new Uint8Array(OUT_BYTES)), null);
  const set = makePageSet('delta5', 1, 8);
  assert.equal(zstdDeltaCodec.encode(set.olds![0], set.pages[0], new Uint8Array(8)), null);
});

test('zstd-delta decode leaves the page untouched on any malformed or short payload', () => {
  const set = makePageSet('delta5', 1, 51);
  const old = set.olds![0];
  const good = encoded(zstdDeltaCodec, set.pages[0], old);
  const body = new Uint8Array(PAGE_SIZE).fill(3);
  const cases: Array<[Uint8Array, ErrorCode]> = [
    [good.subarray(0, good.length - 1), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [good.subarray(0, 3), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [Uint8Array.from([...good, 0x10]), 'LIVEMIG_E_CODEC_MALFORMED'],
    [rawFrame([0x00, 0x10], body.subarray(1)), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [rawFrame([0x00, 0x10], new Uint8Array(PAGE_SIZE + 1)), 'LIVEMIG_E_CODEC_OVERRUN'],
    [rawFrame([0x08, 0x10], body), 'LIVEMIG_E_CODEC_MALFORMED'],
  ];
  for (const [payload, code] of cases) {
    const g = guardedPage(PAGE_SIZE, old);
    expectCodecError(() => zstdDeltaCodec.decode(payload, g.page), code);
    assert.deepEqual(g.page, old, `page changed by a rejected ${code} payload`);
    assertCanariesIntact(g, code);
  }
});

test('the zstd addon functions throw TypeError on misuse instead of reading or writing out of bounds', () => {
  const b = nativeBinding();
  const page = new Uint8Array(PAGE_SIZE);
  const out = new Uint8Array(OUT_BYTES);
  const typeError = (fn: () => unknown, re: RegExp): void => {
    assert.throws(fn, (err: unknown) => err instanceof TypeError && re.test(err.message));
  };
  typeError(() => b.zstdCompress('abc' as unknown as Uint8Array, out, 1), /src must be/);
  typeError(() => b.zstdCompress(page, out, 1, OUT_BYTES + 1), /maxBytes/);
  typeError(() => b.zstdCompress(out.subarray(0, 100), out.subarray(50), 1), /overlap/);
  typeError(() => b.zstdDecompress(out.subarray(0, 100), out.subarray(99)), /overlap/);
  typeError(() => b.zstdDeltaCompress(page, new Uint8Array(PAGE_SIZE - 1), out, 1), /same byte length/);
  typeError(() => b.zstdDeltaCompress(page, page, out, 0.5), /level/);
  const huge = new Uint8Array(b.MAX_DELTA_PAGE_BYTES + 1);
  typeError(() => b.zstdCompress(huge, new Uint8Array(huge.length * 2), 1), /larger than/);
  typeError(() => b.zstdDeltaCompress(huge, huge.slice(), out, 1), /larger than/);
  typeError(() => b.zstdDeltaDecompress(out, huge), /larger than/);
  // Other TypedArrays count in bytes, not elements.
  const words = new Uint32Array(PAGE_SIZE / 4).fill(0x01020304);
  const n = b.zstdCompress(words, out, 1);
  assert.ok(n > 0);
  const back = new Uint32Array(PAGE_SIZE / 4);
  assert.equal(b.zstdDecompress(out.subarray(0, n), back), PAGE_SIZE);
  assert.deepEqual(back, words);
});
