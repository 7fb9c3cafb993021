/**
 * The initial content of a synthetic guest's data pages: a realistic mix of zero, text, executable
 * and heap-like pages (see CONTENT.md), deterministic from the seed. It is built by copying pages out
 * of a few small pools, never byte by byte over the whole memory, so 512 MiB fills in well under a
 * second.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { LocalRandom } from './workloads.js';
import type { MemoryViews } from './layout.js';

/** Kinds of initial page, in the order of CONTENT_MIX. */
export type ContentKind = 'zero' | 'text' | 'exec' | 'heap';

/** Share of data pages of each kind (expected; the draw is by extents, so a run varies a little). */
export const CONTENT_MIX: Readonly<Record<ContentKind, number>> = { zero: 0.25, text: 0.15, exec: 0.25, heap: 0.35 };

/** Longest run of consecutive pages of one kind, in pages (memory comes in regions, not single pages). */
export const MAX_EXTENT_PAGES = 32;

/** Bytes of the executable read as the pool of code pages. @default 16 MiB */
export const EXEC_POOL_BYTES = 16 * 1024 * 1024;

/** Executable the code pages are copied from. */
export const EXEC_SOURCE = '/usr/bin/node';

export interface ContentStats {
  pages: Record<ContentKind, number>;
  /** Where the code pages came from: a path, or 'synthesized (…)' when no executable was readable. */
  execSource: string;
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were her she there been one all we their has would when if so no what up out who them some ' +
  'could into time only new other more like over such our than then its also two may after first way ' +
  'error warning info debug request response connection timeout server client user session config value ' +
  'return function const let var import export class interface string number null undefined true false ' +
  'migration memory page dirty round bandwidth downtime guest host kernel module driver device network'
).split(' ');

let textCache: Uint8Array | null = null;
const execCache = new Map<string, { bytes: Uint8Array; source: string }>();

/** A 256 KiB corpus of prose, log and code-like lines (words repeat, as in real text). */
function textCorpus(): Uint8Array {
  if (textCache !== null) return textCache;
  const rnd = new LocalRandom(0x7e47);
  const lines: string[] = [];
  let size = 0;
  while (size < 256 * 1024) {
    const n = 4 + rnd.below(12);
    const parts: string[] = [];
    if (rnd.below(4) === 0) parts.push(`2024-05-${10 + rnd.below(20)}T${10 + rnd.below(14)}:${10 + rnd.below(50)}:${10 + rnd.below(50)}Z`);
    for (let k = 0; k < n; k++) parts.push(WORDS[rnd.below(WORDS.length)]);
    const line = (rnd.below(3) === 0 ? '    ' : '') + parts.join(' ') + (rnd.below(5) === 0 ? ';' : '.');
    lines.push(line);
    size += line.length + 1;
  }
  textCache = new TextEncoder().encode(lines.join('\n'));
  return textCache;
}

/** Up to EXEC_POOL_BYTES of a real executable, from past its ELF headers; or code-like bytes. */
function execPool(pageSize: number): { bytes: Uint8Array; source: string } {
  const key = `${EXEC_SOURCE}:${pageSize}`;
  const cached = execCache.get(key);
  if (cached) return cached;
  let result: { bytes: Uint8Array; source: string } | null = null;
  for (const path of [EXEC_SOURCE, process.execPath]) {
    try {
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        // Skip the first eighth: headers and tables; the middle of the file is .text and .rodata.
        const start = Math.floor(size / 8 / pageSize) * pageSize;
        const length = Math.floor(Math.min(EXEC_POOL_BYTES, size - start) / pageSize) * pageSize;
        if (length < 16 * pageSize) continue;
        const bytes = new Uint8Array(length);
        readSync(fd, bytes, 0, length, start);
        result = { bytes, source: path };
        break;
      } finally {
        closeSync(fd);
      }
    } catch {
      // Try the next candidate; the fallback below always works.
    }
  }
  if (result === null) {
    // No readable executable: bytes drawn from a skewed opcode-like distribution instead.
    const rnd = new LocalRandom(0xc0de);
    const common = [0x48, 0x89, 0x8b, 0xe8, 0x0f, 0x85, 0x84, 0xc3, 0x00, 0xff, 0x83, 0x74, 0x75, 0x31, 0xc0, 0x41];
    const bytes = new Uint8Array(256 * pageSize);
    for (let k = 0; k < bytes.length; k++) bytes[k] = rnd.below(4) === 0 ? rnd.below(256) : common[rnd.below(common.length)];
    result = { bytes, source: `synthesized (neither ${EXEC_SOURCE} nor ${process.execPath} readable)` };
  }
  execCache.set(key, result);
  return result;
}

