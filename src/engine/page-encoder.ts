import { LivemigError } from '../core/index.js';
import type { PageCache } from '../cache/index.js';
// Multi-page blocks (classify below) stage XOR deltas for the block writer.
import { xorBytes } from '../codec/block.js';
import { CODEC_IDS, getCodec, type CodecOptions, type PageCodec } from '../codec/index.js';
import { PlanSampler, encodeWithPlan, type PlanOrder, type PlanSamples } from './codec-plan.js';

/** The codec choices of a migration (`--codec`). */
export type MigrationCodec = 'none' | 'lz4' | 'xbzrle' | 'lz4-delta' | 'adaptive' | 'zstd' | 'zstd-delta';
export const MIGRATION_CODECS: readonly MigrationCodec[] = ['none', 'lz4', 'xbzrle', 'lz4-delta', 'adaptive', 'zstd', 'zstd-delta'];

/** Codec ids a migration with `codec` may put on the wire (for the handshake's codec list). */
export function wireCodecsOf(codec: MigrationCodec): string[] {
  const base = ['zero', 'raw', 'lz4', 'xbzrle', 'lz4-delta'];
  // adaptive's plans include the zstd family (dropped if the destination lacks it; see source.ts).
  return codec === 'zstd' || codec === 'zstd-delta' || codec === 'adaptive' ? [...base, 'zstd', 'zstd-delta'] : base;
}

/** How one page went out. */
export type PageOutcome = 'zero' | 'full' | 'delta' | 'unchanged';

/** Counters of one round (or of a whole migration). */
export interface EncodeCounters {
  zeroPages: number;
  fullPages: number;
  fullPayloadBytes: number;
  deltaPages: number;
  deltaPayloadBytes: number;
  unchangedPages: number;
  /** Cache hits whose delta did not pay and went out as a full page (QEMU's xbzrle overflow). */
  overflowPages: number;
  cacheHits: number;
  cacheMisses: number;
  /** Time spent encoding, in ms. */
  encodeMs: number;
}

export function emptyCounters(): EncodeCounters {
  return { zeroPages: 0, fullPages: 0, fullPayloadBytes: 0, deltaPages: 0, deltaPayloadBytes: 0, unchangedPages: 0, overflowPages: 0, cacheHits: 0, cacheMisses: 0, encodeMs: 0 };
}

export function addCounters(into: EncodeCounters, from: EncodeCounters): void {
  for (const k of Object.keys(into) as Array<keyof EncodeCounters>) into[k] += from[k];
}

const ZERO_PAGE_CACHE = new Map<number, Buffer>();
function zeroPageOf(size: number): Buffer {
  let z = ZERO_PAGE_CACHE.get(size);
  if (!z) ZERO_PAGE_CACHE.set(size, (z = Buffer.alloc(size)));
  return z;
}

/**
 * Chooses, per page, how it travels: zero pages by id alone; re-dirtied pages found in the cache as
 * a delta against the version sent before; everything else as a full page. Like QEMU's
 * save_xbzrle_page, a hit updates the cached copy to what was sent and an unchanged page is not
 * sent at all. Unlike QEMU, round 0 fills the cache too (QEMU starts caching only in round 1), so a
 * page re-dirtied in round 1 can already go as a delta; LRU lets hot pages displace cold ones.
 * With `adaptive`, the codecs come from the plan the chooser set (`setPlan`), which may change
 * between any two pages.
 */
export class PageEncoder {
  readonly codec: MigrationCodec;
  readonly #cache: PageCache | null;
  readonly #delta: PageCodec | null;
  readonly #full: PageCodec;
  readonly #raw: PageCodec;
  readonly #zero: Buffer;
  /** Pages whose last sent version was all zero: their delta base is the zero page, not a cache slot. */
  readonly #sentZero: Uint8Array;
  /** The round the cache was last synced for: each new round is one dirty sync (QEMU's age). */
  #syncedRound = 0;
  /** adaptive only: the plan in force and what the candidates cost (codec-plan.ts). */
  readonly #sampler: PlanSampler | null;
  /** adaptive only: the plan source for multi-page blocks (PageRecordWriter picks each block's codecs from it). */
  get sampler(): PlanSampler | null {
    return this.#sampler;
  }
  readonly counters: EncodeCounters = emptyCounters();

