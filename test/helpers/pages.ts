/**
 * Page helpers for tests: the benchmark's generators (bench/pages.ts, one source for both) plus
 * guarded pages whose neighbours hold canaries, to prove a decoder stays inside its page.
 */

import assert from 'node:assert/strict';

export { PAGE_CLASSES, allocPages, makePageSet, mutateClustered, mutateScattered, type PageClass, type PageSet } from '../../bench/pages.js';

/** Bytes of canary on each side of a guarded page. */
export const CANARY_BYTES = 64;
const CANARY = 0xa5;

/** A page in the middle of a larger buffer whose bytes on both sides hold a canary pattern. */
export interface GuardedPage {
  /** The whole buffer: canary, page, canary. */
  readonly backing: Uint8Array;
  /** The page itself, a subarray of `backing` (page-offset aligned to 8 bytes). */
  readonly page: Uint8Array;
}

/** Allocates a guarded page of `pageSize` bytes holding a copy of `content` (or zeros). */
export function guardedPage(pageSize: number, content?: Uint8Array): GuardedPage {
  const backing = new Uint8Array(CANARY_BYTES + pageSize + CANARY_BYTES);
  backing.fill(CANARY);
  const page = backing.subarray(CANARY_BYTES, CANARY_BYTES + pageSize);
  if (content) page.set(content);
  else page.fill(0);
  return { backing, page };
}

/** Throws when any canary byte around `g.page` changed. */
export function assertCanariesIntact(g: GuardedPage, label = ''): void {
  const { backing } = g;
  const end = CANARY_BYTES + g.page.length;
  for (let k = 0; k < CANARY_BYTES; k++) {
    if (backing[k] !== CANARY) assert.fail(`${label}: byte ${k - CANARY_BYTES} before the page was overwritten`);
    if (backing[end + k] !== CANARY) assert.fail(`${label}: byte ${k} after the page was overwritten`);
  }
}

/** Hex of `bytes` (`eb 07 01`), for readable failure messages. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Parses `eb 07 01 ...` into bytes. */
export function fromHex(text: string): Uint8Array {
  const parts = text.trim().split(/\s+/).filter((s) => s.length > 0);
  return Uint8Array.from(parts, (s) => parseInt(s, 16));
}
