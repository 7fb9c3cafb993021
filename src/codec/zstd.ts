/**
 * `zstd`: a whole page as one zstd frame in the magicless format (RFC 8878 without the 4-byte magic
 * number), with no content size, no checksum and no dictionary id: the page size is known, and the
 * wire frame already has a CRC.
 *
 * ```
 * payload = fhd:u8 window:u8 block+              ; exactly one frame, producing exactly one page
 * fhd     = 0x00 from our encoder (a decoder also accepts content-size and checksum fields,
 *           e.g. a `zstd` CLI frame with its magic stripped; a dictionary id is malformed)
 * block   = header:u24le (last:1 | type:2 | size:21) content
 * ```
 * Per-page overhead: 2 bytes of frame header plus 3 per block (one block for a page <= 128 KiB),
 * i.e. 5 bytes. Prepending `28 b5 2f fd` gives a standard frame that `zstd -d` reads.
 *
 * Compression and decoding are libzstd's (ZSTD_compress2 / ZSTD_decompressDCtx on one reused
 * context per thread) through livemig's addon. Before decoding, the addon walks the frame and
 * block headers so that a payload that is not exactly one frame, or that declares another size, is
 * refused; a frame producing fewer or more bytes than the page is refused as well.
 */

import { LivemigError } from '../core/errors.js';
import type { CodecOptions, PageCodec } from './types.js';
import { CODEC_IDS } from './types.js';
import {
  NATIVE_E_MALFORMED, NATIVE_E_OVERRUN, NATIVE_E_SHORT, NATIVE_E_TRUNCATED, nativeBinding,
} from './native.js';

/** The zstd levels livemig accepts: fast levels -7..-1 and 1..19 (0 would mean "zstd's default", 3). */
export const ZSTD_LEVEL_RANGE = Object.freeze({ fastest: -7, max: 19 });
/** @default level of the zstd codecs. */
export const ZSTD_DEFAULT_LEVEL = 1;

/** Throws LIVEMIG_E_INVALID_OPTION unless `level` is an integer in -7..-1 or 1..19. */
export function checkZstdLevel(level: number): number {
  if (!Number.isInteger(level) || level === 0 || level < ZSTD_LEVEL_RANGE.fastest || level > ZSTD_LEVEL_RANGE.max) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION',
      `zstd level ${level} is not supported; use 1..${ZSTD_LEVEL_RANGE.max} (1 is fastest with full ratio) or a fast level ${ZSTD_LEVEL_RANGE.fastest}..-1`,
      { phase: 'codec' });
  }
  return level;
}

/** The LivemigError for a failed native zstd decode (`rc` is a NATIVE_E_* code). */
export function zstdDecodeError(rc: number, codec: string, payloadBytes: number, pageBytes: number): LivemigError {
  const what = `${codec} payload of ${payloadBytes} bytes for a ${pageBytes}-byte page`;
  switch (rc) {
    case NATIVE_E_OVERRUN:
      return new LivemigError('LIVEMIG_E_CODEC_OVERRUN', `${what} would produce more than the page`);
    case NATIVE_E_MALFORMED:
      return new LivemigError('LIVEMIG_E_CODEC_MALFORMED', `${what} is not exactly one valid magicless zstd frame (reserved bits, dictionary id, bad block, corrupt data or trailing bytes)`);
    case NATIVE_E_SHORT:
      return new LivemigError('LIVEMIG_E_CODEC_TRUNCATED', `${what} is a valid zstd frame but produces fewer bytes than the page`);
    case NATIVE_E_TRUNCATED:
    default:
      return new LivemigError('LIVEMIG_E_CODEC_TRUNCATED', `${what} ends inside the zstd frame (or is empty); the sender or the link cut it short`);
  }
}

/**
 * Returns the codec built by `make(level)` for `options.zstdLevel` (@default 1), one instance per
 * level, so configuring is cheap and `configure` keeps returning the same object.
 */
export function levelCache(make: (level: number) => PageCodec): (options: CodecOptions) => PageCodec {
  const byLevel = new Map<number, PageCodec>();
  return (options) => {
    const level = checkZstdLevel(options.zstdLevel ?? ZSTD_DEFAULT_LEVEL);
    let codec = byLevel.get(level);
    if (codec === undefined) byLevel.set(level, (codec = make(level)));
    return codec;
  };
}

function makeZstdCodec(level: number): PageCodec {
  return Object.freeze({
    name: 'zstd',
    id: CODEC_IDS.zstd,
    delta: false,
    /** Compression level this instance encodes with. */
    level,
    encode(_old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
      // Capping below the page size lets libzstd give up early on incompressible pages.
      const limit = Math.min(out.length, page.length - 1);
      if (limit <= 0) return null;
      const n = nativeBinding().zstdCompress(page, out, level, limit);
      return n === 0 ? null : n;
    },
    decode(payload: Uint8Array, page: Uint8Array): void {
      const n = nativeBinding().zstdDecompress(payload, page);
      if (n !== page.length) throw zstdDecodeError(n, 'zstd', payload.length, page.length);
    },
    configure(options: CodecOptions): PageCodec {
      return zstdCodecs(options);
    },
  });
}

const zstdCodecs = levelCache(makeZstdCodec);

/** Full-page zstd codec at level `level` (@default 1); `old` is ignored. Needs the native addon. */
export function createZstdCodec(level: number = ZSTD_DEFAULT_LEVEL): PageCodec {
  return zstdCodecs({ zstdLevel: level });
}

/** The registered `zstd` codec (level 1); `zstdCodec.configure({ zstdLevel })` gives other levels. */
export const zstdCodec: PageCodec = createZstdCodec();
