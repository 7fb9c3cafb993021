/**
 * zero: a page that is all zero bytes travels as an empty payload.
 *
 *   payload = ""            (page is all zero; any other page does not use this codec)
 *
 * Encode returns 0 for a zero page and `null` ("does not pay") for anything else. Decode of the
 * empty payload zero-fills the page; a non-empty payload is malformed.
 */

import { LivemigError } from '../core/errors.js';
import { PAGE_SIZE } from '../core/units.js';
import { CODEC_IDS, type PageCodec } from './types.js';

// Native memcmp (Buffer.equals/compare) is ~10x faster than a JS OR-loop (codecs.md §4).
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);
const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** True when every byte of `bytes` is zero. Uses native memcmp against a shared zero buffer. */
export function isZeroPage(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n === PAGE_SIZE) return ZERO_PAGE.equals(bytes);
  for (let off = 0; off < n; off += ZERO_CHUNK.length) {
    const end = Math.min(n, off + ZERO_CHUNK.length);
    // compare(target, targetStart, targetEnd, sourceStart, sourceEnd): no view is allocated.
    if (ZERO_CHUNK.compare(bytes, off, end, 0, end - off) !== 0) return false;
  }
  return true;
}

/** The zero-page codec (wire id 0). Full-page: ignores `old`. */
export const zeroCodec: PageCodec = Object.freeze({
  name: 'zero',
  id: CODEC_IDS.zero,
  delta: false,
  encode(_old: Uint8Array | null, page: Uint8Array, _out: Uint8Array): number | null {
    return isZeroPage(page) ? 0 : null;
  },
  decode(payload: Uint8Array, page: Uint8Array): void {
    if (payload.length !== 0) {
      throw new LivemigError(
        'LIVEMIG_E_CODEC_MALFORMED',
        `zero: expected an empty payload, got ${payload.length} bytes; the sender and receiver disagree on the codec id`,
      );
    }
    page.fill(0);
  },
});
