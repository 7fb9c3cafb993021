/**
 * Page generators shared by the codec benchmark and the tests: reproducible sets of 4 KiB pages
 * (and, for the delta classes, their old versions), each set backed by one ArrayBuffer so every
 * page is page-aligned, as guest memory is.
 *
 * | class    | pages                                                                      |
 * |----------|----------------------------------------------------------------------------|
 * | zero     | all-zero pages                                                             |
 * | text     | consecutive pages of /usr/include headers                                  |
 * | binary   | pages of /usr/bin/node (the running node binary) at random page offsets    |
 * | random   | random bytes                                                               |
 * | delta1   | a binary page with 1% of its bytes changed, in 1–4 clustered runs           |
 * | delta5   | the same with 5%                                                           |
 * | delta20  | the same with 20%                                                          |
 * | scatter5 | a binary page with 5% of its bytes changed as random aligned 8-byte words  |
 */

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE_SIZE } from '../src/core/units.js';
import { Prng } from '../test/helpers/prng.js';

/** The page classes the generators know. */
export type PageClass = 'zero' | 'text' | 'binary' | 'random' | 'delta1' | 'delta5' | 'delta20' | 'scatter5';

/** Every page class, full-page ones first. */
export const PAGE_CLASSES: readonly PageClass[] = ['zero', 'text', 'binary', 'random', 'delta1', 'delta5', 'delta20', 'scatter5'];

/** A set of pages of one class. */
export interface PageSet {
  readonly kind: PageClass;
  /** The pages (the new versions, for delta classes). */
  readonly pages: Uint8Array[];
  /** For delta classes, the old version of each page; `null` for full-page classes. */
  readonly olds: Uint8Array[] | null;
}

/** Allocates `count` page-aligned pages in one buffer. */
export function allocPages(count: number, pageSize = PAGE_SIZE): Uint8Array[] {
  const buf = new ArrayBuffer(count * pageSize);
  return Array.from({ length: count }, (_, k) => new Uint8Array(buf, k * pageSize, pageSize));
}

let textCorpus: Uint8Array | null = null;

/** About 8 MiB of C header text from /usr/include (sorted walk), or generated text without it. */
function loadTextCorpus(): Uint8Array {
  if (textCorpus !== null) return textCorpus;
  const want = 8 * 1024 * 1024;
  const parts: Buffer[] = [];
  let have = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (have >= want) return;
      const path = join(dir, name);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(path);
      else if (name.endsWith('.h') && st.size > 0) {
        const data = readFileSync(path);
        parts.push(data);
        have += data.length;
      }
    }
  };
  if (existsSync('/usr/include')) walk('/usr/include');
  if (have < 64 * PAGE_SIZE) {
    // No headers here: C-like text from a seeded word list, so the class still means "text".
    const words = ['static', 'int', 'const', 'char', 'struct', 'return', 'if', 'define', 'include', 'unsigned', 'void', 'size_t', '#', '{', '}', ';', '\n', '  '];
    const rng = new Prng(7);
    const text = Array.from({ length: want / 5 }, () => rng.pick(words)).join(' ');
    parts.push(Buffer.from(text, 'latin1'));
  }
  textCorpus = Buffer.concat(parts);
  return textCorpus;
}

function binaryPath(): string {
  try {
    return realpathSync('/usr/bin/node');
  } catch {
    return process.execPath;
  }
}

/** Copies `count` pages of the node binary, at distinct random page offsets, into `pages`. */
function fillBinary(pages: Uint8Array[], rng: Prng): void {
  const path = binaryPath();
  const filePages = Math.floor(statSync(path).size / PAGE_SIZE);
  const fd = openSync(path, 'r');
  try {
    for (const page of pages) {
      const at = rng.int(0, filePages);
      readSync(fd, page, 0, page.length, at * PAGE_SIZE);
    }
  } finally {
    closeSync(fd);
  }
}

/** Rewrites `fraction` of `page`'s bytes (each to a different value) in 1–4 clustered runs. */
export function mutateClustered(page: Uint8Array, fraction: number, rng: Prng): void {
  const total = Math.max(1, Math.round(page.length * fraction));
  const runs = rng.int(1, 5);
  const slot = Math.floor(page.length / runs);
  let left = total;
  for (let r = 0; r < runs; r++) {
    const len = r === runs - 1 ? left : Math.floor(total / runs);
    left -= len;
    // One run per slot, so runs never overlap and exactly `total` bytes change.
    const start = r * slot + rng.int(0, slot - len + 1);
    for (let k = start; k < start + len; k++) page[k] ^= rng.int(1, 256);
  }
}

/** Rewrites `fraction` of `page`'s bytes as whole, distinct, 8-byte aligned words. */
export function mutateScattered(page: Uint8Array, fraction: number, rng: Prng): void {
  const words = page.length >>> 3;
  const want = Math.max(1, Math.round((page.length * fraction) / 8));
  const chosen = new Set<number>();
  while (chosen.size < want) chosen.add(rng.int(0, words));
  for (const w of chosen) {
    for (let k = w * 8; k < w * 8 + 8; k++) page[k] ^= rng.int(1, 256);
  }
}

/**
 * `count` pages of class `kind`, reproducible from `seed`.
 * @param count pages in the set
 * @param seed PRNG seed @default 1
 */
export function makePageSet(kind: PageClass, count: number, seed = 1): PageSet {
  const rng = new Prng(seed * 1000003 + PAGE_CLASSES.indexOf(kind));
  const pages = allocPages(count);
  switch (kind) {
    case 'zero':
      return { kind, pages, olds: null };
    case 'random':
      for (const p of pages) rng.fill(p);
      return { kind, pages, olds: null };
    case 'text': {
      const corpus = loadTextCorpus();
      const corpusPages = Math.floor(corpus.length / PAGE_SIZE);
      let at = rng.int(0, corpusPages);
      for (const p of pages) {
        p.set(corpus.subarray(at * PAGE_SIZE, (at + 1) * PAGE_SIZE));
        at = (at + 1) % corpusPages;
      }
      return { kind, pages, olds: null };
    }
    case 'binary':
      fillBinary(pages, rng);
      return { kind, pages, olds: null };
    case 'delta1':
    case 'delta5':
    case 'delta20':
    case 'scatter5': {
      const olds = allocPages(count);
      fillBinary(olds, rng);
      const fraction = kind === 'delta1' ? 0.01 : kind === 'delta20' ? 0.2 : 0.05;
      for (let k = 0; k < count; k++) {
        pages[k].set(olds[k]);
        if (kind === 'scatter5') mutateScattered(pages[k], fraction, rng);
        else mutateClustered(pages[k], fraction, rng);
      }
      return { kind, pages, olds };
    }
  }
}
