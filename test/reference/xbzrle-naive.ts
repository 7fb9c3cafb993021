/**
 * A deliberately obvious, byte-at-a-time XBZRLE, to check the optimised codec against.
 *
 *   page = zrun nzrun | zrun nzrun page;  zrun = length;  nzrun = length byte...;  length = ULEB128 (<= 0x3fff)
 *
 * `naiveEncode` follows QEMU's encoder step by step, budget checks included; `naiveDecode` follows
 * QEMU's decoder, applying in place on a copy and returning null where QEMU returns -1.
 * `longerEncode` produces other valid encodings of the same change (split runs, two-byte lengths)
 * that a decoder must accept.
 */

import type { Prng } from '../helpers/prng.js';

function pushLength(dst: number[], n: number, twoBytes = false): void {
  if (n < 0x80 && !twoBytes) {
    dst.push(n);
  } else {
    dst.push((n & 0x7f) | 0x80, n >> 7);
  }
}

/** QEMU's encoder, one byte at a time: the encoded bytes, or null on overflow of `min(dlen, page)`. */
export function naiveEncode(old: Uint8Array, page: Uint8Array, dlen: number): Uint8Array | null {
  const n = page.length;
  const budget = Math.min(dlen, n);
  const dst: number[] = [];
  let i = 0;
  while (i < n) {
    if (dst.length + 2 > budget) return null;
    let zrun = 0;
    while (i < n && old[i] === page[i]) {
      zrun++;
      i++;
    }
    if (zrun === n) return new Uint8Array(0);
    if (i === n) break;
    pushLength(dst, zrun);
    if (dst.length + 2 > budget) return null;
    const start = i;
    while (i < n && old[i] !== page[i]) i++;
    const nzrun = i - start;
    pushLength(dst, nzrun);
    if (dst.length + nzrun > budget) return null;
    for (let k = start; k < i; k++) dst.push(page[k]);
  }
  return Uint8Array.from(dst);
}

function readLength(src: Uint8Array, i: number): [value: number, length: number] | null {
  const b0 = src[i];
  if ((b0 & 0x80) === 0) return [b0, 1];
  const b1 = src[i + 1];
  if ((b1 & 0x80) !== 0) return null;
  return [(b0 & 0x7f) | (b1 << 7), 2];
}

/**
 * QEMU's decoder on a copy of `oldPage`: the new page, or null when QEMU would return -1.
 */
export function naiveDecode(payload: Uint8Array, oldPage: Uint8Array): Uint8Array | null {
  const dst = oldPage.slice();
  const slen = payload.length;
  const dlen = dst.length;
  let i = 0;
  let d = 0;
  while (i < slen) {
    if (slen - i < 2) return null;
    const z = readLength(payload, i);
    if (z === null || (i !== 0 && z[0] === 0)) return null;
    i += z[1];
    d += z[0];
    if (d > dlen) return null;
    if (slen - i < 2) return null;
    const nz = readLength(payload, i);
    if (nz === null || nz[0] === 0) return null;
    i += nz[1];
    const count = nz[0];
    if (d + count > dlen || i + count > slen) return null;
    for (let k = 0; k < count; k++) dst[d++] = payload[i++];
  }
  return dst;
}

/**
 * Another valid, usually longer, encoding of `old → page` (no budget): some unchanged bytes are
 * sent as literals inside or beside non-zero runs, some literal stretches are split around an
 * unchanged byte, and some lengths take the two-byte ULEB128 form (`80 00` for a first zrun of 0).
 */
export function longerEncode(old: Uint8Array, page: Uint8Array, rng: Prng): Uint8Array {
  const n = page.length;
  // Decide per byte whether it goes out as a literal: every changed byte must, some equal ones may.
  const literal = new Uint8Array(n);
  for (let k = 0; k < n; k++) literal[k] = old[k] !== page[k] || rng.chance(0.02) ? 1 : 0;
  const dst: number[] = [];
  let i = 0;
  while (i < n) {
    const zStart = i;
    while (i < n && literal[i] === 0) i++;
    if (i === n) break;
    const zrun = i - zStart;
    pushLength(dst, zrun, rng.chance(0.2));
    const start = i;
    // A literal stretch may be cut short: the remainder then follows after a zrun of at least one
    // equal byte, so only cut where the next byte is unchanged and can be skipped instead.
    while (i < n && literal[i] === 1) {
      if (i > start && old[i] === page[i] && rng.chance(0.3)) {
        literal[i] = 0;
        break;
      }
      i++;
    }
    pushLength(dst, i - start, rng.chance(0.2));
    for (let k = start; k < i; k++) dst.push(page[k]);
  }
  return Uint8Array.from(dst);
}
