import { PAGE_SIZE } from '../../src/core/units.js';

/**
 * A block's mask halves and its concatenated members: members at `bits` (offsets from the first
 * page; must include 0), member k holding `pages[(k + start) % pages.length]`.
 */
export function blockOf(bits: number[], pages: Uint8Array[], start = 0): { lo: number; hi: number; data: Uint8Array } {
  let lo = 0;
  let hi = 0;
  for (const b of bits) {
    if (b < 32) lo |= 1 << b;
    else hi |= 1 << (b - 32);
  }
  const data = new Uint8Array(bits.length * PAGE_SIZE);
  bits.forEach((_, k) => data.set(pages[(k + start) % pages.length], k * PAGE_SIZE));
  return { lo, hi, data };
}
