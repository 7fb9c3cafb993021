/**
 * Driver B's two halves around the wire, without any I/O:
 *
 *   source:       QemuStreamParser events → StreamSourceEncoder → PAGES frames (envelope.ts)
 *   destination:  PAGES frames → StreamDestinationDecoder → events → QemuStreamWriter → QEMU
 *
 * A RAM record becomes its page content (PageMirror), which goes through a livemig codec against
 * the livemig page cache (keyed by global page index); the destination keeps a mirror of that cache
 * (same policy, same lookups and inserts in the same order) and of the PageMirror, decodes the
 * content and rebuilds the original record from it. The source checks, before sending, that the
 * destination's rebuild will give the record's exact bytes; when it would not (an XBZRLE record
 * whose old page is unknown, or an encoder that does not match QEMU's), the record goes verbatim.
 * Frames must arrive in order (multipath `ordering: 'strict'`).
 */

import { createPageCache, type CachePolicy, type PageCache } from '../../cache/index.js';
import { BLOCK_CODEC_IDS, MAX_BLOCK_PAGES, blockCodecOf, blockFamilyOf, checkBlockPages, encodeBest, xorBytes, getCodecById, isZeroPage, rawCodec, zeroCodec, type PageCodec } from '../../codec/index.js';
import { LivemigError } from '../../core/errors.js';
import { FrameType, MIN_BATCH_FRAME_BYTES, PAGE_RECORD_HEADER_BYTES, PageBatchBuilder, forEachPageRecord, type Frame } from '../../wire/index.js';
import { RamFlag } from './constants.js';
import { OPAQUE_PIECE_BYTES, OPAQUE_RECORD_ID, VERBATIM_RECORD_ID, parseRecordHeader, parseVerbatimRecord } from './envelope.js';
import { BlockCompressors } from './block-compressors.js';
import type { DirectRam, DirectRamStats } from './direct-ram.js';
import { BlockStage, blockRebuiltBound, decodeBlockRecord, isBlockRecord, writeStagedBlock, type BlockSink, type StagedBlock } from './page-blocks.js';
import { PageMirror } from './page-mirror.js';
import type { RamBlockInfo, RamPageEvent, StreamEvent } from './types.js';
import { eventByteLength, ramRecordHeaderLength, writeRamRecord, writeRamRecordHeader } from './writer.js';

/** Options shared by both halves; both sides must use equal values. */
export interface StreamPipelineOptions {
  /** Codec for page contents (any registered codec; delta codecs fall back to raw without an old page). */
  codec: PageCodec;
  /** Page cache policy. @default '2way' */
  cachePolicy?: CachePolicy;
  /** Page cache capacity in bytes. @default 67108864 (64 MiB) */
  cacheBytes?: number;
  /** A page cache made beforehand (e.g. prefaulted while no migration waits); cachePolicy and cacheBytes are then unused. */
  cache?: PageCache;
  /**
   * PageMirror capacity in bytes. The mirror only serves XBZRLE records (QEMU's xbzrle capability):
   * 0 turns it off, and every XBZRLE record then travels verbatim. @default 268435456 (256 MiB)
   */
  mirrorBytes?: number;
  /**
   * Source only (the codec id travels with each page): codec for a page that has no old version in
   * the cache when `codec` is a delta codec. null sends such pages raw. @default null
   */
  firstPageCodec?: PageCodec | null;
  /** Target page size in bytes. @default 4096 */
  pageSize?: number;
  /** Largest frame, in bytes. @default 4194304 */
  maxFrameBytes?: number;
  /**
   * Source only (block records are recognised by their codec id): runs of consecutive PAGE records
   * spanning at most this many page indexes are compressed as one block (page-blocks.ts) when the
   * codec is lz4, zstd, lz4-delta or zstd-delta; 1 turns blocks off. For a delta codec, pages
   * without an old version join the block unless `firstPageCodec` is null. @default 64
   */
  blockPages?: number;
  /**
   * Source only: blocks compressing at once on libuv's thread pool while the caller goes on (0 = on
   * the caller's thread). Frames still leave in stream order; see `settled`, `pendingBytes`, `close`.
   * @default 0
   */
  compressThreads?: number;
  /**
   * Destination only: one RAM block's guest memory, mapped here; that block's pages are written
   * into it instead of the rebuilt stream (see direct-ram.ts). @default none
   */
  directRam?: DirectRam;
}

