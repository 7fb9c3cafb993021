/**
 * `lz4`: a whole page as one raw LZ4 block (no frame, no size prefix; the page size is known).
 *
 * ```
 * block    = sequence* last
 * sequence = token lit-ext? literal{lit} offset:u16le ml-ext?   ; copies ml = (token & 15) + 4 (+ ext) bytes
 * last     = token lit-ext? literal{lit}                        ; ends exactly at the end of the payload
 * token    = lit:4 (high nibble) | (ml - 4):4 (low nibble); 15 means "add the ext bytes"
 * ext      = 0xff* byte<0xff                                    ; each byte is added
 * ```
 * Rules the decoder enforces: 1 <= offset <= bytes produced so far; the block produces exactly the
 * page; the last match starts >= 12 and ends >= 5 bytes before the end of the page.
 *
 * Compression is liblz4's (acceleration 1) through livemig's addon; decoding is the addon's strict
 * decoder. Both write straight into the caller's buffers.
 */

import type { PageCodec } from './types.js';
import { CODEC_IDS } from './types.js';
import { nativeBinding, nativeDecodeError } from './native.js';

/** Full-page LZ4 block codec. `old` is ignored. Needs the native addon (loaded on first use). */
export const lz4Codec: PageCodec = {
  name: 'lz4',
  id: CODEC_IDS.lz4,
  delta: false,
  encode(_old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
    // Capping below the page size lets liblz4 give up early on incompressible pages.
    const limit = Math.min(out.length, page.length - 1);
    if (limit <= 0) return null;
    const n = nativeBinding().lz4Compress(page, out, limit);
    return n === 0 ? null : n;
  },
  decode(payload: Uint8Array, page: Uint8Array): void {
    const n = nativeBinding().lz4Decompress(payload, page);
    if (n !== page.length) throw nativeDecodeError(n, 'lz4', payload.length, page.length);
  },
};