  /** `options` carries codec parameters (the zstd level; @default level 1). */
  constructor(codec: MigrationCodec, cache: PageCache | null, pageSize: number, pageCount: number, options: CodecOptions = {}) {
    this.codec = codec;
    this.#cache = codec === 'none' || codec === 'lz4' || codec === 'zstd' ? null : cache;
    this.#delta = codec === 'xbzrle' || codec === 'lz4-delta' || codec === 'zstd-delta' ? getCodec(codec, options) : null;
    // XBZRLE and no compression send full pages raw, as QEMU does; the LZ4 and zstd families compress them.
    this.#full = codec === 'none' || codec === 'xbzrle' ? getCodec('raw')
      : codec === 'zstd' || codec === 'zstd-delta' ? getCodec('zstd', options) : getCodec('lz4');
    this.#raw = getCodec('raw');
    this.#zero = zeroPageOf(pageSize);
    this.#sentZero = new Uint8Array(this.#cache ? pageCount : 0);
    this.#sampler = codec === 'adaptive' ? new PlanSampler(pageSize) : null;
  }

  /** adaptive only (ignored otherwise): the plan for the pages that follow, from the chooser. */
  setPlan(order: PlanOrder): void {
    this.#sampler?.setOrder(order);
  }

  /** adaptive only: what was learned since the last call (undefined for a fixed codec). */
  takeSamples(): PlanSamples | undefined {
    return this.#sampler?.take();
  }

  /** Whether a cache is in use (delta codecs only). */
  get usesCache(): boolean {
    return this.#cache !== null;
  }

  /**
   * Encodes `page` (a stable copy of page `index`) into `out`. Returns the codec id and length to
   * send, or null when the page is unchanged since it was last sent and nothing needs to go out.
   */
  encode(index: number, page: Uint8Array, round: number, out: Uint8Array): { codecId: number; length: number; outcome: PageOutcome } | null {
    const c = this.counters;
    const cache = this.#cache;
    this.#sampler?.handled();
    const old = this.#previous(index, page, round);
    if (old === 'zero') return { codecId: CODEC_IDS.zero, length: 0, outcome: 'zero' };
    if (this.#sampler) return this.#encodeAdaptive(this.#sampler, index, old, page, out);
    if (old) {
      const r = this.#encodeDelta(old, page, out);
      if (r === 'unchanged') {
        c.unchangedPages++;
        return null;
      }
      cache!.insert(index, page);
      if (r) {
        c.deltaPages++;
        c.deltaPayloadBytes += r.length;
        return { ...r, outcome: 'delta' };
      }
      c.overflowPages++;
    } else {
      cache?.insert(index, page);
    }
    const full = this.#encodeFull(page, out);
    c.fullPages++;
    c.fullPayloadBytes += full.length;
    return { ...full, outcome: 'full' };
  }

  /**
   * adaptive: the page goes out with the plan in force (a blend alternates two), timed for the
   * chooser; every so often the other plans encode it into scratch too (PlanSampler).
   */
  #encodeAdaptive(sampler: PlanSampler, index: number, old: Uint8Array | null, page: Uint8Array, out: Uint8Array): { codecId: number; length: number; outcome: PageOutcome } | null {
    const c = this.counters;
    const plan = sampler.next();
    if (old) {
      // A plan without a delta codec still skips unchanged pages.
      if (plan.delta === null && Buffer.from(old.buffer, old.byteOffset, old.byteLength).equals(page)) {
        c.unchangedPages++;
        return null;
      }
      // Sampled before the insert below overwrites the cached version.
      sampler.offer('delta', page, old);
    } else {
      sampler.offer('full', page, null);
    }
    const t0 = performance.now();
    const r = encodeWithPlan(plan, old, page, out);
    const ms = performance.now() - t0;
    if (r.delta && r.length === 0) {
      c.unchangedPages++;
      return null;
    }
    sampler.own(plan.name, old ? 'delta' : 'full', r.length, ms);
    this.#cache?.insert(index, page);
    if (r.delta) {
      c.deltaPages++;
      c.deltaPayloadBytes += r.length;
      return { codecId: r.codec.id, length: r.length, outcome: 'delta' };
    }
    // A hit whose delta did not pay is an overflow; a plan without deltas sends hits in full by design.
    if (old && plan.delta !== null) c.overflowPages++;
    c.fullPages++;
    c.fullPayloadBytes += r.length;
    return { codecId: r.codec.id, length: r.length, outcome: 'full' };
  }

