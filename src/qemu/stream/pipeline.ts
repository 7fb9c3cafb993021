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
import { encodeBest, getCodecById, isZeroPage, rawCodec, zeroCodec, type PageCodec } from '../../codec/index.js';
import { LivemigError } from '../../core/errors.js';
import { FrameType, PageBatchBuilder, forEachPageRecord, type Frame } from '../../wire/index.js';
import { OPAQUE_PIECE_BYTES, OPAQUE_RECORD_ID, VERBATIM_RECORD_ID, parseRecordHeader, parseVerbatimRecord } from './envelope.js';
import { PageMirror } from './page-mirror.js';
import type { RamBlockInfo, RamPageEvent, StreamEvent } from './types.js';
import { ramRecordHeader, writeEvent } from './writer.js';

/** Options shared by both halves; both sides must use equal values. */
export interface StreamPipelineOptions {
  /** Codec for page contents (any registered codec; delta codecs fall back to raw without an old page). */
  codec: PageCodec;
  /** Page cache policy. @default '2way' */
  cachePolicy?: CachePolicy;
  /** Page cache capacity in bytes. @default 67108864 (64 MiB) */
  cacheBytes?: number;
  /** PageMirror capacity in bytes. @default 268435456 (256 MiB) */
  mirrorBytes?: number;
  /** Target page size in bytes. @default 4096 */
  pageSize?: number;
  /** Largest frame, in bytes. @default 4194304 */
  maxFrameBytes?: number;
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
  #blocks: readonly RamBlockInfo[] = [];
  #seq = 0;
  readonly #scratch: Uint8Array;
  readonly #stats: SourceEncoderStats = { opaqueBytes: 0, pages: 0, pagePayloadBytes: 0, verbatim: 0, verbatimBytes: 0, frames: 0, frameBytes: 0 };

  constructor(options: StreamPipelineOptions, onFrame: (frame: Uint8Array) => void) {
    this.#codec = options.codec;
    this.#pageSize = options.pageSize ?? 4096;
    this.#cache = createPageCache(options.cachePolicy ?? '2way', { capacityBytes: options.cacheBytes, pageSize: this.#pageSize });
    this.#mirror = new PageMirror({ pageSize: this.#pageSize, capacityBytes: options.mirrorBytes });
    this.#builder = new PageBatchBuilder(options.maxFrameBytes);
    this.#scratch = new Uint8Array(this.#pageSize);
    this.#onFrame = onFrame;
  }

