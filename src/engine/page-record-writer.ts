/**
 * Turns one round's pages into the records of PAGES batches, page by page or grouped into
 * multi-page blocks (`--block-pages`, wire format in src/codec/block.ts). Shared by the inline
 * encoder and the encode workers, so both produce the same records.
 *
 * With blocks, each page is classified by the PageEncoder (zero / unchanged / full / delta; cache
 * and page counters as without blocks) and:
 *
 *     zero       → a zero record at once (as without blocks)
 *     unchanged  → nothing
 *     full       → copied into the full-page stage      ┐ a stage is compressed into one block record
 *     delta      → old^new into the delta stage          ┘ when the next page lies N or more past its
 *                                                           first page, and at the end of the round
 *
 * A block is written whole into one batch (never across frames or rounds). A block that does not
 * compress, or could not fit even an empty frame, goes out as raw page records instead (for a delta
 * stage these count as overflow pages, as a delta that does not pay does without blocks).
 * `adaptive` takes each block's codecs from the plan in force when the block is closed.
 */

import {
  CODEC_IDS, MAX_BLOCK_PAGES, blockCodecNames, blockCodecOf, blockFamilyOf, checkBlockPages, copyBytes, memberCodecsOf, type BlockCodec, type BlockCodecName, type CodecOptions,
} from '../codec/index.js';
import { MIN_BATCH_FRAME_BYTES, type PageBatchBuilder } from '../wire/index.js';
import type { MigrationCodec, PageEncoder } from './page-encoder.js';

/**
 * `--block-pages` default. Measured (bench/blocks.ts, 512 MiB synthetic guests): blocks of 64 cut
 * wire bytes in every cell (hotset -8..-18 %, idle -12..-15 %, memstress -37..-82 %) and encode
 * round 0 faster (lz4 650 vs 770-1070 ms, zstd 1020 vs 1600 ms per 256 MiB).
 */
export const DEFAULT_BLOCK_PAGES = 64;

/** How a migration groups pages into blocks; null when it sends page by page. */
export interface BlockSettings {
  /** A block spans at most this many consecutive page indexes (2..64). */
  pages: number;
  /** Codec of blocks of full pages. */
  full: BlockCodec;
  /** Codec of blocks of XOR deltas (delta codecs only). */
  delta: BlockCodec | null;
  /**
   * adaptive: each block takes its codecs from the plan in force when it is closed (the encoder's
   * PlanSampler; `raw` sends its members one by one, uncompressed). `full` and `delta` are unused.
   */
  byPlan?: boolean;
}

/**
 * The block settings of a migration with `codec` and `blockPages` (1 = off, @default
 * DEFAULT_BLOCK_PAGES), or null when it sends page by page (also for codecs without a block family).
 */
export function blockSettingsOf(codec: MigrationCodec, blockPages: number = DEFAULT_BLOCK_PAGES, options: CodecOptions = {}): BlockSettings | null {
  const family = blockFamilyOf(codec);
  if (checkBlockPages(blockPages) === 1) return null;
  if (codec === 'adaptive') return { pages: blockPages, full: blockCodecOf('lz4', false), delta: blockCodecOf('lz4', true), byPlan: true };
  if (family === null) return null;
  const deltas = codec === 'lz4-delta' || codec === 'zstd-delta';
  return { pages: blockPages, full: blockCodecOf(family, false, options), delta: deltas ? blockCodecOf(family, true, options) : null };
}

/** Block codecs a migration may send, for the handshake's codec list (empty when blocks are off). */
export function blockWireCodecs(codec: MigrationCodec, blockPages: number = DEFAULT_BLOCK_PAGES): BlockCodecName[] {
  const s = blockSettingsOf(codec, blockPages);
  if (s === null) return [];
  if (s.byPlan) return blockCodecNames();
  return s.delta ? [s.full.name, s.delta.name] : [s.full.name];
}

/** Records a sent page's hash: `bytes` is exactly what the destination will hold, null for a zero page. */
export type SentPage = (index: number, bytes: Uint8Array | null) => void;

