/**
 * xbzrle: QEMU's XOR-based zero run-length encoding of a page against its previous version
 * (migration/xbzrle.c, docs/xbzrle.txt).
 *
 *   page   = zrun nzrun | zrun nzrun page
 *   zrun   = length                  bytes equal to the old page (skipped by the decoder)
 *   nzrun  = length byte{length}     bytes that changed, copied from the NEW page
 *   length = small ULEB128 (1-2 bytes, <= 0x3fff; see uleb128.ts)
 *
 * Encoder (byte-identical to QEMU's scalar `xbzrle_encode_buffer`):
 * - zrun and nzrun are maximal: a single equal byte ends an nzrun;
 * - the first zrun may be 0, a trailing zrun is never encoded;
 * - an unchanged page encodes to 0 bytes;
 * - budget `dlen = min(out.length, page.length)`; `null` (QEMU's -1) when 2 bytes are not left
 *   before a zrun or an nzrun, or when an nzrun does not fit. QEMU checks the 2 bytes before it
 *   knows whether the rest is a trailing zrun, so a page whose encoding would end exactly 1 byte
 *   short of the budget can still overflow; we keep that quirk for byte identity.
 *
 * Decoder (accepts any encoding of the grammar, including non-minimal ULEB128 and split runs) rejects
 * what QEMU's `xbzrle_decode_buffer` rejects: fewer than 2 bytes left before a zrun or an nzrun, a bad
 * ULEB128, a zero-length zrun anywhere but at offset 0, a zero-length nzrun, a run past the page, an
 * nzrun past the payload. QEMU applies runs in place and can leave a half-written page behind on
 * malformed input; we validate the whole payload in a first pass (it only walks run headers, so it
 * costs a few ns per run) and apply only a valid payload, so a rejected page is left untouched.
 */

import { LivemigError } from '../core/errors.js';
import { CODEC_IDS, type PageCodec } from './types.js';

/**
 * Largest page the encoder supports: every zrun (< page) and every nzrun that fits the budget must
 * be a small ULEB128 (<= 0x3fff).
 */
export const XBZRLE_MAX_PAGE_SIZE = 0x4000;

// The classic "has a zero byte" test, per 32-bit lane: (x - 0x01..) & ~x & 0x80.. is non-zero
// exactly when one of x's bytes is zero. Two lanes give the same answer as QEMU's 64-bit word.
const LOW_BITS = 0x01010101;
const HIGH_BITS = 0x80808080 | 0;

// One Uint32Array per ArrayBuffer, so an aligned page anywhere in guest memory is scanned without
// allocating a view per call.
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

function wordView(bytes: Uint8Array): Uint32Array {
  const buf = bytes.buffer;
  let view = wordViews.get(buf);
  if (view === undefined || view.length !== buf.byteLength >>> 2) {
    view = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    wordViews.set(buf, view);
  }
  return view;
}

function checkEncodeArgs(old: Uint8Array | null, page: Uint8Array): asserts old is Uint8Array {
  if (old === null) {
    throw new LivemigError('LIVEMIG_E_CODEC_NEEDS_BASE', 'xbzrle: encode needs the previously sent page; send this page with a full-page codec');
  }
  if (old.length !== page.length) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `xbzrle: old page has ${old.length} bytes, new page ${page.length}; both must be the same page size`, { phase: 'codec' });
  }
  if (page.length > XBZRLE_MAX_PAGE_SIZE) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `xbzrle: page size ${page.length} exceeds ${XBZRLE_MAX_PAGE_SIZE}, the largest its 14-bit run lengths can describe`, { phase: 'codec' });
  }
}

/**
 * Encodes `page` against `old` into `out`, byte for byte as QEMU's scalar encoder does. Returns the
 * length (0 = unchanged page) or `null` when the encoding exceeds `min(out.length, page.length)`.
 * Throws LIVEMIG_E_CODEC_NEEDS_BASE without `old`, LIVEMIG_E_INVALID_OPTION when the two pages
 * differ in size or exceed XBZRLE_MAX_PAGE_SIZE. Aligned pages (byteOffset % 4 == 0, size % 8 == 0)
 * take the word path; others a byte path with the same output.
 */
