/**
 * The synthetic workloads: one `step()` writes one page. Every bit of state a step reads or writes
 * lives in guest memory (header and page table, see layout.ts); the runner only caches what it can
 * recompute from the header (the Zipf CDF, the memstress block), so a runner built over migrated
 * memory continues the very same sequence of writes.
 */
import {
  H, HEADER_MAGIC, LAYOUT_VERSION, MemoryViews, TRAILER_BYTES, pageChecksum, tablePageOf, usesTrailer,
  workloadFromId, type SyntheticWorkload,
} from './layout.js';

/** Default page writes per second of each workload, see `SyntheticGuestOptions.dirtyRate`. */
export const DEFAULT_DIRTY_RATE: Readonly<Record<SyntheticWorkload, number>> = {
  none: 0,
  idle: 20,
  // 50k writes/s over a 10 % hot set of 1 GiB: a raw round (≈26k pages, 0.86 s at 125 MB/s) sees ~80 %
  // of the hot set re-dirtied, ≈ 86 MB, far above the 37.5 MB that 300 ms at 125 MB/s can carry;
  // the same pages as ~30-byte deltas are under 1 MB.
  hotset: 50_000,
  // ≈ 100 MB/s of full-page changes: no delta helps; the worst case, as guestperf's stress.
  memstress: 25_000,
  // One pass over 1 GiB every ~5 s.
  'qemu-test': 50_000,
  zipf: 30_000,
};

/** Seeds a 4-word xorshift128 state from one u32 (splitmix32), never all zero. */
export function seedPrng(seed: number, out: Uint32Array, at: number): void {
  let x = seed >>> 0;
  for (let k = 0; k < 4; k++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    out[at + k] = (z ^ (z >>> 16)) >>> 0 || 1;
  }
}

/** A small seeded generator for content that is NOT workload state (never stored). */
export class LocalRandom {
  readonly #s = new Uint32Array(4);
  constructor(seed: number) {
    seedPrng(seed, this.#s, 0);
  }
  nextU32(): number {
    const s = this.#s;
    const t = s[0] ^ (s[0] << 11);
    s[0] = s[1];
    s[1] = s[2];
    s[2] = s[3];
    s[3] = s[3] ^ (s[3] >>> 19) ^ t ^ (t >>> 8);
    return s[3];
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.nextU32() / 2 ** 32) * n);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A multiplier < 2^28 coprime with n, so rank → (rank × mul) mod n is a permutation of [0, n). */
export function scatterMultiplier(seed: number, n: number): number {
  let m = ((seed * 2654435761) % 2 ** 27) + 2 ** 27 + 1;
  while (gcd(m, n) !== 1) m += 2;
  return m;
}

/** The 4 KiB-style block memstress XORs into every page, derived from the seed (as stress.c's random block). */
export function memstressBlock(seed: number, pageWords: number): Uint32Array {
  const rnd = new LocalRandom(seed ^ 0x5eed5eed);
  const block = new Uint32Array(pageWords);
  for (let w = 0; w < pageWords; w++) block[w] = rnd.nextU32() | 0x01010101;
  return block;
}

/** Why a header cannot be run, by the code the worker reports in the control block. */
export const LOAD_FAILURE: Readonly<Record<number, string>> = {
  1: 'guest memory holds no synthetic guest header (magic missing)',
  2: 'guest memory has a different synthetic layout version',
  3: 'guest header describes a different page size or page count than this guest has',
  4: 'guest header checksum does not match its contents',
  5: 'guest header names an unknown workload',
};

/** 0 when the header can be run, else a LOAD_FAILURE key. */
export function headerProblem(v: MemoryViews): number {
  const w = v.words;
  if (w[H.MAGIC] !== HEADER_MAGIC) return 1;
  if (w[H.VERSION] !== LAYOUT_VERSION) return 2;
  if (w[H.PAGE_SIZE] !== v.pageSize || w[H.PAGE_COUNT] !== v.pageCount || w[H.FIRST_DATA] !== v.firstData) return 3;
  if (v.headerChecksum() !== w[H.CHECK]) return 4;
  if (workloadFromId(w[H.WORKLOAD]) === undefined) return 5;
  return 0;
}

/** Runs a workload over memory that holds a valid header. */
export class WorkloadRunner {
  readonly #v: MemoryViews;
  readonly #dirty: Int32Array;
  #workload: SyntheticWorkload = 'none';
  #trailer = false;
  #nData = 0;
  #zipfCdf: Float64Array | null = null;
  #zipfKey = '';
  #block: Uint32Array | null = null;

  constructor(views: MemoryViews, dirty: Int32Array) {
    this.#v = views;
    this.#dirty = dirty;
  }

  get workload(): SyntheticWorkload {
    return this.#workload;
  }