/** Finishes the current batch and emits it (the writer calls it when a record does not fit). */
export type FlushBatch = () => Promise<void>;

/** Pages waiting to be compressed together. */
class Stage {
  first = 0;
  count = 0;
  maskLo = 0;
  maskHi = 0;
  readonly indexes = new Uint32Array(MAX_BLOCK_PAGES);
  /** What is compressed: page bytes (full stage) or XORs (delta stage), member k at k * pageSize. */
  readonly bytes: Uint8Array;
  /** Delta stage only: the new pages, sent raw when the block does not pay. */
  readonly pages: Uint8Array | null;

  constructor(pageSize: number, keepPages: boolean) {
    this.bytes = new Uint8Array(MAX_BLOCK_PAGES * pageSize);
    this.pages = keepPages ? new Uint8Array(MAX_BLOCK_PAGES * pageSize) : null;
  }

  add(index: number): number {
    if (this.count === 0) this.first = index;
    const bit = index - this.first;
    if (bit < 32) this.maskLo |= 1 << bit;
    else this.maskHi |= 1 << (bit - 32);
    this.indexes[this.count] = index;
    return this.count++;
  }

  reset(): void {
    this.count = 0;
    this.maskLo = 0;
    this.maskHi = 0;
  }
}

/**
 * Writes the records of a round into `builder` through `encoder`, page by page (`blocks` null) or in
 * blocks. Call `page` for each page of the round in ascending index order, then `end`.
 */
export class PageRecordWriter {
  readonly #encoder: PageEncoder;
  readonly #builder: PageBatchBuilder;
  readonly #pageSize: number;
  readonly #blocks: BlockSettings | null;
  readonly #sent: SentPage;
  readonly #full: Stage | null;
  readonly #delta: Stage | null;
  /** Where a block is compressed before it is copied into a batch (the mask, then the stream). */
  readonly #out: Uint8Array;
  #batchPages = 0;

  constructor(encoder: PageEncoder, builder: PageBatchBuilder, pageSize: number, blocks: BlockSettings | null, sent: SentPage) {
    this.#encoder = encoder;
    this.#builder = builder;
    this.#pageSize = pageSize;
    this.#blocks = blocks;
    this.#sent = sent;
    this.#full = blocks ? new Stage(pageSize, false) : null;
    this.#delta = blocks?.delta ? new Stage(pageSize, true) : null;
    // Never more than an empty batch holds, so a block that compresses always fits a fresh frame.
    this.#out = new Uint8Array(blocks ? Math.max(0, Math.min(MAX_BLOCK_PAGES * pageSize, builder.maxFrameBytes - MIN_BATCH_FRAME_BYTES)) : 0);
  }

  /** Pages in the records of the current batch (a block counts its members); resets the count. */
  takeBatchPages(): number {
    const n = this.#batchPages;
    this.#batchPages = 0;
    return n;
  }

