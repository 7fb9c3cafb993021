import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, isLivemigError, type ErrorCode } from '../../src/core/index.js';
import { xbzrleCodec, xbzrleDecode, xbzrleEncode } from '../../src/codec/index.js';
import { Prng } from '../helpers/prng.js';
import { assertCanariesIntact, fromHex, guardedPage, hex, makePageSet } from '../helpers/pages.js';
import { longerEncode, naiveDecode, naiveEncode } from '../reference/xbzrle-naive.js';

/** Encodes with the optimised encoder into a fresh page-sized buffer; the bytes or null. */
function encode(old: Uint8Array, page: Uint8Array, dlen = PAGE_SIZE): Uint8Array | null {
  const out = new Uint8Array(dlen);
  const n = xbzrleEncode(old, page, out);
  return n === null ? null : out.slice(0, n);
}

/** QEMU test-xbzrle.c `encode_decode_range` pages for a given diff_len: [old (test), new (buffer)]. */
function qemuRangePages(diffLen: number): [Uint8Array, Uint8Array] {
  const buffer = new Uint8Array(PAGE_SIZE);
  const test = new Uint8Array(PAGE_SIZE);
  for (let i = diffLen; i > 0; i--) {
    buffer[1000 + i] = i;
    test[1000 + i] = i + 4;
  }
  buffer[1000 + diffLen + 3] = 103;
  test[1000 + diffLen + 3] = 107;
  buffer[1000 + diffLen + 5] = 105;
  test[1000 + diffLen + 5] = 109;
  return [test, buffer];
}

function assertRejects(payload: Uint8Array, page: Uint8Array, code: ErrorCode): void {
  const before = Uint8Array.from(page);
  assert.throws(() => xbzrleDecode(payload, page), (err: unknown) => isLivemigError(err, code), `${hex(payload)} should fail with ${code}`);
  assert.deepEqual(page, before, 'a rejected payload leaves the page untouched');
}

test('QEMU golden vectors: encode_decode_range for diff_len 0, 1, 7 and 100 gives the exact bytes', () => {
  const hundred = ['e9 07 64', ...Array.from({ length: 100 }, (_, k) => (k + 1).toString(16)), '02 01 67 01 01 69'].join(' ');
  const vectors: Array<[number, string, number]> = [
    [0, 'eb 07 01 67 01 01 69', 7],
    [1, 'e9 07 01 01 02 01 67 01 01 69', 10],
    [7, 'e9 07 07 01 02 03 04 05 06 07 02 01 67 01 01 69', 16],
    [100, hundred, 109],
  ];
  for (const [diffLen, expected, length] of vectors) {
    const [old, page] = qemuRangePages(diffLen);
    const got = encode(old, page);
    assert.ok(got !== null);
    assert.equal(got.length, length, `diff_len=${diffLen}`);
    assert.equal(hex(got), hex(fromHex(expected)), `diff_len=${diffLen}`);
    const target = Uint8Array.from(old);
    xbzrleDecode(got, target);
    assert.deepEqual(target, page);
  }
});

test('QEMU encode_decode_range: every diff_len in 0..3089 fits under a page, matches the naive encoder and round-trips', () => {
  for (let diffLen = 0; diffLen < PAGE_SIZE - 1006; diffLen++) {
    const [old, page] = qemuRangePages(diffLen);
    const got = encode(old, page);
    assert.ok(got !== null && got.length < PAGE_SIZE, `diff_len=${diffLen}`);
    assert.deepEqual(got, naiveEncode(old, page, PAGE_SIZE), `diff_len=${diffLen}`);
    const target = Uint8Array.from(old);
    xbzrleDecode(got, target);
    assert.deepEqual(target, page, `diff_len=${diffLen}`);
  }
});

test('QEMU encode_decode_1_byte: one changed last byte encodes to ff 1f 01 01 and decodes to the page', () => {
  const old = new Uint8Array(PAGE_SIZE);
  const page = new Uint8Array(PAGE_SIZE);
  page[PAGE_SIZE - 1] = 1;
  const got = encode(old, page);
  assert.ok(got !== null);
  assert.equal(hex(got), 'ff 1f 01 01');
  const target = new Uint8Array(PAGE_SIZE);
  xbzrleDecode(got, target);
  assert.deepEqual(target, page);
});

