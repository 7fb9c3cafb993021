import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivemigError } from '../../src/core/index.js';
import { uleb128SmallDecode, uleb128SmallEncode, uleb128SmallLength } from '../../src/codec/index.js';

test('QEMU /xbzrle/uleb: every value 0..0x3fff encodes and decodes to the same value and length', () => {
  const buf = new Uint8Array(2);
  for (let n = 0; n <= 0x3fff; n++) {
    const len = uleb128SmallEncode(n, buf, 0);
    assert.equal(len, n < 0x80 ? 1 : 2);
    assert.equal(uleb128SmallLength(n), len);
    const got = uleb128SmallDecode(buf, 0);
    assert.ok(got !== null);
    assert.equal(got.value, n);
    assert.equal(got.length, len);
  }
});

test('the two-byte form is (n & 0x7f) | 0x80 then n >> 7', () => {
  const buf = new Uint8Array(4);
  assert.equal(uleb128SmallEncode(0x3eb, buf, 1), 2);
  assert.deepEqual([...buf], [0, 0xeb, 0x07, 0]);
  assert.equal(uleb128SmallEncode(0x3fff, buf, 2), 2);
  assert.deepEqual([...buf.subarray(2)], [0xff, 0x7f]);
});

test('decoding rejects a second byte with bit 7 set (QEMU: 80 80 gives -1) and input that ends early', () => {
  assert.equal(uleb128SmallDecode(Uint8Array.of(0x80, 0x80), 0), null);
  assert.equal(uleb128SmallDecode(Uint8Array.of(0xff, 0xff), 0), null);
  assert.equal(uleb128SmallDecode(Uint8Array.of(0x80), 0), null);
  assert.equal(uleb128SmallDecode(new Uint8Array(0), 0), null);
});

test('decoding accepts non-minimal two-byte forms, as QEMU does', () => {
  assert.deepEqual(uleb128SmallDecode(Uint8Array.of(0x80, 0x00), 0), { value: 0, length: 2 });
  assert.deepEqual(uleb128SmallDecode(Uint8Array.of(0x85, 0x00), 0), { value: 5, length: 2 });
});

test('encoding refuses values above 0x3fff, negatives, fractions and a full buffer', () => {
  const buf = new Uint8Array(2);
  for (const bad of [0x4000, -1, 1.5, Number.NaN]) {
    assert.throws(() => uleb128SmallEncode(bad, buf, 0), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  }
  assert.throws(() => uleb128SmallEncode(0x80, buf, 1), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  assert.equal(uleb128SmallEncode(0x7f, buf, 1), 1);
});
