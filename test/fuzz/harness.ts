/**
 * The codec-decoder fuzz harness, shared by the test suite (codec-decoders.test.ts) and the long
 * runner (run-long.ts). Per case it feeds one decoder either random bytes or a mutated valid
 * encoding (bit flips, byte pokes, truncation, extension, splices of two encodings, inserted,
 * deleted and duplicated ranges) and checks that:
 *
 * - the decoder returns or throws a LivemigError, nothing else;
 * - no byte outside the page changes (64 canary bytes on each side);
 * - codecs that promise it leave the page untouched when they reject;
 * - xbzrle agrees with the naive reference decoder on accept/reject and on the resulting page.
 *
 * Everything derives from the seed, so a failure reproduces from (codec, seed, case index).
 */

import { PAGE_SIZE } from '../../src/core/units.js';
import { LivemigError } from '../../src/core/errors.js';
import { getCodec, type PageCodec } from '../../src/codec/index.js';
import { PAGE_CLASSES, makePageSet } from '../../bench/pages.js';
import { Prng } from '../helpers/prng.js';
import { CANARY_BYTES, guardedPage, hex } from '../helpers/pages.js';
import { longerEncode, naiveDecode } from '../reference/xbzrle-naive.js';

/** Options of one fuzz run. */
export interface FuzzOptions {
  /** Codec whose decoder is fuzzed. */
  codec: string;
  /** Cases to run. */
  cases: number;
  /** PRNG seed. @default 1 */
  seed?: number;
  /** Called with the index of each case before it runs (for a watchdog). */
  progress?: (caseIndex: number) => void;
  /** Only generate cases, do not decode; returns the input of this case (to reproduce a hang). */
  showCase?: number;
}

/** What one fuzz run found. */
export interface FuzzResult {
  codec: string;
  cases: number;
  accepted: number;
  rejected: number;
  /** Wall time of the cases alone (corpus building excluded), in ms. */
  elapsedMs: number;
  /** Up to 5 descriptions of failing cases; empty when the decoder behaved. */
  failures: string[];
  /** With `showCase`: that case's input and starting page, in hex. */
  shown?: { input: string; start: string };
}

interface Seed {
  payload: Uint8Array;
  /** What the page holds before decoding: the old page for delta codecs. */
  start: Uint8Array;
}

// Decoders that validate before they write, so a rejected payload leaves the page as it was.
const UNTOUCHED_ON_REJECT = new Set(['zero', 'raw', 'xbzrle', 'lz4-delta', 'zstd-delta']);
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x0f, 0xf0, 0x10];

function buildCorpus(codec: PageCodec, rng: Prng): Seed[] {
  const corpus: Seed[] = [];
  const out = new Uint8Array(PAGE_SIZE + 64);
  for (const kind of PAGE_CLASSES) {
    const set = makePageSet(kind, 12, 31);
    for (let k = 0; k < set.pages.length; k++) {
      const page = set.pages[k];
      const old = set.olds ? set.olds[k] : codec.delta ? set.pages[(k + 1) % set.pages.length] : null;
      const start = old ?? rng.bytes(PAGE_SIZE);
      const n = codec.encode(old, page, out);
      if (n !== null) corpus.push({ payload: out.slice(0, n), start });
      if (codec.name === 'xbzrle' && old !== null) corpus.push({ payload: longerEncode(old, page, rng), start });
    }
  }
  if (corpus.length === 0) corpus.push({ payload: new Uint8Array(0), start: new Uint8Array(PAGE_SIZE) });
  return corpus;
}

function randomLength(rng: Prng): number {
  switch (rng.int(0, 4)) {
    case 0: return rng.int(0, 8);
    case 1: return rng.int(0, 64);
    case 2: return rng.int(0, 600);
    default: return rng.int(0, PAGE_SIZE + 32);
  }
}

/**
 * 1-3 random mutations of a valid encoding: bit flips, interesting bytes, truncation, extension,
 * splices with another valid encoding (from `corpus`), deleted and inserted ranges.
 */