test('QEMU encode_decode_overflow: every other byte changed overflows the page budget (null)', () => {
  const old = new Uint8Array(PAGE_SIZE);
  const page = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < 2047; i++) page[2 * i] = 1;
  assert.equal(xbzrleEncode(old, page, new Uint8Array(PAGE_SIZE)), null);
  assert.equal(naiveEncode(old, page, PAGE_SIZE), null);
});

test('QEMU encode_decode_zero and _unchanged: a page encoded against itself is 0 bytes', () => {
  for (let diffLen = 0; diffLen < 3090; diffLen += 97) {
    const [old, page] = qemuRangePages(diffLen);
    assert.equal(xbzrleEncode(page, page, new Uint8Array(PAGE_SIZE)), 0);
    assert.equal(xbzrleEncode(old, Uint8Array.from(old), new Uint8Array(PAGE_SIZE)), 0);
  }
  const zero = new Uint8Array(PAGE_SIZE);
  assert.equal(xbzrleEncode(zero, new Uint8Array(PAGE_SIZE), new Uint8Array(PAGE_SIZE)), 0);
});

test('a page with every byte changed overflows: 4096 literals plus a length never fit one page', () => {
  const rng = new Prng(11);
  const old = rng.bytes(PAGE_SIZE);
  const page = Uint8Array.from(old, (b) => b ^ 0xff);
  assert.equal(xbzrleEncode(old, page, new Uint8Array(PAGE_SIZE)), null);
  // A larger out does not lift the budget above the page size.
  assert.equal(xbzrleEncode(old, page, new Uint8Array(3 * PAGE_SIZE)), null);
});

test('the budget is min(out.length, page): a smaller out overflows sooner, QEMU\'s 2-byte check included', () => {
  const old = new Uint8Array(PAGE_SIZE);
  const page = new Uint8Array(PAGE_SIZE);
  page[0] = 1; // encodes as 00 01 01, then a trailing zero run
  assert.equal(hex(encode(old, page)!), '00 01 01');
  assert.equal(xbzrleEncode(old, page, new Uint8Array(5)), 3);
  // QEMU checks for 2 free bytes before it knows the rest is a trailing zero run.
  assert.equal(xbzrleEncode(old, page, new Uint8Array(4)), null);
  assert.equal(naiveEncode(old, page, 4), null);
  assert.equal(xbzrleEncode(old, page, new Uint8Array(2)), null);
  assert.equal(xbzrleEncode(old, page, new Uint8Array(0)), null);
  // The last byte changed: nothing follows the nzrun, so the encoding may fill the budget exactly.
  const last = new Uint8Array(PAGE_SIZE);
  last[PAGE_SIZE - 1] = 9;
  assert.equal(xbzrleEncode(old, last, new Uint8Array(4)), 4);
  assert.equal(xbzrleEncode(old, last, new Uint8Array(3)), null);
});

test('a single equal byte splits a non-zero run, also inside an aligned word', () => {
  const old = new Uint8Array(PAGE_SIZE);
  const page = new Uint8Array(PAGE_SIZE);
  page.fill(7, 8, 24);
  page[13] = 0; // equal to old: ends the first nzrun in the middle of a word
  assert.equal(hex(encode(old, page)!), '08 05 07 07 07 07 07 01 0a 07 07 07 07 07 07 07 07 07 07');
});