  stats(): SourceEncoderStats {
    return { ...this.#stats };
  }

  /** Encodes one parser event. */
  write(event: StreamEvent): void {
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
    const content = this.#mirror.resolve(event, index);
    // page and zero rebuild from content by construction; XBZRLE only if our encoder gives QEMU's bytes.
    let rebuildable = content !== null;
    if (content !== null && event.record === 'xbzrle') {
      const again = this.#mirror.recordData('xbzrle', index, content);
      rebuildable = again !== null && bytesEqual(again, event.data);
    }
    if (!rebuildable) {
      const chunks: Uint8Array[] = [];
      writeEvent(event, (b) => chunks.push(b), this.#pageSize);
      const bytes = Buffer.concat(chunks);
      this.#add(index, VERBATIM_RECORD_ID, bytes);
      this.#mirror.set(index, content);
      this.#stats.verbatim++;
      this.#stats.verbatimBytes += bytes.length;
      return;
    }
    const page = content!;
    const header = ramRecordHeader(event, this.#pageSize);
    const old = this.#cache.lookup(index);
    const out = this.#reserve(header.length + this.#pageSize);
    out.set(header);
    const body = out.subarray(header.length);
    let codec = this.#codec;
    let length: number | null = null;
    if (codec.name === 'adaptive') {
      // The chosen codec's own id travels, so no inner id byte is spent.
      const choice = encodeBest(old, page, body, this.#scratch);
      codec = choice.codec;
      length = choice.length;
    } else if (!(codec.delta && old === null)) {
      length = codec.encode(old, page, body);
    }
    if (length === null) {
      // A delta codec without an old page, or an encoding that does not pay.
      codec = isZeroPage(page) ? zeroCodec : rawCodec;
      length = codec.encode(null, page, body)!;
    }
    this.#builder.commit(index, codec.id, header.length + length);
    this.#cache.insert(index, page);
    this.#mirror.set(index, page);
    this.#stats.pages++;
    this.#stats.pagePayloadBytes += length;
  }

  #reserve(n: number): Uint8Array {
    let out = this.#builder.reserve(n);
    if (out === null) {
      this.flush();
      out = this.#builder.reserve(n)!;
    }
    return out;
  }

  #add(pageIndex: number, id: number, payload: Uint8Array): void {
    if (!this.#builder.add(pageIndex, id, payload)) {
      this.flush();
      this.#builder.add(pageIndex, id, payload);
    }
  }

  /** Seals the current batch (if any) and hands it to `onFrame`. */
  flush(): void {
    if (this.#builder.count === 0) return;
    const frame = this.#builder.finish({ seq: this.#seq++ });
    this.#stats.frames++;
    this.#stats.frameBytes += frame.length;
    this.#onFrame(frame);
  }
}

/** Destination half: PAGES frames in, events out (to `onEvent`, in order; feed them to a writer). */
export class StreamDestinationDecoder {
  readonly #cache: PageCache;
  readonly #mirror: PageMirror;
  readonly #pageSize: number;
  readonly #onEvent: (event: StreamEvent) => void;
  #lastBlock: string | null = null;

  constructor(options: StreamPipelineOptions, onEvent: (event: StreamEvent) => void) {
    this.#pageSize = options.pageSize ?? 4096;
    this.#cache = createPageCache(options.cachePolicy ?? '2way', { capacityBytes: options.cacheBytes, pageSize: this.#pageSize });
    this.#mirror = new PageMirror({ pageSize: this.#pageSize, capacityBytes: options.mirrorBytes });
    this.#onEvent = onEvent;
  }

  /** Decodes one PAGES frame (decoded by the wire layer). */
  frame(frame: Frame): void {
    if (frame.type !== FrameType.PAGES) {
      throw new LivemigError('LIVEMIG_E_WIRE_SEQUENCE', `driver B expected PAGES frames, got type ${frame.type}`, { phase: 'qemu-stream' });
    }
    forEachPageRecord(frame.body, (pageIndex, codecId, payload) => this.#record(pageIndex, codecId, payload));
  }

  #record(index: number, codecId: number, payload: Uint8Array): void {
    if (codecId === OPAQUE_RECORD_ID) {
      // Copy: the frame buffer may be reused by the transport.
      this.#onEvent({ kind: 'opaque', part: 'passthrough', bytes: new Uint8Array(payload) });
      return;
    }
    if (codecId === VERBATIM_RECORD_ID) {
      const event = parseVerbatimRecord(new Uint8Array(payload), this.#pageSize, this.#lastBlock);
      this.#lastBlock = event.block;
      this.#mirror.set(index, this.#mirror.resolve(event, index));
      this.#onEvent(event);
      return;
    }
    const header = parseRecordHeader(payload, this.#pageSize);
    const block = header.block ?? this.#lastBlock;
    if (block === null) throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', 'a CONTINUE record before any named block', { phase: 'qemu-stream' });
    const codec = getCodecById(codecId);
    const old = this.#cache.lookup(index);
    const page = new Uint8Array(this.#pageSize);
    if (codec.delta && old !== null) page.set(old);
    codec.decode(payload.subarray(header.length), page);
    const data = this.#mirror.recordData(header.record, index, page);
    if (data === null) {
      throw new LivemigError('LIVEMIG_E_QEMU_STREAM_MALFORMED', `page ${index} cannot be rebuilt as a ${header.record} record: the two sides' mirrors disagree`, { phase: 'qemu-stream' });
    }
    const event: RamPageEvent = {
      kind: 'ram-page', record: header.record, block, blockIndex: -1, offsetInBlock: header.offsetInBlock, flags: header.flags,
      data: header.record === 'page' ? page : new Uint8Array(data),
    };
    this.#cache.insert(index, page);
    this.#mirror.set(index, page);
    this.#lastBlock = block;
    this.#onEvent(event);
  }
}
