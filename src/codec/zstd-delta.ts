/**
 * `zstd-delta`: the XOR of the old and new page as one magicless zstd frame (grammar in `zstd.ts`).
 *
 * ```
 * payload = ""           ; the page is unchanged
 *         | zstd-frame   ; producing exactly one page of XOR bytes, applied onto the old page
 * ```
 * As in lz4-delta, the XOR is fused into the native call, and decoding goes to the addon's scratch
 * before touching the page, so a malformed payload leaves the old page intact.
 */

import { LivemigError } from '../core/errors.js';
import type { CodecOptions, PageCodec } from './types.js';
import { CODEC_IDS } from './types.js';
import { NATIVE_DELTA_UNCHANGED, nativeBinding } from './native.js';
import { ZSTD_DEFAULT_LEVEL, levelCache, zstdDecodeError } from './zstd.js';

function makeZstdDeltaCodec(level: number): PageCodec {
  return Object.freeze({
    name: 'zstd-delta',
    id: CODEC_IDS['zstd-delta'],
    delta: true,
    /** Compression level this instance encodes with. */
    level,
    encode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
      if (old === null) {
        throw new LivemigError(
          'LIVEMIG_E_CODEC_NEEDS_BASE',
          'zstd-delta needs the previously sent version of the page; send it with a full-page codec (zstd or raw) instead',
        );
      }
      const limit = Math.min(out.length, page.length - 1);
      const n = nativeBinding().zstdDeltaCompress(old, page, out, level, Math.max(limit, 0));
      if (n === NATIVE_DELTA_UNCHANGED) return 0;
      return n === 0 ? null : n;
    },
    decode(payload: Uint8Array, page: Uint8Array): void {
      if (payload.length === 0) return;
      const n = nativeBinding().zstdDeltaDecompress(payload, page);
      if (n !== page.length) throw zstdDecodeError(n, 'zstd-delta', payload.length, page.length);
    },
    configure(options: CodecOptions): PageCodec {
      return zstdDeltaCodecs(options);
    },
  });
}

const zstdDeltaCodecs = levelCache(makeZstdDeltaCodec);

/** XOR-then-zstd delta codec at `level` (@default 1). Needs the native addon; pages up to 64 KiB. */
export function createZstdDeltaCodec(level: number = ZSTD_DEFAULT_LEVEL): PageCodec {
  return zstdDeltaCodecs({ zstdLevel: level });
}

/** The registered `zstd-delta` codec (level 1). */
export const zstdDeltaCodec: PageCodec = createZstdDeltaCodec();
