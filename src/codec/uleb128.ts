/**
 * QEMU's "small" ULEB128 (util/cutils.c `uleb128_encode_small` / `uleb128_decode_small`): an
 * unsigned integer of at most 14 bits in one or two bytes.
 *
 *   n <  0x80  : [n]
 *   n <= 0x3fff: [(n & 0x7f) | 0x80, n >> 7]
 *
 * A second byte with bit 7 set is invalid (the value would exceed 14 bits). Decoding accepts the
 * non-minimal two-byte forms (e.g. `80 00` for 0), as QEMU does.
 */

import { LivemigError } from '../core/errors.js';

/** Largest value the small ULEB128 can carry. */
export const ULEB128_SMALL_MAX = 0x3fff;

/** Bytes `n` takes when encoded (1 or 2); `n` must be in 0..0x3fff. */
export function uleb128SmallLength(n: number): 1 | 2 {
  return n < 0x80 ? 1 : 2;
}

/**
 * Writes `n` (0..0x3fff) at `out[offset]` and returns the number of bytes written (1 or 2).
 * Throws LIVEMIG_E_INVALID_OPTION for an out-of-range value or when `out` has no room: both are
 * caller bugs, the codecs check their budget before calling.
 */
export function uleb128SmallEncode(n: number, out: Uint8Array, offset: number): 1 | 2 {
  if (!Number.isInteger(n) || n < 0 || n > ULEB128_SMALL_MAX) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a ULEB128 value in 0..0x3fff, got ${n}`, { phase: 'codec' });
  }
  const len = uleb128SmallLength(n);
  if (offset < 0 || offset + len > out.length) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `No room for a ${len}-byte ULEB128 at offset ${offset} of ${out.length}`, { phase: 'codec' });
  }
  if (len === 1) {
    out[offset] = n;
  } else {
    out[offset] = (n & 0x7f) | 0x80;
    out[offset + 1] = n >>> 7;
  }
  return len;
}

/**
 * Reads a small ULEB128 at `input[offset]`. Returns the value and the bytes it took, or `null` when
 * the input ends too early or the second byte has bit 7 set (QEMU returns -1 for the latter).
 */
export function uleb128SmallDecode(input: Uint8Array, offset: number): { value: number; length: 1 | 2 } | null {
  if (offset < 0 || offset >= input.length) return null;
  const b0 = input[offset];
  if ((b0 & 0x80) === 0) return { value: b0, length: 1 };
  if (offset + 1 >= input.length) return null;
  const b1 = input[offset + 1];
  if ((b1 & 0x80) !== 0) return null;
  return { value: (b0 & 0x7f) | (b1 << 7), length: 2 };
}