/** What the source encoder did, in counts and bytes. */
export interface SourceEncoderStats {
  opaqueBytes: number;
  /** RAM records sent as page content through the codec. */
  pages: number;
  /** Codec payload bytes of those pages. */
  pagePayloadBytes: number;
  /** RAM records sent as they were. */
  verbatim: number;
  verbatimBytes: number;
  frames: number;
  frameBytes: number;
  /** `adaptive` in blocks: blocks closed with zstd and with lz4 (setZstdShare sets the mix). */
  zstdBlocks: number;
  lz4Blocks: number;
  /** Blocks compressed on libuv's thread pool (`compressThreads` above 0) rather than in the caller's thread. */
  pooledBlocks: number;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** Source half: events in, PAGES frames out (to `onFrame`, in order). */
export class StreamSourceEncoder {
  readonly #codec: PageCodec;
  readonly #cache: PageCache;
  readonly #mirror: PageMirror;
  readonly #pageSize: number;
  readonly #builder: PageBatchBuilder;
  readonly #onFrame: (frame: Uint8Array) => void;
  readonly #firstPageCodec: PageCodec | null;
  readonly #rounds = new RoundTracker();
  #blocks: readonly RamBlockInfo[] = [];
  #seq = 0;
  readonly #scratch: Uint8Array;
  readonly #stage: BlockStage | null;
  readonly #sink: BlockSink = {
    reserve: (n) => this.#reserve(n),
    commit: (index, id, length) => this.#builder.commit(index, id, length),
  };
  readonly #stats: SourceEncoderStats = { opaqueBytes: 0, pages: 0, pagePayloadBytes: 0, verbatim: 0, verbatimBytes: 0, frames: 0, frameBytes: 0, zstdBlocks: 0, lz4Blocks: 0, pooledBlocks: 0 };
  readonly #maxFrameBytes: number;
  readonly #compressors: BlockCompressors | null;
  /** `adaptive` in blocks: each block takes zstd or lz4 (delta blocks), `#zstdShare` of them zstd. */
  readonly #adaptive: boolean;
  #zstdShare = 1;
  #blendAcc = 0;
  /** Frames not yet handed to onFrame, in stream order; null until its block is compressed. */
  readonly #out: Array<{ frame: Uint8Array | null }> = [];
  #pendingBytes = 0;
  readonly #pendingLimit: number;
  #failure: LivemigError | null = null;
  #settled: Array<{ resolve(): void; reject(err: LivemigError): void }> = [];

  /** `onFrame` gets the frames in stream order (from a later event-loop turn when the pool compresses). */
  constructor(options: StreamPipelineOptions, onFrame: (frame: Uint8Array) => void) {
    this.#codec = options.codec;
    this.#pageSize = options.pageSize ?? 4096;
    this.#cache = options.cache ?? createPageCache(options.cachePolicy ?? '2way', { capacityBytes: options.cacheBytes, pageSize: this.#pageSize });
    this.#mirror = new PageMirror({ pageSize: this.#pageSize, capacityBytes: options.mirrorBytes });
    this.#builder = new PageBatchBuilder(options.maxFrameBytes);
    this.#maxFrameBytes = this.#builder.maxFrameBytes;
    this.#scratch = new Uint8Array(this.#pageSize);
    this.#onFrame = onFrame;
    this.#firstPageCodec = options.firstPageCodec ?? null;
    this.#stage = blockStageFor(this.#codec, this.#pageSize, options.blockPages ?? MAX_BLOCK_PAGES);
    this.#adaptive = this.#stage !== null && this.#codec.name === 'adaptive';
    const threads = options.compressThreads ?? 0;
    this.#compressors = this.#stage !== null && threads > 0 ? new BlockCompressors(threads, this.#pageSize) : null;
    this.#pendingLimit = 4 * threads * MAX_BLOCK_PAGES * this.#pageSize;
  }

  /** Bytes of staged blocks still compressing on the pool. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Whether the pool holds enough to stay busy (four full blocks per thread): the caller may pause its input. */
  get saturated(): boolean {
    return this.#pendingBytes > this.#pendingLimit;
  }

  /** Resolves once every frame so far went to onFrame; rejects when a block's compression failed. */
  settled(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#out.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#settled.push({ resolve, reject }));
  }