/** 256 pages of heap-like structs: pointers sharing their high bytes, small integers, repeated layouts. */
function heapTemplates(seed: number, pageSize: number): Uint8Array {
  const count = 256;
  const words = new Uint32Array((count * pageSize) / 4);
  const rnd = new LocalRandom(seed ^ 0x4ea9);
  const pageWords = pageSize / 4;
  const STRUCT_WORDS = [8, 12, 16, 24, 32];
  for (let t = 0; t < count; t++) {
    const structWords = STRUCT_WORDS[rnd.below(STRUCT_WORDS.length)];
    const tag = 0x11 + rnd.below(40);
    const arenaHi = rnd.below(3) === 0 ? 0x0000555d : 0x00007f3a;
    const arenaLo = 0x55a00000 + (rnd.below(64) << 16);
    const base = t * pageWords;
    for (let s = 0; s + structWords <= pageWords; s += structWords) {
      const w = base + s;
      // next, prev: heap pointers, 16-byte aligned, sharing the arena's high bytes.
      words[w] = (arenaLo + (rnd.below(4096) << 4)) >>> 0;
      words[w + 1] = arenaHi;
      words[w + 2] = rnd.below(8) === 0 ? 0 : (arenaLo + (rnd.below(4096) << 4)) >>> 0;
      words[w + 3] = words[w + 2] === 0 ? 0 : arenaHi;
      words[w + 4] = 1 + rnd.below(4); // refcount
      words[w + 5] = tag; // type id: the same on every struct of the page
      words[w + 6] = rnd.below(8) * 16; // length
      words[w + 7] = 0;
      for (let k = 8; k < structWords; k++) words[w + k] = rnd.below(3) === 0 ? rnd.below(1000) : 0;
    }
  }
  return new Uint8Array(words.buffer);
}

/**
 * Fills the data pages of `v` (which must be zero) with the initial content for `seed`, and returns
 * how many pages of each kind it wrote.
 */
export function fillInitialContent(v: MemoryViews, seed: number): ContentStats {
  const P = v.pageSize;
  const text = textCorpus();
  const exec = execPool(P);
  const heap = heapTemplates(seed, P);
  const execPages = exec.bytes.length / P;
  const heapPages = heap.length / P;
  const rnd = new LocalRandom(seed);
  const kinds: ContentKind[] = ['zero', 'text', 'exec', 'heap'];
  const cumulative = [CONTENT_MIX.zero, CONTENT_MIX.zero + CONTENT_MIX.text, 1 - CONTENT_MIX.heap, 1];
  const pages: Record<ContentKind, number> = { zero: 0, text: 0, exec: 0, heap: 0 };
  let kind: ContentKind = 'zero';
  let left = 0;
  let execNext = 0;
  for (let p = v.firstData; p < v.pageCount; p++) {
    if (left === 0) {
      const u = rnd.nextU32() / 2 ** 32;
      kind = kinds[cumulative.findIndex((c) => u < c)];
      left = 1 + rnd.below(MAX_EXTENT_PAGES);
      // A code extent is a run of consecutive pages of the binary, as a mapped file is.
      execNext = rnd.below(execPages);
    }
    left--;
    pages[kind]++;
    const at = p * P;
    switch (kind) {
      case 'zero':
        break;
      case 'text': {
        const off = rnd.below(text.length - P);
        v.bytes.set(text.subarray(off, off + P), at);
        break;
      }
      case 'exec':
        v.bytes.set(exec.bytes.subarray(execNext * P, (execNext + 1) * P), at);
        execNext = (execNext + 1) % execPages;
        break;
      case 'heap': {
        const t = rnd.below(heapPages);
        v.bytes.set(heap.subarray(t * P, (t + 1) * P), at);
        // This page's own first pointer, so heap pages are not copies of one another.
        v.words[at / 4] = (0x55a00000 + ((p << 4) & 0x00fffff0)) >>> 0;
        break;
      }
    }
  }
  return { pages, execSource: exec.source };
}
