import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PAGE_SIZE } from '../../src/core/units.js';
import { isLivemigError, LivemigError, type ErrorCode } from '../../src/core/errors.js';
import { lz4Codec } from '../../src/codec/lz4.js';
import { lz4DeltaCodec } from '../../src/codec/lz4-delta.js';
import { CODEC_IDS } from '../../src/codec/types.js';
import {
  NATIVE_DELTA_UNCHANGED, NATIVE_E_MALFORMED, NATIVE_E_OVERRUN, NATIVE_E_SHORT, NATIVE_E_TRUNCATED, nativeBinding,
} from '../../src/codec/native.js';
import { Prng } from '../helpers/prng.js';
import { assertCanariesIntact, guardedPage, makePageSet } from '../helpers/pages.js';
import { naiveCompress } from '../reference/lz4-naive.js';

const OUT_BYTES = 2 * PAGE_SIZE;

function roundTrip(page: Uint8Array): number | null {
  const out = new Uint8Array(OUT_BYTES);
  const n = lz4Codec.encode(null, page, out);
  if (n === null) return null;
  const g = guardedPage(page.length);
  lz4Codec.decode(out.subarray(0, n), g.page);
  assert.deepEqual(g.page, page);
  assertCanariesIntact(g, 'lz4 decode');
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

/** A valid lz4 block of `page` (native encoder). */
function encoded(page: Uint8Array): Uint8Array {
  const out = new Uint8Array(OUT_BYTES);
  const n = lz4Codec.encode(null, page, out);
  assert.ok(n !== null && n > 0);
  return out.slice(0, n);
}

test('lz4 codec metadata matches the wire table', () => {
  assert.equal(lz4Codec.name, 'lz4');
  assert.equal(lz4Codec.id, CODEC_IDS.lz4);
  assert.equal(lz4Codec.delta, false);
  assert.equal(lz4DeltaCodec.name, 'lz4-delta');
  assert.equal(lz4DeltaCodec.id, CODEC_IDS['lz4-delta']);
  assert.equal(lz4DeltaCodec.delta, true);
});

test('the addon links the system liblz4 1.9+', () => {
  assert.ok(nativeBinding().LZ4_VERSION_NUMBER >= 10900, String(nativeBinding().LZ4_VERSION_NUMBER));
  assert.ok(nativeBinding().MAX_DELTA_PAGE_BYTES >= PAGE_SIZE);
});

test('lz4 round-trips zero, text and binary pages and compresses them', () => {
  const zero = new Uint8Array(PAGE_SIZE);
  const n = roundTrip(zero);
  assert.ok(n !== null && n < 40, `zero page took ${n} bytes`);
  for (const kind of ['text', 'binary'] as const) {
    const set = makePageSet(kind, 64, 3);
    let total = 0;
    let sent = 0;
    for (const page of set.pages) {
      const m = roundTrip(page);
      if (m !== null) {
        total += m;
        sent++;
      }
    }
    assert.ok(sent > 32, `${kind}: only ${sent} of 64 pages compressed`);
    assert.ok(total / sent < PAGE_SIZE * 0.9, `${kind}: average ${total / sent} bytes`);
  }
});

test('lz4 returns null for a random page (does not pay) and when out is too small', () => {
  const rng = new Prng(11);
  assert.equal(lz4Codec.encode(null, rng.bytes(PAGE_SIZE), new Uint8Array(OUT_BYTES)), null);
  const text = makePageSet('text', 1, 5).pages[0];
  const need = encoded(text).length;
  assert.equal(lz4Codec.encode(null, text, new Uint8Array(need - 1)), null);
  assert.equal(lz4Codec.encode(null, text, new Uint8Array(need)), need);
  assert.equal(lz4Codec.encode(null, text, new Uint8Array(0)), null);
});

test('lz4 never returns an output of page size or more, even when out is larger', () => {
  // Nearly random: compresses to just under or over the page size depending on the run.
  const rng = new Prng(12);
  for (let k = 0; k < 200; k++) {
    const page = rng.bytes(PAGE_SIZE);
    page.fill(0, 0, rng.int(0, 64));
    const n = lz4Codec.encode(null, page, new Uint8Array(OUT_BYTES));
    if (n !== null) {
      assert.ok(n < PAGE_SIZE);
      roundTrip(page);
    }
  }
});

test('lz4 works on unaligned views and SharedArrayBuffer pages (byteOffset honoured)', () => {
  const page = makePageSet('text', 1, 9).pages[0];
  const backing = new Uint8Array(PAGE_SIZE + 7);
  const view = backing.subarray(3, 3 + PAGE_SIZE);
  view.set(page);
  const outBacking = new Uint8Array(OUT_BYTES + 5);
  outBacking.fill(0xee);
  const out = outBacking.subarray(5);
  const n = lz4Codec.encode(null, view, out);
  assert.ok(n !== null);
  assert.deepEqual(out.subarray(0, n), encoded(page));
  assert.ok(outBacking.subarray(0, 5).every((b) => b === 0xee), 'wrote before the out view');
  const shared = new Uint8Array(new SharedArrayBuffer(PAGE_SIZE * 2), PAGE_SIZE, PAGE_SIZE);
  lz4Codec.decode(out.subarray(0, n), shared);
  assert.deepEqual(shared, page);
  assert.ok(new Uint8Array(shared.buffer, 0, PAGE_SIZE).every((b) => b === 0));
});

test('lz4 decode rejects malformed payloads with the matching LivemigError code', () => {
  const page = makePageSet('text', 1, 21).pages[0];
  const good = encoded(page);
  const dst = new Uint8Array(PAGE_SIZE);
  expectCodecError(() => lz4Codec.decode(new Uint8Array(0), dst), 'LIVEMIG_E_CODEC_TRUNCATED');
  expectCodecError(() => lz4Codec.decode(good.subarray(0, good.length - 1), dst), 'LIVEMIG_E_CODEC_TRUNCATED');
  // Cut mid-block, the rest may parse as a block that ends too early or breaks the end rules.
  for (let cut = 1; cut < good.length; cut += 37) {
    expectCodecError(() => lz4Codec.decode(good.subarray(0, cut), dst), ['LIVEMIG_E_CODEC_TRUNCATED', 'LIVEMIG_E_CODEC_MALFORMED']);
  }
  const trailing = new Uint8Array(good.length + 3);
  trailing.set(good);
  trailing.set([0x10, 0x41, 0x01], good.length);
  expectCodecError(() => lz4Codec.decode(trailing, dst), 'LIVEMIG_E_CODEC_MALFORMED');
  // 16 literals, then a match at offset 0 / offset 17 (> 16 bytes produced), then 4080 literals.
  const lits = new Uint8Array(PAGE_SIZE).fill(0x61);
  const withOffset = (offset: number): Uint8Array => {
    const tail = PAGE_SIZE - 16 - 4;
    const ext: number[] = [];
    for (let rest = tail - 15; ; rest -= 255) { if (rest >= 255) ext.push(255); else { ext.push(rest); break; } }
    return Uint8Array.from([0xf0, 1, ...lits.subarray(0, 16), offset & 0xff, offset >> 8, 0xf0, ...ext, ...lits.subarray(0, tail)]);
  };
  assert.equal(nativeBinding().lz4Decompress(withOffset(16), dst), PAGE_SIZE, 'the control block must be valid');
  expectCodecError(() => lz4Codec.decode(withOffset(0), dst), 'LIVEMIG_E_CODEC_MALFORMED');
  expectCodecError(() => lz4Codec.decode(withOffset(17), dst), 'LIVEMIG_E_CODEC_MALFORMED');
  // A valid block for a larger page overruns a 4 KiB one; one for a smaller page is short.
  const big = naiveCompress(new Uint8Array(PAGE_SIZE + 100).fill(7));
  expectCodecError(() => lz4Codec.decode(big, dst), 'LIVEMIG_E_CODEC_OVERRUN');
  const small = naiveCompress(new Uint8Array(PAGE_SIZE - 100).fill(7));
  expectCodecError(() => lz4Codec.decode(small, dst), 'LIVEMIG_E_CODEC_TRUNCATED');
});

test('the addon decoder reports each failure class and never writes outside dst', () => {
  const { lz4Decompress } = nativeBinding();
  const g = guardedPage(PAGE_SIZE);
  assert.equal(lz4Decompress(new Uint8Array(0), g.page), NATIVE_E_TRUNCATED);
  assert.equal(lz4Decompress(Uint8Array.from([0x00, 0x00]), g.page), NATIVE_E_TRUNCATED); // match with no offset
  assert.equal(lz4Decompress(Uint8Array.from([0x10, 0x41, 0x00, 0x00, 0x00]), g.page), NATIVE_E_MALFORMED); // offset 0
  assert.equal(lz4Decompress(Uint8Array.from([0x1f, 0x41, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10, 0x50]), g.page), NATIVE_E_OVERRUN);
  assertCanariesIntact(g, 'after malformed blocks');
});

test('lz4-delta encodes an unchanged page to 0 bytes and decodes 0 bytes as "unchanged"', () => {
  const old = makePageSet('binary', 1, 31).pages[0];
  const same = old.slice();
  assert.equal(lz4DeltaCodec.encode(old, same, new Uint8Array(OUT_BYTES)), 0);
  assert.equal(nativeBinding().lz4DeltaCompress(old, same, new Uint8Array(OUT_BYTES)), NATIVE_DELTA_UNCHANGED);
  const page = old.slice();
  lz4DeltaCodec.decode(new Uint8Array(0), page);
  assert.deepEqual(page, old);
});

test('lz4-delta round-trips delta pages and is far smaller than lz4 of the page', () => {
  for (const kind of ['delta1', 'delta5', 'delta20', 'scatter5'] as const) {
    const set = makePageSet(kind, 32, 4);
    const olds = set.olds!;
    let deltaBytes = 0;
    for (let k = 0; k < set.pages.length; k++) {
      const out = new Uint8Array(OUT_BYTES);
      const n = lz4DeltaCodec.encode(olds[k], set.pages[k], out);
      assert.ok(n !== null && n > 0, `${kind} page ${k}`);
      deltaBytes += n;
      const g = guardedPage(PAGE_SIZE, olds[k]);
      lz4DeltaCodec.decode(out.subarray(0, n), g.page);
      assert.deepEqual(g.page, set.pages[k]);
      assertCanariesIntact(g, kind);
    }
    assert.ok(deltaBytes / set.pages.length < PAGE_SIZE / 3, `${kind}: ${deltaBytes / set.pages.length} bytes per page`);
  }
});

test('lz4-delta without an old page throws LIVEMIG_E_CODEC_NEEDS_BASE', () => {
  assert.throws(() => lz4DeltaCodec.encode(null, new Uint8Array(PAGE_SIZE), new Uint8Array(OUT_BYTES)),
    (err: unknown) => isLivemigError(err, 'LIVEMIG_E_CODEC_NEEDS_BASE'));
});

test('lz4-delta returns null when the delta does not pay', () => {
  const rng = new Prng(41);
  const old = rng.bytes(PAGE_SIZE);
  assert.equal(lz4DeltaCodec.encode(old, rng.bytes(PAGE_SIZE), new Uint8Array(OUT_BYTES)), null);
  const set = makePageSet('delta5', 1, 8);
  assert.equal(lz4DeltaCodec.encode(set.olds![0], set.pages[0], new Uint8Array(8)), null);
});

test('lz4-delta decode leaves the page untouched on any malformed or short payload', () => {
  const set = makePageSet('delta5', 1, 51);
  const old = set.olds![0];
  const out = new Uint8Array(OUT_BYTES);
  const n = lz4DeltaCodec.encode(old, set.pages[0], out)!;
  const good = out.slice(0, n);
  const cases: Array<[Uint8Array, ErrorCode]> = [
    [good.subarray(0, n - 1), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [good.subarray(0, 3), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [Uint8Array.from([...good, 0x10, 0x41]), 'LIVEMIG_E_CODEC_MALFORMED'],
    [naiveCompress(new Uint8Array(PAGE_SIZE - 1)), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [naiveCompress(new Uint8Array(PAGE_SIZE + 1)), 'LIVEMIG_E_CODEC_OVERRUN'],
    [Uint8Array.from([0x10, 0x41, 0x00, 0x00, 0x00]), 'LIVEMIG_E_CODEC_MALFORMED'],
  ];
  for (const [payload, code] of cases) {
    const g = guardedPage(PAGE_SIZE, old);
    expectCodecError(() => lz4DeltaCodec.decode(payload, g.page), code);
    assert.deepEqual(g.page, old, `page changed by a rejected ${code} payload`);
    assertCanariesIntact(g, code);
  }
  assert.equal(nativeBinding().lz4DeltaDecompress(naiveCompress(new Uint8Array(PAGE_SIZE - 1)), old.slice()), NATIVE_E_SHORT);
  assert.equal(nativeBinding().lz4DeltaDecompress(naiveCompress(new Uint8Array(PAGE_SIZE + 1)), old.slice()), NATIVE_E_OVERRUN);
});

test('the addon throws TypeError on misuse instead of reading or writing out of bounds', () => {
  const b = nativeBinding();
  const page = new Uint8Array(PAGE_SIZE);
  const out = new Uint8Array(OUT_BYTES);
  const typeError = (fn: () => unknown, re: RegExp): void => {
    assert.throws(fn, (err: unknown) => err instanceof TypeError && re.test(err.message));
  };
  typeError(() => b.lz4Compress('abc' as unknown as Uint8Array, out), /src must be/);
  typeError(() => b.lz4Compress(page, [1, 2] as unknown as Uint8Array), /dst must be/);
  typeError(() => b.lz4Compress(page, out, -1), /maxBytes/);
  typeError(() => b.lz4Compress(page, out, OUT_BYTES + 1), /maxBytes/);
  typeError(() => b.lz4Compress(page, out, 1.5), /maxBytes/);
  typeError(() => b.lz4Compress(out.subarray(0, 100), out.subarray(50)), /overlap/);
  typeError(() => b.lz4Decompress(out.subarray(0, 100), out.subarray(99)), /overlap/);
  typeError(() => b.lz4DeltaCompress(page, new Uint8Array(PAGE_SIZE - 1), out), /same byte length/);
  typeError(() => b.lz4DeltaCompress(null as unknown as Uint8Array, page, out), /old must be/);
  const huge = new Uint8Array(b.MAX_DELTA_PAGE_BYTES + 1);
  typeError(() => b.lz4DeltaCompress(huge, huge.slice(), out), /larger than/);
  typeError(() => b.lz4DeltaDecompress(out, huge), /larger than/);
  // Other TypedArrays count in bytes, not elements.
  const words = new Uint32Array(PAGE_SIZE / 4).fill(0x01020304);
  const n = b.lz4Compress(words, out);
  assert.ok(n > 0);
  const back = new Uint32Array(PAGE_SIZE / 4);
  assert.equal(b.lz4Decompress(out.subarray(0, n), back), PAGE_SIZE);
  assert.deepEqual(back, words);
});

test('without the addon, importing works and the first LZ4 use throws LIVEMIG_E_NATIVE_UNAVAILABLE', () => {
  const lz4Url = new URL('../../src/codec/lz4.js', import.meta.url).href;
  const script = `
    import Module from 'node:module';
    Module._extensions['.node'] = () => { throw new Error('simulated: no addon'); };
    const { lz4Codec } = await import(${JSON.stringify(lz4Url)});
    let seen = [];
    for (let k = 0; k < 2; k++) {
      try { lz4Codec.encode(null, new Uint8Array(4096), new Uint8Array(8192)); seen.push('no error'); }
      catch (e) { seen.push(e.code + ' ' + /npm install/.test(e.message)); }
    }
    console.log(JSON.stringify(seen));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), ['LIVEMIG_E_NATIVE_UNAVAILABLE true', 'LIVEMIG_E_NATIVE_UNAVAILABLE true']);
});
