import { LivemigError } from '../core/index.js';
import type { PageCache } from '../cache/index.js';
import { CODEC_IDS, getCodec, encodeBest, type CodecOptions, type PageCodec } from '../codec/index.js';

/** The codec choices of a migration (`--codec`). */
export type MigrationCodec = 'none' | 'lz4' | 'xbzrle' | 'lz4-delta' | 'adaptive' | 'zstd' | 'zstd-delta';
export const MIGRATION_CODECS: readonly MigrationCodec[] = ['none', 'lz4', 'xbzrle', 'lz4-delta', 'adaptive', 'zstd', 'zstd-delta'];

/** Codec ids a migration with `codec` may put on the wire (for the handshake's codec list). */
export function wireCodecsOf(codec: MigrationCodec): string[] {
  const base = ['zero', 'raw', 'lz4', 'xbzrle', 'lz4-delta'];
  return codec === 'zstd' || codec === 'zstd-delta' ? [...base, 'zstd', 'zstd-delta'] : base;
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
 */
export class PageEncoder {
  readonly codec: MigrationCodec;
  readonly #cache: PageCache | null;
  readonly #delta: PageCodec | null;
  readonly #full: PageCodec;
  readonly #raw: PageCodec;
  readonly #zero: Buffer;
  readonly #scratch: Uint8Array;
  /** Pages whose last sent version was all zero: their delta base is the zero page, not a cache slot. */
  readonly #sentZero: Uint8Array;
  /** The round the cache was last synced for: each new round is one dirty sync (QEMU's age). */
  #syncedRound = 0;
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
    this.#scratch = new Uint8Array(pageSize * 2);
    this.#sentZero = new Uint8Array(this.#cache ? pageCount : 0);
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
    if (cache && round !== this.#syncedRound) {
      this.#syncedRound = round;
      cache.sync();
    }
    if (this.#zero.equals(page)) {
      c.zeroPages++;
      // Zero pages take no cache slot: a flag remembers them as a delta base.
      if (cache) this.#sentZero[index] = 1;
      return { codecId: CODEC_IDS.zero, length: 0, outcome: 'zero' };
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

  #encodeDelta(old: Uint8Array, page: Uint8Array, out: Uint8Array): { codecId: number; length: number } | 'unchanged' | null {
    if (this.codec === 'adaptive') {
      if (Buffer.from(old.buffer, old.byteOffset, old.byteLength).equals(page)) return 'unchanged';
      const choice = encodeBest(old, page, out, this.#scratch);
      // Only a delta counts as a delta; a full-page winner is treated as an overflow.
      return choice.codec.delta ? { codecId: choice.codec.id, length: choice.length } : null;
    }
    const n = this.#delta!.encode(old, page, out);
    if (n === 0) return 'unchanged';
    return n === null ? null : { codecId: this.#delta!.id, length: n };
  }

  #encodeFull(page: Uint8Array, out: Uint8Array): { codecId: number; length: number } {
    if (this.codec === 'adaptive') {
      const choice = encodeBest(null, page, out, this.#scratch);
      return { codecId: choice.codec.id, length: choice.length };
    }
    const n = this.#full.encode(null, page, out);
    if (n !== null) return { codecId: this.#full.id, length: n };
    const r = this.#raw.encode(null, page, out);
    if (r === null) throw new LivemigError('LIVEMIG_E_INTERNAL', `raw codec refused a page: output buffer of ${out.length} bytes is too small`);
    return { codecId: this.#raw.id, length: r };
  }
}