  /** Stops the block compressors (call once the stream is done or abandoned). */
  async close(): Promise<void> {
    await this.#compressors?.close();
  }

  stats(): SourceEncoderStats {
    return { ...this.#stats };
  }

  /** Encodes one parser event. */
  write(event: StreamEvent): void {
    if (event.kind !== 'ram-page') this.#closeStage();
    switch (event.kind) {
      case 'opaque':
        for (let at = 0; at < event.bytes.length; at += OPAQUE_PIECE_BYTES) {
          this.#add(0, OPAQUE_RECORD_ID, event.bytes.subarray(at, Math.min(event.bytes.length, at + OPAQUE_PIECE_BYTES)));
        }
        this.#stats.opaqueBytes += event.bytes.length;
        return;
      case 'ram-blocks':
        if (event.pageSize !== this.#pageSize) {
          throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `the stream uses ${event.pageSize}-byte pages, the pipeline ${this.#pageSize}`, { phase: 'qemu-stream' });
        }
        this.#blocks = event.blocks;
        return;
      case 'passthrough':
        return;
      case 'ram-page':
        this.#page(event);
    }
  }

  #page(event: RamPageEvent): void {
    const block = this.#blocks[event.blockIndex];
    if (block === undefined) throw new LivemigError('LIVEMIG_E_INTERNAL', `ram-page of block ${event.blockIndex} before its block list`, { phase: 'qemu-stream' });
    const index = block.firstPage + event.offsetInBlock / this.#pageSize;
    this.#rounds.see(index, this.#cache);
    if (event.record === 'zero') {
      this.#closeStage();
      this.#zeroRecord(index, event);
      return;
    }
    const content = this.#mirror.resolve(event, index);
    // A page rebuilds from content by construction; XBZRLE only if our encoder gives QEMU's bytes.
    let rebuildable = content !== null;
    if (content !== null && event.record === 'xbzrle') {
      const again = this.#mirror.recordData('xbzrle', index, content);
      rebuildable = again !== null && bytesEqual(again, event.data);
    }
    if (!rebuildable) {
      this.#closeStage();
      const n = this.#verbatim(index, event);
      this.#mirror.set(index, content);
      this.#stats.verbatim++;
      this.#stats.verbatimBytes += n;
      return;
    }
    const page = content!;
    const old = this.#cache.lookup(index);
    const stage = this.#stage;
    if (stage !== null && event.record === 'page' && (old !== null || !stage.codec.delta || this.#firstPageCodec !== null)) {
      // Cache and mirror as for a page record: the destination does the same per member, in order.
      if (!stage.fits(index)) this.#closeStage();
      stage.add(index, event, page, old);
      this.#cache.insert(index, page);
      this.#mirror.set(index, page);
      this.#stats.pages++;
      return;
    }
    this.#closeStage();
    // The header goes straight into the batch: no per-record allocation.
    const headerLength = ramRecordHeaderLength(event);
    const out = this.#reserve(headerLength + this.#pageSize);
    writeRamRecordHeader(event, this.#pageSize, out);
    const body = out.subarray(headerLength);
    let codec = this.#codec;
    let length: number | null = null;
    if (codec.name === 'adaptive') {
      // The chosen codec's own id travels, so no inner id byte is spent.
      const choice = encodeBest(old, page, body, this.#scratch);
      codec = choice.codec;
      length = choice.length;
    } else if (!(codec.delta && old === null)) {
      length = codec.encode(old, page, body);
    } else if (this.#firstPageCodec !== null && event.record === 'page' && !isZeroPage(page)) {
      codec = this.#firstPageCodec;
      length = codec.encode(null, page, body);
    }
    if (length === null) {
      // A delta codec without an old page, or an encoding that does not pay.
      codec = isZeroPage(page) ? zeroCodec : rawCodec;
      length = codec.encode(null, page, body)!;
    }
    this.#builder.commit(index, codec.id, headerLength + length);
    this.#cache.insert(index, page);
    this.#mirror.set(index, page);
    this.#stats.pages++;
    this.#stats.pagePayloadBytes += length;
  }

  /**
   * A ZERO record goes as its header with the zero codec's empty payload. Neither side's cache takes
   * the zero page: it would only evict pages worth a delta, and both sides skip it alike. A fill
   * byte other than 0 (QEMU 7.2 would load one) goes verbatim.
   */
  #zeroRecord(index: number, event: RamPageEvent): void {
    if (event.data[0] !== 0) {
      this.#stats.verbatimBytes += this.#verbatim(index, event);
      this.#stats.verbatim++;
    } else {
      const n = ramRecordHeaderLength(event);
      writeRamRecordHeader(event, this.#pageSize, this.#reserve(n));
      this.#builder.commit(index, zeroCodec.id, n);
      this.#stats.pages++;
    }
    if (this.#mirror.enabled) this.#mirror.set(index, this.#mirror.resolve(event, index));
  }

  /** Adds `event`'s record as it was on the wire (written in place); returns its length. */
  #verbatim(index: number, event: RamPageEvent): number {
    const n = eventByteLength(event);
    const out = this.#reserve(n);
    writeRamRecord(event, this.#pageSize, out);
    this.#builder.commit(index, VERBATIM_RECORD_ID, n);
    return n;
  }

  #reserve(n: number): Uint8Array {
    let out = this.#builder.reserve(n);
    if (out === null) {
      this.#seal();
      out = this.#builder.reserve(n)!;
    }
    return out;
  }

  #add(pageIndex: number, id: number, payload: Uint8Array): void {
    if (!this.#builder.add(pageIndex, id, payload)) {
      this.#seal();
      this.#builder.add(pageIndex, id, payload);
    }
  }

  /** Sends the staged block, if any: in place, or (two pages or more) on the pool as a frame of its own. */
  #closeStage(): void {
    const stage = this.#stage;
    if (stage === null || stage.count === 0) return;
    if (this.#compressors === null || stage.count === 1) {
      this.#stats.pagePayloadBytes += writeStagedBlock(this.#withFamily(stage.take()), this.#sink);
      return;
    }
    if (this.#failure) throw this.#failure;
    this.#seal(); // what came before the block leaves before it
    const bytes = stage.stagedBytes;
    const buffers = this.#compressors.buffers();
    const block = this.#withFamily(stage.take(buffers));
    // Room for the block record, or for every member as a page record of its own.
    const frameBytes = Math.min(this.#maxFrameBytes, MIN_BATCH_FRAME_BYTES + 32 + block.headers.length + block.count * (this.#pageSize + PAGE_RECORD_HEADER_BYTES));
    const slot: { frame: Uint8Array | null } = { frame: null };
    this.#out.push(slot);
    this.#pendingBytes += bytes;
    this.#stats.pooledBlocks++;
    this.#compressors.compress(block, buffers, this.#seq++, frameBytes).then((r) => {
      this.#pendingBytes -= bytes;
      this.#stats.pagePayloadBytes += r.payloadBytes;
      slot.frame = r.frame;
      this.#drainOut();
    }, (err: LivemigError) => {
      this.#failure ??= err;
      for (const w of this.#settled.splice(0)) w.reject(err);
    });
  }

  /** Whether blocks take their family from setZstdShare (`adaptive` with blocks on). */
  get blends(): boolean {
    return this.#adaptive;
  }

  /**
   * `adaptive` in blocks: the share of blocks (0..1, spread evenly) compressed with zstd; the others
   * use lz4. The source agent moves it with the link (BlendController). @default 1
   */
  setZstdShare(share: number): void {
    this.#zstdShare = Math.min(1, Math.max(0, share));
  }

  /** The block's codec: the stage's own, or for `adaptive` the family this block's turn gives. */
  #withFamily(b: StagedBlock): StagedBlock {
    if (!this.#adaptive) return b;
    this.#blendAcc += this.#zstdShare;
    const zstd = this.#blendAcc >= 1;
    if (zstd) this.#blendAcc -= 1;
    b.codecId = zstd ? BLOCK_CODEC_IDS['zstd-delta-block'] : BLOCK_CODEC_IDS['lz4-delta-block'];
    if (zstd) this.#stats.zstdBlocks++;
    else this.#stats.lz4Blocks++;
    return b;
  }

  /** Hands every finished frame at the head of the queue to onFrame. */
  #drainOut(): void {
    while (this.#out.length > 0 && this.#out[0].frame !== null) {
      const frame = this.#out.shift()!.frame!;
      this.#stats.frames++;
      this.#stats.frameBytes += frame.length;
      this.#onFrame(frame);
    }
    if (this.#out.length === 0) for (const w of this.#settled.splice(0)) w.resolve();
  }

  /** Seals the current batch (if any) into the output queue. */
  #seal(): void {
    if (this.#builder.count === 0) return;
    this.#out.push({ frame: this.#builder.finish({ seq: this.#seq++ }) });
    this.#drainOut();
  }

  /**
   * Seals the current batch (if any) for `onFrame` (at once, unless a block ahead of it is still
   * compressing on the pool). The staged block goes first, unless
   * `keepBlockOpen`: a run of PAGE records may then go on in the next chunk (any other item, such as
   * the section footer that ends each ram section, still closes it).
   */
  flush(opts: { keepBlockOpen?: boolean } = {}): void {
    if (opts.keepBlockOpen !== true) this.#closeStage();
    this.#seal();
  }
}

/** The source's block stage for `codec` (lz4/zstd families only), or null when blocks are off. */
function blockStageFor(codec: PageCodec, pageSize: number, blockPages: number): BlockStage | null {
  if (checkBlockPages(blockPages) === 1) return null;
  // adaptive: delta blocks whose family each block picks (StreamSourceEncoder.setZstdShare).
  if (codec.name === 'adaptive') return new BlockStage(blockCodecOf('zstd', true), pageSize, blockPages);
  const family = blockFamilyOf(codec.name);
  if (family === null) return null;
  const level = (codec as { level?: number }).level;
  return new BlockStage(blockCodecOf(family, codec.delta, level === undefined ? {} : { zstdLevel: level }), pageSize, blockPages);
}

/**
 * Destination half: PAGES frames in, the rebuilt QEMU stream out. `rebuild` returns one frame's
 * bytes in a single buffer (pages are decoded straight into it: no per-page allocation, one socket
 * write per frame); `frame` hands the same bytes to `onEvent` as one opaque event.
 */
export class StreamDestinationDecoder {
  readonly #cache: PageCache;
  readonly #mirror: PageMirror;
  readonly #pageSize: number;
  readonly #onEvent: ((event: StreamEvent) => void) | undefined;
  readonly #scratch: Uint8Array;
  readonly #zeroPage: Uint8Array;
  readonly #blockScratch: Uint8Array;
  // One frame's records, gathered by the sizing pass (reused across frames).
  #ids: number[] = [];
  #indices: number[] = [];
  #payloads: Uint8Array[] = [];
  #lastBlock: string | null = null;
  readonly #rounds = new RoundTracker();
  readonly #direct: DirectRam | null;