export function mutate(input: Uint8Array, corpus: ReadonlyArray<{ payload: Uint8Array }>, rng: Prng): Uint8Array {
  let b = input;
  for (let m = rng.int(1, 4); m > 0; m--) {
    switch (rng.int(0, 8)) {
      case 0: { // flip 1-4 bits
        if (b.length === 0) break;
        b = b.slice();
        for (let f = rng.int(1, 5); f > 0; f--) b[rng.int(0, b.length)] ^= 1 << rng.int(0, 8);
        break;
      }
      case 1: { // poke an interesting byte
        if (b.length === 0) break;
        b = b.slice();
        b[rng.int(0, b.length)] = rng.pick(INTERESTING);
        break;
      }
      case 2: // truncate
        b = b.subarray(0, rng.int(0, b.length + 1));
        break;
      case 3: { // extend with random bytes
        const tail = rng.bytes(rng.int(1, 16));
        const c = new Uint8Array(b.length + tail.length);
        c.set(b);
        c.set(tail, b.length);
        b = c;
        break;
      }
      case 4: { // splice: a prefix of this one and a suffix of another valid encoding
        const other = rng.pick(corpus).payload;
        const cut = rng.int(0, b.length + 1);
        const from = rng.int(0, other.length + 1);
        const c = new Uint8Array(cut + other.length - from);
        c.set(b.subarray(0, cut));
        c.set(other.subarray(from), cut);
        b = c;
        break;
      }
      case 5: { // delete a range
        const at = rng.int(0, b.length + 1);
        const len = rng.int(0, Math.min(16, b.length - at) + 1);
        const c = new Uint8Array(b.length - len);
        c.set(b.subarray(0, at));
        c.set(b.subarray(at + len), at);
        b = c;
        break;
      }
      case 6: { // insert random bytes
        const at = rng.int(0, b.length + 1);
        const ins = rng.bytes(rng.int(1, 8));
        const c = new Uint8Array(b.length + ins.length);
        c.set(b.subarray(0, at));
        c.set(ins, at);
        c.set(b.subarray(at), at + ins.length);
        b = c;
        break;
      }
      default: { // duplicate a range
        if (b.length === 0) break;
        const at = rng.int(0, b.length);
        const len = rng.int(1, Math.min(32, b.length - at) + 1);
        const c = new Uint8Array(b.length + len);
        c.set(b.subarray(0, at + len));
        c.set(b.subarray(at, at + len), at + len);
        c.set(b.subarray(at + len), at + 2 * len);
        b = c;
        break;
      }
    }
  }
  return b;
}

/** Runs `opts.cases` fuzz cases against one decoder. */
export function fuzzDecoder(opts: FuzzOptions): FuzzResult {
  const codec = getCodec(opts.codec);
  const seed = opts.seed ?? 1;
  const rng = new Prng(seed * 7919 + codec.id);
  const corpus = buildCorpus(codec, rng);
  const randomStart = rng.bytes(PAGE_SIZE);
  const g = guardedPage(PAGE_SIZE);
  const backing = Buffer.from(g.backing.buffer, g.backing.byteOffset, g.backing.length);
  const canaryRef = Buffer.from(backing.subarray(0, CANARY_BYTES));
  const afterAt = CANARY_BYTES + PAGE_SIZE;
  const untouched = UNTOUCHED_ON_REJECT.has(codec.name);
  const differential = codec.name === 'xbzrle';
  const failures: string[] = [];
  let accepted = 0;
  let rejected = 0;

  const t0 = performance.now();
  for (let c = 0; c < opts.cases && failures.length < 5; c++) {
    opts.progress?.(c);
    let input: Uint8Array;
    let start: Uint8Array;
    if (rng.chance(0.25)) {
      input = rng.bytes(randomLength(rng));
      // adaptive: a valid inner id half the time, so its inner decoders see random bytes too
      if (codec.name === 'adaptive' && input.length > 0 && rng.chance(0.5)) input[0] = rng.int(0, 5);
      start = rng.chance(0.5) ? randomStart : rng.pick(corpus).start;
    } else {
      const s = rng.pick(corpus);
      input = mutate(s.payload, corpus, rng);
      start = s.start;
    }
    if (opts.showCase !== undefined) {
      if (c < opts.showCase) continue;
      return { codec: codec.name, cases: 0, accepted: 0, rejected: 0, elapsedMs: 0, failures: [], shown: { input: hex(input), start: hex(start) } };
    }
    g.page.set(start);
    let error: unknown = null;
    try {
      codec.decode(input, g.page);
    } catch (err) {
      error = err;
    }
    const where = (): string => `${codec.name} seed=${seed} case=${c} input(${input.length})=${hex(input.subarray(0, 48))}${input.length > 48 ? '…' : ''}`;
    if (error === null) {
      accepted++;
    } else {
      rejected++;
      if (!(error instanceof LivemigError)) {
        failures.push(`${where()}: threw ${String(error)} instead of a LivemigError`);
        continue;
      }
      if (untouched && Buffer.compare(g.page, start) !== 0) failures.push(`${where()}: rejected (${error.code}) but changed the page`);
    }
    if (canaryRef.compare(backing, 0, CANARY_BYTES) !== 0 || canaryRef.compare(backing, afterAt, afterAt + CANARY_BYTES) !== 0) {
      failures.push(`${where()}: wrote outside the page`);
      g.backing.fill(0xa5);
    }
    if (differential) {
      const expected = naiveDecode(input, start);
      if ((expected === null) !== (error !== null)) {
        failures.push(`${where()}: reference ${expected === null ? 'rejects' : 'accepts'}, decoder ${error === null ? 'accepts' : 'rejects'}`);
      } else if (expected !== null && Buffer.compare(expected, g.page) !== 0) {
        failures.push(`${where()}: decoded page differs from the reference`);
      }
    }
  }
  const elapsedMs = performance.now() - t0;
  return { codec: codec.name, cases: accepted + rejected, accepted, rejected, elapsedMs, failures };
}