export function xbzrleEncode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
  checkEncodeArgs(old, page);
  const n = page.length;
  const dlen = Math.min(out.length, n);
  if (((old.byteOffset | page.byteOffset) & 3) === 0 && (n & 7) === 0) {
    return encodeWords(old, page, out, n, dlen, wordView(old), old.byteOffset >>> 2, wordView(page), page.byteOffset >>> 2);
  }
  return encodeBytes(old, page, out, n, dlen);
}

/** The hot path: 8-byte steps as two u32 lanes, bytes only at run edges. */
function encodeWords(
  old: Uint8Array, page: Uint8Array, out: Uint8Array, n: number, dlen: number,
  o32: Uint32Array, ob: number, p32: Uint32Array, pb: number,
): number | null {
  const wEnd = n >>> 2;
  let i = 0;
  let d = 0;
  while (i < n) {
    if (d + 2 > dlen) return null;

    // zrun: bytes up to an 8-byte boundary, then words, then the bytes of the first differing word
    const zStart = i;
    while ((i & 7) !== 0 && old[i] === page[i]) i++;
    if ((i & 7) === 0) {
      let w = i >>> 2;
      // 16 bytes per step while they are equal, then 8: the same stop as QEMU's 8-byte loop
      const w16End = wEnd - 4;
      while (w <= w16End && ((o32[ob + w] ^ p32[pb + w]) | (o32[ob + w + 1] ^ p32[pb + w + 1]) |
        (o32[ob + w + 2] ^ p32[pb + w + 2]) | (o32[ob + w + 3] ^ p32[pb + w + 3])) === 0) w += 4;
      while (w < wEnd && o32[ob + w] === p32[pb + w] && o32[ob + w + 1] === p32[pb + w + 1]) w += 2;
      i = w << 2;
      while (i < n && old[i] === page[i]) i++;
    }
    const zrun = i - zStart;
    if (zrun === n) return 0;
    if (i === n) return d;
    if (zrun < 0x80) {
      out[d++] = zrun;
    } else {
      out[d++] = (zrun & 0x7f) | 0x80;
      out[d++] = zrun >>> 7;
    }

    if (d + 2 > dlen) return null;

    // nzrun: bytes up to a boundary, then words while no byte of old^new is zero
    const nzStart = i;
    while ((i & 7) !== 0 && old[i] !== page[i]) i++;
    if ((i & 7) === 0) {
      let w = i >>> 2;
      for (; w < wEnd; w += 2) {
        const x0 = o32[ob + w] ^ p32[pb + w];
        const x1 = o32[ob + w + 1] ^ p32[pb + w + 1];
        if ((((x0 - LOW_BITS) & ~x0) | ((x1 - LOW_BITS) & ~x1)) & HIGH_BITS) break;
      }
      i = w << 2;
      // the word at w holds an equal byte, so this stops inside it
      if (i < n) while (old[i] !== page[i]) i++;
    }
    const nzrun = i - nzStart;
    // QEMU writes the length and then finds it does not fit; same result, and it keeps the length
    // within 14 bits for any page up to XBZRLE_MAX_PAGE_SIZE.
    if (d + (nzrun < 0x80 ? 1 : 2) + nzrun > dlen) return null;
    if (nzrun < 0x80) {
      out[d++] = nzrun;
    } else {
      out[d++] = (nzrun & 0x7f) | 0x80;
      out[d++] = nzrun >>> 7;
    }
    if (nzrun <= 32) {
      for (let k = nzStart; k < i; k++) out[d++] = page[k];
    } else {
      out.set(page.subarray(nzStart, i), d);
      d += nzrun;
    }
  }
  return d;
}

/** Same output for pages whose length or alignment does not allow u32 views. */
function encodeBytes(old: Uint8Array, page: Uint8Array, out: Uint8Array, n: number, dlen: number): number | null {
  let i = 0;
  let d = 0;
  while (i < n) {
    if (d + 2 > dlen) return null;
    const zStart = i;
    while (i < n && old[i] === page[i]) i++;
    const zrun = i - zStart;
    if (zrun === n) return 0;
    if (i === n) return d;
    d += writeLength(zrun, out, d);
    if (d + 2 > dlen) return null;
    const nzStart = i;
    while (i < n && old[i] !== page[i]) i++;
    const nzrun = i - nzStart;
    if (d + (nzrun < 0x80 ? 1 : 2) + nzrun > dlen) return null;
    d += writeLength(nzrun, out, d);
    out.set(page.subarray(nzStart, i), d);
    d += nzrun;
  }
  return d;
}