  /**
   * Handles page `index` (`localIndex` is its index in the encoder's cache space). `page` must stay
   * unchanged until this returns (a stable copy for delta codecs, which the encoder caches). Returns
   * a promise only when a batch had to be emitted first (or a block was closed): await it then.
   */
  page(index: number, localIndex: number, page: Uint8Array, round: number, flush: FlushBatch): Promise<void> | undefined {
    if (this.#blocks === null) {
      // Synchronous unless the batch is full: an await per page would cost more than a zero page.
      const out = this.#builder.reserve(this.#pageSize);
      if (out) return this.#encodeInto(out, index, localIndex, page, round);
      return flush().then(() => this.#encodeInto(this.#builder.reserve(this.#pageSize)!, index, localIndex, page, round));
    }
    const n = this.#blocks.pages;
    const full = this.#full!;
    const delta = this.#delta;
    if ((full.count > 0 && index - full.first >= n) || (delta !== null && delta.count > 0 && index - delta.first >= n)) {
      return this.#closePassed(index, flush).then(() => this.#stage(index, localIndex, page, round, flush));
    }
    return this.#stage(index, localIndex, page, round, flush);
  }

  /** Sends what is still staged; call once after the round's last page, before the last flush. */
  async end(flush: FlushBatch): Promise<void> {
    if (this.#blocks === null) return;
    if (this.#full!.count > 0) await this.#flushStage(this.#full!, false, flush);
    if (this.#delta && this.#delta.count > 0) await this.#flushStage(this.#delta, true, flush);
  }

  /** Without blocks: one record per page, exactly as before blocks existed. */
  #encodeInto(out: Uint8Array, index: number, localIndex: number, page: Uint8Array, round: number): undefined {
    const encoder = this.#encoder;
    const e0 = performance.now();
    const enc = encoder.encode(localIndex, page, round, out);
    encoder.counters.encodeMs += performance.now() - e0;
    if (enc !== null) {
      this.#builder.commit(index, enc.codecId, enc.length);
      this.#batchPages++;
      this.#sent(index, enc.outcome === 'zero' ? null : page);
    }
    return undefined;
  }

  /** Compresses the stages that page `index` has moved N or more pages past. */
  async #closePassed(index: number, flush: FlushBatch): Promise<void> {
    const n = this.#blocks!.pages;
    const full = this.#full!;
    const delta = this.#delta;
    if (full.count > 0 && index - full.first >= n) await this.#flushStage(full, false, flush);
    if (delta !== null && delta.count > 0 && index - delta.first >= n) await this.#flushStage(delta, true, flush);
  }

  /** With blocks: a zero record now, or the page (or its XOR) into a stage. */
  #stage(index: number, localIndex: number, page: Uint8Array, round: number, flush: FlushBatch): Promise<void> | undefined {
    const P = this.#pageSize;
    const full = this.#full!;
    const delta = this.#delta;
    const counters = this.#encoder.counters;
    const e0 = performance.now();
    const slot = delta ? delta.count * P : 0;
    // Without a delta stage the encoder has no cache and never writes xorOut.
    const outcome = this.#encoder.classify(localIndex, page, round, delta ? delta.bytes.subarray(slot, slot + P) : page);
    if (outcome === 'full' || outcome === 'delta') {
      const stage = outcome === 'full' ? full : delta!;
      const k = stage.add(index);
      const copy = (stage.pages ?? stage.bytes).subarray(k * P, (k + 1) * P);
      copyBytes(page, copy);
      counters.encodeMs += performance.now() - e0;
      // The copy is what goes out (in the block, or alone if the block does not pay).
      this.#sent(index, copy);
      return undefined;
    }
    counters.encodeMs += performance.now() - e0;
    if (outcome === 'unchanged') return undefined;
    const zero = (): undefined => {
      this.#builder.commit(index, CODEC_IDS.zero, 0);
      this.#batchPages++;
      this.#sent(index, null);
      return undefined;
    };
    if (this.#builder.reserve(0)) return zero();
    return flush().then(() => (this.#builder.reserve(0), zero()));
  }

  /**
   * Compresses a stage into one block record, or sends its members one by one (a lone page, or a
   * block that does not pay). adaptive takes the block codecs of the plan in force (a blend
   * alternates plans block by block; `raw` has none), times the stage for the chooser, and now and
   * then has the other plans compress it into scratch (PlanSampler.offerBlock).
   */
  async #flushStage(stage: Stage, isDelta: boolean, flush: FlushBatch): Promise<void> {
    const sampler = this.#blocks!.byPlan ? this.#encoder.sampler : null;
    const plan = sampler?.next() ?? null;
    const cls = isDelta ? 'delta' : 'full';
    const codec = plan ? plan.blocks?.[cls] ?? null : isDelta ? this.#blocks!.delta! : this.#blocks!.full;
    const P = this.#pageSize;
    const c = this.#encoder.counters;
    const count = stage.count;
    const data = stage.bytes.subarray(0, count * P);
    const payload0 = c.fullPayloadBytes + c.deltaPayloadBytes;
    const ms0 = c.encodeMs;
    const e0 = performance.now();
    const n = codec !== null && count > 1 ? codec.encode(stage.maskLo, stage.maskHi, data, this.#out) : null;
    c.encodeMs += performance.now() - e0;
    if (n !== null) await this.#commitBlock(stage, codec!, n, flush);
    else {
      // Page records, as without blocks; each adds its own encode time (not the waits for a batch).
      for (let k = 0; k < count; k++) await (codec === null ? this.#sendRaw(stage, k, isDelta, flush) : this.#sendAlone(stage, k, codec, flush));
    }
    if (sampler && plan) {
      sampler.ownPages(plan.name, cls, count, c.fullPayloadBytes + c.deltaPayloadBytes - payload0, c.encodeMs - ms0);
      sampler.offerBlock(cls, stage.maskLo, stage.maskHi, data);
    }
    stage.reset();
  }

  /** Copies a compressed block (`n` bytes in #out) into the batch as one record. */
  async #commitBlock(stage: Stage, codec: BlockCodec, n: number, flush: FlushBatch): Promise<void> {
    const c = this.#encoder.counters;
    let out = this.#builder.reserve(n);
    if (!out) {
      await flush();
      out = this.#builder.reserve(n)!;
    }
    out.set(this.#out.subarray(0, n));
    this.#builder.commit(stage.first, codec.id, n);
    this.#batchPages += stage.count;
    if (codec.delta) c.deltaPayloadBytes += n;
    else c.fullPayloadBytes += n;
  }

  /** adaptive's `raw` plan: member `k`'s page uncompressed (a changed cache hit too: by design, not an overflow). */
  async #sendRaw(stage: Stage, k: number, isDelta: boolean, flush: FlushBatch): Promise<void> {
    const P = this.#pageSize;
    const c = this.#encoder.counters;
    let out = this.#builder.reserve(P);
    if (!out) {
      await flush();
      out = this.#builder.reserve(P)!;
    }
    const e0 = performance.now();
    out.set((isDelta ? stage.pages! : stage.bytes).subarray(k * P, (k + 1) * P));
    c.encodeMs += performance.now() - e0;
    if (isDelta) {
      c.deltaPages--;
      c.fullPages++;
    }
    c.fullPayloadBytes += P;
    this.#builder.commit(stage.indexes[k], CODEC_IDS.raw, P);
    this.#batchPages++;
  }

  /**
   * Member `k` of a stage as a page record of its own, as without blocks: a full page compressed
   * with the family's page codec (raw when that does not pay); a delta as the family's page delta
   * (the same stream over the XOR), or, when that does not pay either, as a full page (overflow).
   */
  async #sendAlone(stage: Stage, k: number, codec: BlockCodec, flush: FlushBatch): Promise<void> {
    const delta = codec.delta;
    const { page: single, deltaId: singleDeltaId } = memberCodecsOf(codec);
    const P = this.#pageSize;
    const c = this.#encoder.counters;
    const builder = this.#builder;
    let out = builder.reserve(P);
    if (!out) {
      await flush();
      out = builder.reserve(P)!;
    }
    const e0 = performance.now();
    const bytes = stage.bytes.subarray(k * P, (k + 1) * P);
    let id: number;
    let n = single.encode(null, bytes, out);
    if (delta && n !== null) {
      id = singleDeltaId;
      c.deltaPayloadBytes += n;
    } else {
      if (delta) {
        c.deltaPages--;
        c.fullPages++;
        c.overflowPages++;
        n = single.encode(null, stage.pages!.subarray(k * P, (k + 1) * P), out);
      }
      id = single.id;
      if (n === null) {
        out.set(delta ? stage.pages!.subarray(k * P, (k + 1) * P) : bytes);
        n = P;
        id = CODEC_IDS.raw;
      }
      c.fullPayloadBytes += n;
    }
    c.encodeMs += performance.now() - e0;
    builder.commit(stage.indexes[k], id, n);
    this.#batchPages++;
  }
}

