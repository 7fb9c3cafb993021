/**
 * raw: the page bytes as they are.
 *
 *   payload = byte{page.length}
 *
 * Encode returns `null` only when `out` is smaller than the page. Decode requires exactly one
 * page of bytes.
 */

import { LivemigError } from '../core/errors.js';
import { CODEC_IDS, type PageCodec } from './types.js';
import { copyBytes } from './copy.js';

/** The raw codec (wire id 1), the fallback that always fits in a page-sized buffer. */
export const rawCodec: PageCodec = Object.freeze({
  name: 'raw',
  id: CODEC_IDS.raw,
  delta: false,
  encode(_old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
    if (out.length < page.length) return null;
    copyBytes(page, out);
    return page.length;
  },
  decode(payload: Uint8Array, page: Uint8Array): void {
    if (payload.length < page.length) {
      throw new LivemigError(
        'LIVEMIG_E_CODEC_TRUNCATED',
        `raw: payload has ${payload.length} bytes, the page needs ${page.length}`,
      );
    }
    if (payload.length > page.length) {
      throw new LivemigError(
        'LIVEMIG_E_CODEC_OVERRUN',
        `raw: payload has ${payload.length} bytes, more than the ${page.length}-byte page`,
      );
    }
    copyBytes(payload, page);
  },
});
