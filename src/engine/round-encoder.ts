import type { Guest, PageHashTable } from '../guest/index.js';
import type { PageCache } from '../cache/index.js';
import { copyBytes, type CodecOptions } from '../codec/index.js';
import { PageBatchBuilder } from '../wire/index.js';
import { PageEncoder, type EncodeCounters, type MigrationCodec } from './page-encoder.js';
import { FramePool } from './frame-pool.js';
import { PageRecordWriter, blockSettingsOf } from './page-record-writer.js';
import type { PlanOrder, PlanSamples } from './codec-plan.js';

/** Hands one finished PAGES frame to the transport; `onSent` gives its buffer back for reuse. */
export type EmitFrame = (frame: Uint8Array, onSent: () => void) => Promise<void>;

export interface RoundResult {
  /** Pages sent: one per page record, each member of a block record (unchanged pages are not sent). */
  records: number;
  /** Codec payload bytes of those records. */
  payloadBytes: number;
}

/**
 * Turns a round's dirty pages into PAGES frames. The engine injects it: the inline one runs on the
 * calling thread; a pool of worker threads may implement the same contract.
 */
export interface RoundEncoder {
  /** Cumulative counters over every round so far. */
  readonly counters: EncodeCounters;
  /** Whether a page cache (delta codec) is in use. */
  readonly usesCache: boolean;
  /**
   * Encodes `pages` (ascending indexes) of `round`, records each sent page's hash in `table`, and
   * emits the frames in order, awaiting each (backpressure). `progress` hears pages done so far.
   */
  encodeRound(
    round: number,
    pages: Uint32Array,
    header: { flags: number; nextSeq: () => number },
    emit: EmitFrame,
    progress?: (pagesDone: number) => void,
  ): Promise<RoundResult>;
  close(): Promise<void>;
  /** adaptive only: the codec plan for the pages that follow; may be called between frames of a round. */
  setPlan?(order: PlanOrder): void;
  /** adaptive only: what the encoders learned about the plans since the last call. */
  takeSamples?(): PlanSamples | undefined;
}

export interface RoundEncoderOptions {
  guest: Guest;
  codec: MigrationCodec;
  cache: PageCache | null;
  table: PageHashTable;
  /** Target size of a PAGES frame, in bytes. */
  batchBytes: number;
  /** Codec parameters (the zstd level) for the PageEncoder. @default {} */
  codecOptions?: CodecOptions;
  /**
   * Multi-page blocks: consecutive pages within this many indexes go out compressed together
   * (lz4 and zstd codec families only; 1 = page by page, at most 64). @default DEFAULT_BLOCK_PAGES
   */
  blockPages?: number;
}

/** Encodes on the calling thread, one page after another. */
export class InlineRoundEncoder implements RoundEncoder {
  readonly #guest: Guest;
  readonly #encoder: PageEncoder;
  readonly #table: PageHashTable;
  readonly #pool: FramePool;
  readonly #builder: PageBatchBuilder;
  readonly #cur: Uint8Array;
  readonly #writer: PageRecordWriter;

  constructor(o: RoundEncoderOptions) {
    this.#guest = o.guest;
    this.#encoder = new PageEncoder(o.codec, o.cache, o.guest.pageSize, o.guest.pageCount, o.codecOptions);
    this.#table = o.table;
    this.#pool = new FramePool(o.batchBytes);
    this.#builder = new PageBatchBuilder(o.batchBytes, this.#pool.allocate);
    this.#cur = new Uint8Array(o.guest.pageSize);
    const table = o.table;
    const pageSize = o.guest.pageSize;
    this.#writer = new PageRecordWriter(this.#encoder, this.#builder, pageSize, blockSettingsOf(o.codec, o.blockPages, o.codecOptions),
      (index, bytes) => (bytes === null ? table.setZero(index, pageSize) : table.set(index, bytes)));
  }

  get counters(): EncodeCounters {
    return this.#encoder.counters;
  }

  get usesCache(): boolean {
    return this.#encoder.usesCache;
  }

  async encodeRound(round: number, pages: Uint32Array, header: { flags: number; nextSeq: () => number }, emit: EmitFrame, progress?: (pagesDone: number) => void): Promise<RoundResult> {
    const guest = this.#guest;
    const encoder = this.#encoder;
    const builder = this.#builder;
    const writer = this.#writer;
    const pool = this.#pool;
    // Pages sent (a block counts its members), which ROUND_END announces.
    let records = 0;
    let payloadBytes = 0;
    const flush = async () => {
      if (builder.count === 0) return;
      records += writer.takeBatchPages();
      payloadBytes += builder.payloadBytes;
      const frame = builder.finish({ round, seq: header.nextSeq(), flags: header.flags });
      await emit(frame, () => pool.release(frame));
    };
    // A cached version must be exactly what was sent, so delta codecs work on a stable copy. The
    // others read the live page: a write racing the encoder marks the page dirty again, so it is
    // resent (and rehashed) in a later round, and the stop-and-copy round reads a paused guest.
    const stable = encoder.usesCache;
    for (let k = 0; k < pages.length; k++) {
      const index = pages[k];
      let page = guest.page(index);
      if (stable) page = (copyBytes(page, this.#cur), this.#cur);
      const wait = writer.page(index, index, page, round, flush);
      if (wait) await wait;
      if (progress && ((k + 1) & 4095) === 0) progress(k + 1);
    }
    await writer.end(flush);
    await flush();
    return { records, payloadBytes };
  }

  async close(): Promise<void> {}

  setPlan(order: PlanOrder): void {
    this.#encoder.setPlan(order);
  }

  takeSamples(): PlanSamples | undefined {
    return this.#encoder.takeSamples();
  }
}