  // ---- Multi-page blocks (block-writer.ts): the choice of `encode` without the encoding. ----

  /**
   * Decides how page `index` travels, updates the cache and the page counters exactly as `encode`
   * would, and encodes nothing: the caller compresses the page together with its neighbours. For
   * 'delta' (a cache hit that changed) it writes `old ^ page` into `xorOut` first, since the cache
   * slot holding `old` is overwritten by the insert. Payload byte counters are the caller's to add.
   * 'full' is also what a cache miss gives. With `adaptive` the writer then takes each block's
   * codecs from `sampler`.
   */
  classify(index: number, page: Uint8Array, round: number, xorOut: Uint8Array): PageOutcome {
    const c = this.counters;
    const cache = this.#cache;
    this.#sampler?.handled();
    const old = this.#previous(index, page, round);
    if (old === 'zero') return 'zero';
    if (old) {
      if (Buffer.from(old.buffer, old.byteOffset, old.byteLength).equals(page)) {
        c.unchangedPages++;
        return 'unchanged';
      }
      xorBytes(xorOut, old, page);
      cache!.insert(index, page);
      c.deltaPages++;
      return 'delta';
    }
    cache?.insert(index, page);
    c.fullPages++;
    return 'full';
  }

  /**
   * The first steps of every page, shared by `encode` and `classify`: syncs the cache at a new round,
   * counts a zero page (and remembers it as a delta base), else looks up the version sent before and
   * counts the hit or miss. Returns 'zero', that version, or null.
   */
  #previous(index: number, page: Uint8Array, round: number): Uint8Array | 'zero' | null {
    const c = this.counters;
    const cache = this.#cache;
    if (cache && round !== this.#syncedRound) {
      this.#syncedRound = round;
      cache.sync();
    }
    if (this.#zero.equals(page)) {
      c.zeroPages++;
      // Zero pages take no cache slot: a flag remembers them as a delta base.
      if (cache) this.#sentZero[index] = 1;
      return 'zero';
    }
    let old: Uint8Array | null = null;
    if (cache && this.#sentZero[index]) {
      old = this.#zero;
      this.#sentZero[index] = 0;
    } else if (cache && round > 0) {
      old = cache.lookup(index);
    }
    // Round 0 sends each page once: nothing to look up, but it seeds the cache.
    if (cache && round > 0) {
      if (old) c.cacheHits++;
      else c.cacheMisses++;
    }
    return old;
  }

  #encodeDelta(old: Uint8Array, page: Uint8Array, out: Uint8Array): { codecId: number; length: number } | 'unchanged' | null {
    const n = this.#delta!.encode(old, page, out);
    if (n === 0) return 'unchanged';
    return n === null ? null : { codecId: this.#delta!.id, length: n };
  }

  #encodeFull(page: Uint8Array, out: Uint8Array): { codecId: number; length: number } {
    const n = this.#full.encode(null, page, out);
    if (n !== null) return { codecId: this.#full.id, length: n };
    const r = this.#raw.encode(null, page, out);
    if (r === null) throw new LivemigError('LIVEMIG_E_INTERNAL', `raw codec refused a page: output buffer of ${out.length} bytes is too small`);
    return { codecId: this.#raw.id, length: r };
  }
}