function writeLength(n: number, out: Uint8Array, d: number): number {
  if (n < 0x80) {
    out[d] = n;
    return 1;
  }
  out[d] = (n & 0x7f) | 0x80;
  out[d + 1] = n >>> 7;
  return 2;
}

function fail(code: 'LIVEMIG_E_CODEC_TRUNCATED' | 'LIVEMIG_E_CODEC_MALFORMED' | 'LIVEMIG_E_CODEC_OVERRUN', at: number, what: string): never {
  throw new LivemigError(code, `xbzrle: ${what} at payload offset ${at}; the page was left unchanged`);
}

/**
 * First pass: walks the run headers and throws on anything QEMU's decoder would reject. Returns
 * the number of page bytes the payload covers.
 */
export function xbzrleValidate(payload: Uint8Array, pageSize: number): number {
  const slen = payload.length;
  let i = 0;
  let d = 0;
  while (i < slen) {
    if (slen - i < 2) fail('LIVEMIG_E_CODEC_TRUNCATED', i, 'fewer than 2 bytes left for a zero run');
    let count = payload[i];
    if (count & 0x80) {
      const b1 = payload[i + 1];
      if (b1 & 0x80) fail('LIVEMIG_E_CODEC_MALFORMED', i, 'zero-run length is not a 14-bit ULEB128');
      count = (count & 0x7f) | (b1 << 7);
      if (count === 0 && i !== 0) fail('LIVEMIG_E_CODEC_MALFORMED', i, 'zero-length zero run after the first');
      i += 2;
    } else {
      if (count === 0 && i !== 0) fail('LIVEMIG_E_CODEC_MALFORMED', i, 'zero-length zero run after the first');
      i += 1;
    }
    d += count;
    if (d > pageSize) fail('LIVEMIG_E_CODEC_OVERRUN', i, `zero run reaches byte ${d} of a ${pageSize}-byte page`);

    if (slen - i < 2) fail('LIVEMIG_E_CODEC_TRUNCATED', i, 'fewer than 2 bytes left for a non-zero run');
    count = payload[i];
    if (count & 0x80) {
      const b1 = payload[i + 1];
      if (b1 & 0x80) fail('LIVEMIG_E_CODEC_MALFORMED', i, 'non-zero-run length is not a 14-bit ULEB128');
      count = (count & 0x7f) | (b1 << 7);
      i += 2;
    } else {
      i += 1;
    }
    if (count === 0) fail('LIVEMIG_E_CODEC_MALFORMED', i, 'zero-length non-zero run');
    if (d + count > pageSize) fail('LIVEMIG_E_CODEC_OVERRUN', i, `non-zero run reaches byte ${d + count} of a ${pageSize}-byte page`);
    if (i + count > slen) fail('LIVEMIG_E_CODEC_TRUNCATED', i, `non-zero run of ${count} bytes but only ${slen - i} left`);
    d += count;
    i += count;
  }
  return d;
}

/** Second pass: applies a payload that xbzrleValidate accepted; no checks left to make. */
function apply(payload: Uint8Array, page: Uint8Array): void {
  const slen = payload.length;
  let i = 0;
  let d = 0;
  while (i < slen) {
    let count = payload[i++];
    if (count & 0x80) count = (count & 0x7f) | (payload[i++] << 7);
    d += count;
    count = payload[i++];
    if (count & 0x80) count = (count & 0x7f) | (payload[i++] << 7);
    if (count <= 32) {
      const end = i + count;
      while (i < end) page[d++] = payload[i++];
    } else {
      page.set(payload.subarray(i, i + count), d);
      i += count;
      d += count;
    }
  }
}

/**
 * Decodes `payload` onto `page`, which holds the old version. A malformed payload throws a
 * LivemigError and leaves `page` untouched.
 */
export function xbzrleDecode(payload: Uint8Array, page: Uint8Array): void {
  xbzrleValidate(payload, page.length);
  apply(payload, page);
}

/** The XBZRLE delta codec (wire id 3). */
export const xbzrleCodec: PageCodec = Object.freeze({
  name: 'xbzrle',
  id: CODEC_IDS.xbzrle,
  delta: true,
  encode: xbzrleEncode,
  decode: xbzrleDecode,
});