  /** Reads the parameters from the header; returns 0, or why it cannot run (a LOAD_FAILURE key). */
  load(): number {
    const failure = headerProblem(this.#v);
    if (failure !== 0) return failure;
    const w = this.#v.words;
    const workload = workloadFromId(w[H.WORKLOAD])!;
    this.#workload = workload;
    this.#trailer = usesTrailer(workload);
    this.#nData = this.#v.pageCount - this.#v.firstData;
    if (workload === 'zipf') {
      const key = `${this.#nData}:${w[H.ZIPF_S_MILLI]}`;
      if (key !== this.#zipfKey) {
        this.#zipfCdf = zipfCdf(this.#nData, w[H.ZIPF_S_MILLI] / 1000);
        this.#zipfKey = key;
      }
    }
    if (workload === 'memstress') this.#block ??= memstressBlock(w[H.SEED], this.#v.pageWords);
    return 0;
  }

  /** Next u32 of the xorshift128 generator whose state lives in the header. */
  #next(): number {
    const w = this.#v.words;
    const t = w[H.PRNG] ^ (w[H.PRNG] << 11);
    w[H.PRNG] = w[H.PRNG + 1];
    w[H.PRNG + 1] = w[H.PRNG + 2];
    w[H.PRNG + 2] = w[H.PRNG + 3];
    w[H.PRNG + 3] = w[H.PRNG + 3] ^ (w[H.PRNG + 3] >>> 19) ^ t ^ (t >>> 8);
    return w[H.PRNG + 3];
  }

  #below(n: number): number {
    return Math.floor((this.#next() / 2 ** 32) * n);
  }

  #scatter(rank: number): number {
    return this.#v.firstData + ((rank * this.#v.words[H.SCATTER_MUL]) % this.#nData);
  }

  /** Writes one page. */
  step(): void {
    const v = this.#v;
    const w = v.words;
    let p: number;
    switch (this.#workload) {
      case 'none':
        return;
      case 'idle':
        p = v.firstData + this.#below(this.#nData);
        this.#smallUpdate(p);
        break;
      case 'hotset':
        p = this.#scatter(this.#below(w[H.HOT_COUNT]));
        this.#smallUpdate(p);
        break;
      case 'zipf':
        p = this.#scatter(sampleCdf(this.#zipfCdf!, this.#next() / 2 ** 32));
        this.#smallUpdate(p);
        break;
      case 'memstress': {
        p = v.firstData + w[H.CURSOR];
        const block = this.#block!;
        const base = p * v.pageWords;
        const n = v.pageWords - TRAILER_BYTES / 4;
        // Rotate the block by the pass so a page never returns to an earlier content.
        const shift = w[H.PASS] % v.pageWords;
        for (let k = 0; k < n; k++) {
          const b = k + shift;
          w[base + k] ^= block[b < v.pageWords ? b : b - v.pageWords];
        }
        this.#advanceCursor();
        break;
      }
      case 'qemu-test':
        p = v.firstData + w[H.CURSOR];
        v.bytes[p * v.pageSize] = (v.bytes[p * v.pageSize] + 1) & 0xff;
        this.#advanceCursor();
        break;
    }
    this.#commit(p);
  }

  #advanceCursor(): void {
    const w = this.#v.words;
    const next = w[H.CURSOR] + 1;
    if (next >= this.#nData) {
      w[H.CURSOR] = 0;
      w[H.PASS] += 1;
    } else {
      w[H.CURSOR] = next;
    }
  }

  /** A few words of a page change, as a counter and a pointer in a live data structure. */
  #smallUpdate(p: number): void {
    const v = this.#v;
    const base = p * v.pageWords;
    v.words[base] += 1;
    const pair = 1 + this.#below(v.pageWords / 2 - 2);
    // A heap pointer: the high bytes are shared, only the low ones move.
    v.words[base + 2 * pair] = (0x55a00000 | (this.#next() & 0x000ffff8)) >>> 0;
    v.words[base + 2 * pair + 1] = 0x00007f3a;
  }

  /**
   * Records the write of page `p` in the page table and the header, then marks dirty every page the
   * step wrote. The order matters: see `markDirty`.
   */
  #commit(p: number): void {
    const v = this.#v;
    const gen = (v.generation(p) + 1) >>> 0;
    if (this.#trailer) {
      const end = (p + 1) * v.pageWords;
      v.words[end - 2] = p;
      v.words[end - 1] = gen;
    }
    v.setEntry(p, gen, pageChecksum(v.page(p), p));
    v.addWrite();
    v.sealHeader();
    this.#markDirty(p);
    this.#markDirty(tablePageOf(p, v.pageSize));
    this.#markDirty(0);
  }

  /**
   * Sets page `i`'s dirty bit. It is called only AFTER the page's bytes are written. The migration
   * side reads-and-clears each bitmap word with Atomics.exchange and copies the pages it found. If
   * its exchange runs before this Atomics.or, the bit is set afterwards and the page is reported by
   * the next sync, which copies the new bytes. If the exchange runs after, it sees the bit, and
   * because Atomics operations are sequentially consistent the plain stores that precede the or in
   * this thread are visible to the copier that follows the exchange. Either way the final bytes are
   * sent at least once after being written. Setting the bit first would let the copier clear it and
   * copy the page before the store lands: that update would never be reported again (lost).
   */
  #markDirty(i: number): void {
    Atomics.or(this.#dirty, i >>> 5, 1 << (i & 31));
  }
}

/** Normalised cumulative Zipf(s) weights of ranks 0..n-1 (rank r has weight 1/(r+1)^s). */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, s);
    cdf[r] = sum;
  }
  for (let r = 0; r < n; r++) cdf[r] /= sum;
  return cdf;
}

/** Smallest rank whose cumulative weight exceeds u ∈ [0, 1). */
export function sampleCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