test('encoding needs the old page, of the same size', () => {
  const page = new Uint8Array(PAGE_SIZE);
  assert.throws(() => xbzrleCodec.encode(null, page, new Uint8Array(PAGE_SIZE)), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_NEEDS_BASE'));
  assert.throws(() => xbzrleCodec.encode(new Uint8Array(8), page, new Uint8Array(PAGE_SIZE)), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
});

test('decoder rejects what QEMU rejects, with typed errors, and leaves the page untouched', () => {
  const page = makePageSet('binary', 1, 3).pages[0];
  assertRejects(fromHex('05'), page, 'LIVEMIG_E_CODEC_TRUNCATED'); // fewer than 2 bytes before a zrun
  assertRejects(fromHex('00 00'), page, 'LIVEMIG_E_CODEC_TRUNCATED'); // 1 byte left before the nzrun
  assertRejects(fromHex('00 00 aa'), page, 'LIVEMIG_E_CODEC_MALFORMED'); // zero-length nzrun
  assertRejects(fromHex('00 01'), page, 'LIVEMIG_E_CODEC_TRUNCATED'); // fewer than 2 bytes before an nzrun
  assertRejects(fromHex('00 02 aa'), page, 'LIVEMIG_E_CODEC_TRUNCATED'); // nzrun past the payload
  assertRejects(fromHex('80 20 01 01'), page, 'LIVEMIG_E_CODEC_OVERRUN'); // zrun 4096, then 1 byte
  assertRejects(fromHex('81 20 01 01'), page, 'LIVEMIG_E_CODEC_OVERRUN'); // zrun past the page
  assertRejects(fromHex('ff 1f 02 01 02'), page, 'LIVEMIG_E_CODEC_OVERRUN'); // nzrun past the page
  assertRejects(fromHex('80 80 01 01'), page, 'LIVEMIG_E_CODEC_MALFORMED'); // bad ULEB128 (QEMU's /xbzrle/uleb case)
  assertRejects(fromHex('00 81 80 aa'), page, 'LIVEMIG_E_CODEC_MALFORMED'); // bad nzrun ULEB128
  assertRejects(fromHex('00 01 aa 00 01 bb'), page, 'LIVEMIG_E_CODEC_MALFORMED'); // zero-length zrun after the first
  assertRejects(fromHex('00 01 aa 80 00 01 bb'), page, 'LIVEMIG_E_CODEC_MALFORMED'); // the same, spelled in 2 bytes
  // The valid prefix of a bad payload must not be applied either.
  assertRejects(fromHex('00 01 aa 05 01 bb 07'), page, 'LIVEMIG_E_CODEC_TRUNCATED');
});

test('decoder accepts QEMU\'s edge cases: empty payload, first zrun 0, non-minimal lengths', () => {
  const base = makePageSet('binary', 1, 4).pages[0];
  let page = Uint8Array.from(base);
  xbzrleDecode(new Uint8Array(0), page);
  assert.deepEqual(page, base, 'empty payload: unchanged page');
  page = Uint8Array.from(base);
  xbzrleDecode(fromHex('00 01 aa'), page);
  assert.equal(page[0], 0xaa);
  assert.deepEqual(page.subarray(1), base.subarray(1));
  page = Uint8Array.from(base);
  xbzrleDecode(fromHex('80 00 81 00 aa 85 00 01 bb'), page); // 0, 1 and 5 in two-byte form
  assert.equal(page[0], 0xaa);
  assert.equal(page[6], 0xbb);
  page = Uint8Array.from(base);
  xbzrleDecode(fromHex('ff 1f 01 cc'), page); // ends exactly at the page end
  assert.equal(page[PAGE_SIZE - 1], 0xcc);
});

test('10,000 seeded random page pairs: optimised encoder is byte-identical to the naive one and decodes right', () => {
  const rng = new Prng(20240601);
  const backing = new ArrayBuffer(3 * PAGE_SIZE + 16);
  let nulls = 0;
  for (let c = 0; c < 10_000; c++) {
    // Mostly aligned pages (the word path); some at odd offsets (the byte path).
    const shift = c % 10 === 9 ? rng.int(1, 8) : 0;
    const old = new Uint8Array(backing, shift, PAGE_SIZE);
    const page = new Uint8Array(backing, PAGE_SIZE + 8 + shift, PAGE_SIZE);
    randomPair(rng, old, page);
    const dlen = rng.chance(0.1) ? rng.int(0, PAGE_SIZE + 64) : PAGE_SIZE;
    const expected = naiveEncode(old, page, dlen);
    const out = new Uint8Array(dlen);
    const n = xbzrleEncode(old, page, out);
    if (expected === null) {
      assert.equal(n, null, `case ${c}: naive overflows, optimised gave ${n}`);
      nulls++;
      continue;
    }
    assert.ok(n !== null, `case ${c}: optimised overflowed, naive gave ${expected.length} bytes`);
    const got = out.subarray(0, n);
    if (Buffer.compare(got, expected) !== 0) assert.fail(`case ${c}: ${hex(got.subarray(0, 40))} vs ${hex(expected.subarray(0, 40))}`);
    const target = Uint8Array.from(old);
    xbzrleDecode(got, target);
    if (Buffer.compare(target, page) !== 0) assert.fail(`case ${c}: decoded page differs`);
  }
  assert.ok(nulls > 100 && nulls < 5000, `the mix should overflow sometimes (${nulls})`);
});

test('decoder accepts longer valid encodings (split runs, literal unchanged bytes, 2-byte lengths) as the naive decoder does', () => {
  const rng = new Prng(77);
  for (let c = 0; c < 2000; c++) {
    const old = new Uint8Array(PAGE_SIZE);
    const page = new Uint8Array(PAGE_SIZE);
    randomPair(rng, old, page);
    const longer = longerEncode(old, page, rng);
    assert.deepEqual(naiveDecode(longer, old), page, `case ${c}: reference disagrees`);
    const g = guardedPage(PAGE_SIZE, old);
    xbzrleDecode(longer, g.page);
    if (Buffer.compare(g.page, page) !== 0) assert.fail(`case ${c}: decoded page differs`);
    assertCanariesIntact(g, `case ${c}`);
  }
});

/** Fills `old` and `page` with one of several kinds of change, from none to all. */
function randomPair(rng: Prng, old: Uint8Array, page: Uint8Array): void {
  if (rng.chance(0.5)) rng.fill(old);
  else old.fill(rng.int(0, 3) === 0 ? 0 : rng.int(0, 256));
  page.set(old);
  const n = page.length;
  switch (rng.int(0, 6)) {
    case 0: // scattered single bytes at some density
    {
      const p = rng.pick([0.0005, 0.005, 0.03, 0.1, 0.3, 0.6, 1]);
      for (let k = 0; k < n; k++) if (rng.chance(p)) page[k] = old[k] ^ rng.int(1, 256);
      break;
    }
    case 1: // clustered runs of random values (some bytes equal by chance: haszero path)
      for (let r = rng.int(1, 12); r > 0; r--) {
        const len = rng.int(1, rng.pick([8, 64, 600, 3000]));
        const at = rng.int(0, n);
        for (let k = at; k < Math.min(n, at + len); k++) page[k] = rng.int(0, 256);
      }
      break;
    case 2: // whole words with one byte kept, at word edges
      for (let r = rng.int(1, 60); r > 0; r--) {
        const w = rng.int(0, n >>> 3) * 8;
        for (let k = w; k < w + 8; k++) page[k] = old[k] ^ rng.int(1, 256);
        const keep = w + rng.int(0, 8);
        page[keep] = old[keep];
      }
      break;
    case 3: // nothing changed, or only the first / last byte
      if (rng.chance(0.5)) page[0] ^= 1;
      if (rng.chance(0.5)) page[n - 1] ^= 0x80;
      break;
    case 4: // alternating changed/unchanged with long stretches of each
      for (let k = 0; k < n; k++) if (((k >> rng.int(0, 7)) & 1) === 1 && rng.chance(0.9)) page[k] = old[k] ^ 0x5a;
      break;
    default: // a long changed run then a long equal one, near the 127/128 length boundary
    {
      const at = rng.int(0, 300);
      const len = rng.int(120, 140);
      for (let k = at; k < Math.min(n, at + len); k++) page[k] = old[k] ^ 0xff;
      break;
    }
  }
}