  constructor(options: StreamPipelineOptions, onEvent?: (event: StreamEvent) => void) {
    this.#pageSize = options.pageSize ?? 4096;
    this.#direct = options.directRam ?? null;
    this.#cache = options.cache ?? createPageCache(options.cachePolicy ?? '2way', { capacityBytes: options.cacheBytes, pageSize: this.#pageSize });
    this.#mirror = new PageMirror({ pageSize: this.#pageSize, capacityBytes: options.mirrorBytes });
    this.#scratch = new Uint8Array(this.#pageSize);
    this.#zeroPage = new Uint8Array(this.#pageSize);
    this.#blockScratch = new Uint8Array(MAX_BLOCK_PAGES * this.#pageSize);
    this.#onEvent = onEvent;
  }

  /** Decodes one PAGES frame (decoded by the wire layer) and passes its bytes to `onEvent`. */
  frame(frame: Frame): void {
    const bytes = this.rebuild(frame);
    if (bytes.length > 0) this.#onEvent?.({ kind: 'opaque', part: 'passthrough', bytes });
  }

  /**
   * Decodes one PAGES frame and returns the QEMU stream bytes it carries, at the start of a buffer
   * of at least the bound's size from `allocate` (a fresh one by default, which the caller may keep;
   * the frame's buffer is not referenced).
   */
  rebuild(frame: Frame, allocate: (bound: number) => Uint8Array = (n) => Buffer.allocUnsafe(n)): Uint8Array {
    if (frame.type !== FrameType.PAGES) {
      throw new LivemigError('LIVEMIG_E_WIRE_SEQUENCE', `driver B expected PAGES frames, got type ${frame.type}`, { phase: 'qemu-stream' });
    }
    const ids = this.#ids, indices = this.#indices, payloads = this.#payloads;
    ids.length = 0;
    indices.length = 0;
    payloads.length = 0;
    let bound = 0;
    const pageSize = this.#pageSize;
    forEachPageRecord(frame.body, (pageIndex, codecId, payload) => {
      ids.push(codecId);
      indices.push(pageIndex);
      payloads.push(payload);
      bound += codecId >= VERBATIM_RECORD_ID ? payload.length : isBlockRecord(codecId) ? blockRebuiltBound(payload, pageSize) : rebuiltBound(payload, pageSize);
    });
    const out = allocate(bound);
    if (out.length < bound) throw new LivemigError('LIVEMIG_E_INTERNAL', `rebuild: a buffer of ${out.length} bytes for ${bound}`, { phase: 'qemu-stream' });
    let at = 0;
    try {
      for (let i = 0; i < ids.length; i++) at = this.#record(indices[i], ids[i], payloads[i], out, at);
    } finally {
      payloads.length = 0;
    }
    return out.subarray(0, at);
  }

