/**
 * Page codecs: pure functions over Uint8Array that turn one 4 KiB page (optionally against its
 * previously sent version) into a payload, and back.
 */

/** Names of the registered codecs. `adaptive` picks the smallest of the others per page. */
export type CodecName = 'zero' | 'raw' | 'lz4' | 'xbzrle' | 'lz4-delta' | 'adaptive' | 'zstd' | 'zstd-delta';

/**
 * Codec ids as they travel on the wire. Append only; never renumber: a receiver rejects an id it
 * does not know.
 */
export const CODEC_IDS = {
  zero: 0,
  raw: 1,
  lz4: 2,
  xbzrle: 3,
  'lz4-delta': 4,
  adaptive: 5,
  zstd: 6,
  'zstd-delta': 7,
} as const satisfies Record<CodecName, number>;

/** Encode-side parameters of the codecs that have any; decoding never needs them. */
export interface CodecOptions {
  /** zstd compression level: 1..19, or a fast level -7..-1 (see ZSTD_LEVEL_RANGE). @default 1 */
  zstdLevel?: number;
}

export interface PageCodec {
  readonly name: CodecName;
  /** The id that travels on the wire. */
  readonly id: number;
  /** A delta codec encodes a page against its old version and decodes onto it. */
  readonly delta: boolean;
  /**
   * Encodes `page` into `out`. `old` is the previously sent version (delta codecs need it; full-page
   * codecs ignore it). Returns the number of bytes written, or `null` when the encoding does not pay
   * or does not fit in `out` (as QEMU's XBZRLE returns -1): an ordinary outcome, not an error.
   * A delta codec returns 0 for an unchanged page.
   */
  encode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null;
  /**
   * Decodes `payload` into `page`. For a delta codec `page` holds the old version on entry and the
   * new one on return; a full-page codec overwrites `page`. Malformed input throws a LivemigError and
   * never writes outside `page`.
   */
  decode(payload: Uint8Array, page: Uint8Array): void;
  /**
   * Only for codecs with encode parameters: the same codec (name, id, wire format) encoding with
   * `options`; options it has no use for are ignored. Throws LIVEMIG_E_INVALID_OPTION when one is
   * out of range.
   */
  configure?(options: CodecOptions): PageCodec;
}

/** What `adaptive` (or any chooser) decided for one page. */
export interface EncodeChoice {
  /** The codec whose encoding was written; its id is what travels. */
  codec: PageCodec;
  /** Bytes written to `out`. */
  length: number;
}

/**
 * Names of the multi-page block codecs (`block.ts`): one record carries up to 64 pages compressed
 * together. They are not PageCodecs (a record holds many pages), so they have a table of their own.
 */
export type BlockCodecName = 'lz4-block' | 'zstd-block' | 'lz4-delta-block' | 'zstd-delta-block';

/** Wire ids of the block codecs: the same id space as CODEC_IDS, appended after it. Append only. */
export const BLOCK_CODEC_IDS = {
  'lz4-block': 8,
  'zstd-block': 9,
  'lz4-delta-block': 10,
  'zstd-delta-block': 11,
} as const satisfies Record<BlockCodecName, number>;
