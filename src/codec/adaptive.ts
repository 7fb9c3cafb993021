/**
 * adaptive (wire id 5): per page, the smallest encoding among the applicable codecs. It costs the
 * CPU of every codec, so a migration's `--codec adaptive` no longer uses it: there a chooser picks
 * one codec plan per round from the link's and the codecs' measured rates (engine/codec-plan.ts,
 * engine/codec-chooser.ts). This codec stays for the standalone PageCodec form and `encodeBest`.
 *
 *   payload = codec-id:u8 inner-payload       (standalone PageCodec form only)
 *
 * Candidates, in order (a tie goes to the earlier one): zero; xbzrle and lz4-delta when an old page
 * is given; lz4; raw. A caller of `encodeBest` puts the chosen codec's own id in the frame, so no
 * id byte is spent; the standalone codec carries the id in its payload so that it round-trips by
 * itself. A nested adaptive id is malformed.
 */

import { LivemigError, isLivemigError } from '../core/errors.js';
import { lz4DeltaCodec } from './lz4-delta.js';
import { lz4Codec } from './lz4.js';
import { rawCodec } from './raw.js';
import { CODEC_IDS, type EncodeChoice, type PageCodec } from './types.js';
import { xbzrleCodec } from './xbzrle.js';
import { isZeroPage, zeroCodec } from './zero.js';

const FULL_CANDIDATES: readonly PageCodec[] = [lz4Codec, rawCodec];
const DELTA_CANDIDATES: readonly PageCodec[] = [xbzrleCodec, lz4DeltaCodec, lz4Codec, rawCodec];

// Codecs whose native addon failed to load: skipped from then on, so adaptive still works with the
// pure-TS codecs on a host without a compiler.
const unavailable = new Set<PageCodec>();

const INNER_BY_ID: ReadonlyMap<number, PageCodec> = new Map(
  [zeroCodec, rawCodec, lz4Codec, xbzrleCodec, lz4DeltaCodec].map((c) => [c.id, c]),
);

/**
 * Tries the candidates and leaves the smallest encoding in `out`. Each candidate encodes into
 * whichever of `out`/`scratch` does not hold the best so far, with a budget one byte below it, so
 * a candidate that cannot win gives up early. Returns null when nothing fits.
 */
function choose(old: Uint8Array | null, page: Uint8Array, out: Uint8Array, scratch: Uint8Array): EncodeChoice | null {
  // Nothing beats 0 bytes, and a zero page needs no old version to decode.
  if (isZeroPage(page)) return { codec: zeroCodec, length: 0 };
  const candidates = old === null ? FULL_CANDIDATES : DELTA_CANDIDATES;
  let best: PageCodec | null = null;
  let bestLength = Infinity;
  let bestInOut = false;
  for (const codec of candidates) {
    if (unavailable.has(codec)) continue;
    const target: Uint8Array = best !== null && bestInOut ? scratch : out;
    const room = Math.min(target.length, bestLength - 1);
    if (room < 0) break;
    let length: number | null;
    try {
      length = codec.encode(old, page, room < target.length ? target.subarray(0, room) : target);
    } catch (err) {
      if (!isLivemigError(err, 'LIVEMIG_E_NATIVE_UNAVAILABLE')) throw err;
      unavailable.add(codec);
      continue;
    }
    if (length !== null && length < bestLength) {
      best = codec;
      bestLength = length;
      bestInOut = target === out;
    }
  }
  if (best === null) return null;
  if (!bestInOut) out.set(scratch.subarray(0, bestLength));
  return { codec: best, length: bestLength };
}

/**
 * Encodes `page` with whichever applicable codec gives the fewest bytes and writes that codec's own
 * payload to `out` (no id byte: the returned codec's id is what travels). `old` enables the delta
 * codecs. `out` must hold at least one page so that raw always fits; `scratch` must not overlap
 * `out` and should be as large (a smaller one only limits which candidates can win).
 */
export function encodeBest(old: Uint8Array | null, page: Uint8Array, out: Uint8Array, scratch: Uint8Array): EncodeChoice {
  if (out.length < page.length) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `encodeBest: out has ${out.length} bytes; give it at least one page (${page.length}) so the raw fallback fits`, { phase: 'codec' });
  }
  const choice = choose(old, page, out, scratch);
  if (choice === null) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', 'encodeBest: no codec fitted although raw should have', { phase: 'codec' });
  }
  return choice;
}

// The standalone codec's scratch; codecs are synchronous, so one shared buffer is safe.
let sharedScratch = new Uint8Array(0);

/** The adaptive codec (wire id 5) as a standalone PageCodec: `[inner id][inner payload]`. */
export const adaptiveCodec: PageCodec = Object.freeze({
  name: 'adaptive',
  id: CODEC_IDS.adaptive,
  // It uses the old page when one is given, so decoding must start from that old page.
  delta: true,
  encode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null {
    if (out.length < 1) return null;
    const body = out.subarray(1);
    if (sharedScratch.length < body.length) sharedScratch = new Uint8Array(Math.max(body.length, page.length));
    const choice = choose(old, page, body, sharedScratch);
    if (choice === null) return null;
    out[0] = choice.codec.id;
    return 1 + choice.length;
  },
  decode(payload: Uint8Array, page: Uint8Array): void {
    if (payload.length < 1) {
      throw new LivemigError('LIVEMIG_E_CODEC_TRUNCATED', 'adaptive: empty payload, expected an inner codec id byte');
    }
    const id = payload[0];
    const inner = INNER_BY_ID.get(id);
    if (inner === undefined) {
      if (id === CODEC_IDS.adaptive) {
        throw new LivemigError('LIVEMIG_E_CODEC_MALFORMED', 'adaptive: inner codec id is adaptive itself; nesting is not allowed');
      }
      throw new LivemigError('LIVEMIG_E_CODEC_UNKNOWN', `adaptive: inner codec id ${id} is not one of ${[...INNER_BY_ID.values()].map((c) => `${c.name}=${c.id}`).join(', ')}`);
    }
    inner.decode(payload.subarray(1), page);
  },
});