  /** Rebuilds one record into `out[at..]`; returns the new end. */
  #record(index: number, codecId: number, payload: Uint8Array, out: Uint8Array, at: number): number {
    if (codecId === OPAQUE_RECORD_ID) {
      out.set(payload, at);
      return at + payload.length;
    }
    if (isBlockRecord(codecId)) return this.#blockRecord(index, codecId, payload, out, at);
    this.#rounds.see(index, this.#cache);
    if (codecId === VERBATIM_RECORD_ID) {
      const event = parseVerbatimRecord(payload, this.#pageSize, this.#lastBlock);
      this.#lastBlock = event.block;
      if (this.#mirror.enabled) this.#mirror.set(index, this.#mirror.resolve(event, index));
      if (this.#direct?.block === event.block) {
        this.#directVerbatim(this.#direct, event, payload.length);
        return at;
      }
      out.set(payload, at);
      return at + payload.length;
    }
    const pageSize = this.#pageSize;
    const header = parseRecordHeader(payload, pageSize);
    this.#lastBlock = blockAfter(header.block, this.#lastBlock);
    const direct = this.#direct?.block === this.#lastBlock ? this.#direct : null;
    if (header.record === 'zero') {
      // The source's #zeroRecord: a zero fill, and no cache update on either side (anything else
      // would put the two caches out of step).
      if (codecId !== zeroCodec.id || payload.length !== header.length) throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `a ZERO record with codec ${codecId} and ${payload.length - header.length} payload bytes`, { phase: 'qemu-stream' });
      if (this.#mirror.enabled) this.#mirror.set(index, this.#zeroPage);
      if (direct) {
        direct.zero(header.offsetInBlock, header.length + 1);
        return at;
      }
      out.set(payload, at);
      out[at + header.length] = 0;
      return at + header.length + 1;
    }
    const codec = getCodecById(codecId);
    const old = this.#cache.lookup(index);
    // A PAGE record's page is decoded in place, right after its header (or straight into guest
    // memory); the others go via scratch.
    const dataAt = at + header.length;
    const page = direct ? direct.page(header.offsetInBlock) : header.record === 'page' ? out.subarray(dataAt, dataAt + pageSize) : this.#scratch;
    // A delta applies to the old page, or to a zero page when there is none (as the source saw it).
    if (codec.delta) {
      if (old !== null) page.set(old);
      else page.fill(0);
    }
    codec.decode(payload.subarray(header.length), page);
    if (direct) {
      // The record QEMU would have read: an XBZRLE one is sized (and checked) as when rebuilt.
      let bytes = header.length + pageSize;
      if (header.record === 'xbzrle') {
        const data = this.#mirror.recordData('xbzrle', index, page);
        if (data === null) throw this.#disagree(index, 'xbzrle');
        bytes = header.length + 3 + data.length;
      }
      direct.wrote(bytes);
      this.#cache.insert(index, page);
      this.#mirror.set(index, page);
      return at;
    }
    out.set(payload.subarray(0, header.length), at);
    let end: number;
    if (header.record === 'page') {
      end = dataAt + pageSize;
    } else {
      const data = this.#mirror.recordData('xbzrle', index, page);
      if (data === null) throw this.#disagree(index, 'xbzrle');
      out[dataAt] = 0x01; // ENCODING_FLAG_XBZRLE
      out[dataAt + 1] = data.length >>> 8;
      out[dataAt + 2] = data.length & 0xff;
      out.set(data, dataAt + 3);
      end = dataAt + 3 + data.length;
    }
    this.#cache.insert(index, page);
    this.#mirror.set(index, page);
    return end;
  }

  /** Rebuilds a block record's PAGE records into `out[at..]` (validated whole before any is applied). */
  #blockRecord(first: number, codecId: number, payload: Uint8Array, out: Uint8Array, at: number): number {
    const ps = this.#pageSize;
    const { codec, members } = decodeBlockRecord(first, codecId, payload, ps, this.#blockScratch);
    // Every member's block, and its place in guest memory when it goes direct, resolved (and
    // checked) before any page is applied.
    const direct: Array<Uint8Array | null> = [];
    let lastBlock = this.#lastBlock;
    for (const m of members) {
      lastBlock = blockAfter(m.block, lastBlock);
      direct.push(this.#direct?.block === lastBlock ? this.#direct.page(m.offsetInBlock) : null);
    }
    this.#lastBlock = lastBlock;
    for (let k = 0; k < members.length; k++) {
      const m = members[k];
      this.#rounds.see(m.index, this.#cache);
      const old = this.#cache.lookup(m.index);
      let page = direct[k];
      if (page !== null) {
        this.#direct!.wrote(m.header.length + ps);
      } else {
        out.set(m.header, at);
        at += m.header.length;
        page = out.subarray(at, at + ps);
        at += ps;
      }
      // XOR in the aligned scratch, then copy: `out` is rarely 8-byte aligned where a page lands.
      if (codec.delta && old !== null) xorBytes(m.data, old, m.data);
      page.set(m.data);
      this.#cache.insert(m.index, page);
      this.#mirror.set(m.index, page);
    }
    return at;
  }

  /** A verbatim record of the direct block, applied to guest memory as QEMU would load it. */
  #directVerbatim(direct: DirectRam, event: RamPageEvent, recordBytes: number): void {
    if (event.record === 'zero') direct.zero(event.offsetInBlock, recordBytes);
    else if (event.record === 'xbzrle') direct.xbzrle(event.offsetInBlock, event.data, recordBytes);
    else {
      direct.page(event.offsetInBlock).set(event.data);
      direct.wrote(recordBytes);
    }
  }

  /** What direct RAM delivery did, or null when it is off. */
  directRamStats(): DirectRamStats | null {
    return this.#direct?.stats() ?? null;
  }

  #disagree(index: number, record: string): LivemigError {
    return new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `page ${index} cannot be rebuilt as a ${record} record: the two sides' mirrors disagree`, { phase: 'qemu-stream' });
  }
}

