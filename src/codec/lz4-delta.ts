/**
 * `lz4-delta`: the XOR of the old and new page as one raw LZ4 block (grammar in `lz4.ts`).
 *
 * ```
 * payload = ""          ; the page is unchanged
 *         | lz4-block   ; producing exactly one page of XOR bytes, applied onto the old page
 * ```
 * The XOR is fused into the native call (no JS pass, no temporary page): the addon XORs into its
 * own scratch and compresses from there, and decodes into scratch before touching the page, so a
 * malformed payload leaves the old page intact.
 */

import { LivemigError } from '../core/errors.js';
import type { PageCodec } from './types.js';
import { CODEC_IDS } from './types.js';
import { NATIVE_DELTA_UNCHANGED, nativeBinding, nativeDecodeError } from './native.js';

/** XOR-then-LZ4 delta codec. Needs the native addon (loaded on first use); pages up to 64 KiB. */
export const lz4DeltaCodec: PageCodec = {
  name: 'lz4-delta',
  id: CODEC_IDS['lz4-delta'],
  delta: true,
  encode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
    if (old === null) {
      throw new LivemigError(
        'LIVEMIG_E_CODEC_NEEDS_BASE',
        'lz4-delta needs the previously sent version of the page; send it with a full-page codec (lz4 or raw) instead',
      );
    }
    const limit = Math.min(out.length, page.length - 1);
    const n = nativeBinding().lz4DeltaCompress(old, page, out, Math.max(limit, 0));
    if (n === NATIVE_DELTA_UNCHANGED) return 0;
    return n === 0 ? null : n;
  },
  decode(payload: Uint8Array, page: Uint8Array): void {
    if (payload.length === 0) return;
    const n = nativeBinding().lz4DeltaDecompress(payload, page);
    if (n !== page.length) throw nativeDecodeError(n, 'lz4-delta', payload.length, page.length);
  },
};