/** The RAM block a record is in: the one it names, or the previous record's (CONTINUE, `name` null). */
function blockAfter(name: string | null, last: string | null): string {
  if (name === '') throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', 'a record names an empty block', { phase: 'qemu-stream' });
  const block = name ?? last;
  if (block === null) throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', 'a CONTINUE record before any named block', { phase: 'qemu-stream' });
  return block;
}

/**
 * QEMU's dirty scan walks the pages in increasing order and starts over after each bitmap sync, so
 * a RAM record whose page index is below the previous one starts a new round. Both sides call
 * `see` for every RAM record, in the same order, and sync their caches at the same records: the
 * 2-way cache then keeps a set's two pages used this round instead of cycling three hot pages
 * through two ways (every one of them a miss).
 */
class RoundTracker {
  #last = -1;

  see(index: number, cache: PageCache): void {
    if (index < this.#last) cache.sync();
    this.#last = index;
  }
}

/** Most bytes a codec record (QEMU record header + codec payload) rebuilds to. */
function rebuiltBound(payload: Uint8Array, pageSize: number): number {
  if (payload.length < 8) return 0; // parseRecordHeader rejects it
  const flags = (((payload[4] << 24) | (payload[5] << 16) | (payload[6] << 8) | payload[7]) >>> 0) % pageSize;
  const header = (flags & RamFlag.CONTINUE) !== 0 ? 8 : 9 + (payload.length > 8 ? payload[8] : 0);
  const base = flags & ~RamFlag.CONTINUE;
  return header + (base === RamFlag.ZERO ? 1 : base === RamFlag.XBZRLE ? 3 + pageSize : pageSize);
}
