/**
 * A naive, obviously-correct LZ4 block encoder and decoder, written from the LZ4 block format
 * spec (lz4_Block_format.md). It is the reference the optimised native codec is compared against:
 * slow on purpose, one step at a time, and strict about every rule the spec states.
 *
 * Block = sequences; each is a token (literal length in the high nibble, match length - 4 in the
 * low one; 15 means more length bytes follow, each added, until one is < 255), the literals, a
 * 2-byte little-endian offset and the extra match-length bytes. The last sequence has literals
 * only. End-of-block rules: the last 5 bytes are literals, and the last match starts at least 12
 * bytes before the end (so a block under 13 bytes is all literals).
 */

/** Shortest match the format can express. */
const MIN_MATCH = 4;
/** The last 5 bytes are always literals. */
const LAST_LITERALS = 5;
/** The last match must start at least 12 bytes before the end. */
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;

/** Why the naive decoder rejected a block. */
export type NaiveErrorKind = 'truncated' | 'malformed' | 'overrun';

/** Thrown by `naiveDecompress` for an invalid block. */
export class NaiveLz4Error extends Error {
  constructor(readonly kind: NaiveErrorKind, message: string) {
    super(message);
    this.name = 'NaiveLz4Error';
  }
}

/** Appends a length's extension bytes (the part beyond 15) to `out`. */
function pushLength(out: number[], rest: number): void {
  while (rest >= 255) {
    out.push(255);
    rest -= 255;
  }
  out.push(rest);
}

function pushSequence(out: number[], src: Uint8Array, litStart: number, litEnd: number, match: { offset: number; length: number } | null): void {
  const lit = litEnd - litStart;
  const ml = match === null ? 0 : match.length - MIN_MATCH;
  out.push((Math.min(lit, 15) << 4) | Math.min(ml, 15));
  if (lit >= 15) pushLength(out, lit - 15);
  for (let k = litStart; k < litEnd; k++) out.push(src[k]);
  if (match === null) return;
  out.push(match.offset & 0xff, match.offset >>> 8);
  if (ml >= 15) pushLength(out, ml - 15);
}

function hash4(src: Uint8Array, i: number): number {
  const v = (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
  return Math.imul(v, 2654435761) >>> 20; // 12 bits: a 4096-entry table
}

/**
 * Compresses `src` into a new raw LZ4 block: greedy, one candidate per hash bucket, no lazy
 * matching. Always succeeds (the result may be larger than `src`).
 */
export function naiveCompress(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  const table = new Int32Array(4096).fill(-1);
  const n = src.length;
  let anchor = 0;
  let i = 0;
  // A match may start at i only when i + 12 <= n, and must end by n - 5.
  while (i + MF_LIMIT <= n) {
    const h = hash4(src, i);
    const cand = table[h];
    table[h] = i;
    if (cand >= 0 && i - cand <= MAX_OFFSET && src[cand] === src[i] && src[cand + 1] === src[i + 1] &&
        src[cand + 2] === src[i + 2] && src[cand + 3] === src[i + 3]) {
      let len = MIN_MATCH;
      while (i + len < n - LAST_LITERALS && src[cand + len] === src[i + len]) len++;
      pushSequence(out, src, anchor, i, { offset: i - cand, length: len });
      i += len;
      anchor = i;
    } else {
      i++;
    }
  }
  pushSequence(out, src, anchor, n, null);
  return Uint8Array.from(out);
}

/** Reads a length's extension bytes starting at `pos`; returns [added, next pos]. */
function readLength(src: Uint8Array, pos: number, what: string): [number, number] {
  let added = 0;
  for (;;) {
    if (pos >= src.length) throw new NaiveLz4Error('truncated', `input ends inside the ${what} length at byte ${pos}`);
    const b = src[pos++];
    added += b;
    if (b !== 255) return [added, pos];
  }
}

/**
 * Decodes one raw LZ4 block into `dst` and returns the bytes produced. Rejects (NaiveLz4Error)
 * empty or cut input, offset 0 or before the start, output past `dst`, bytes after a complete
 * `dst`, and blocks that break the end-of-block rules.
 */
export function naiveDecompress(src: Uint8Array, dst: Uint8Array): number {
  if (src.length === 0) throw new NaiveLz4Error('truncated', 'empty input: a block has at least one token');
  let ip = 0;
  let op = 0;
  let lastMatchStart = -1;
  let lastMatchEnd = -1;
  for (;;) {
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      const [added, next] = readLength(src, ip, 'literal');
      lit += added;
      ip = next;
    }
    if (ip + lit > src.length) throw new NaiveLz4Error('truncated', `literals run past the input end at byte ${ip}`);
    if (op + lit > dst.length) throw new NaiveLz4Error('overrun', `literals run past the output end at byte ${op}`);
    for (let k = 0; k < lit; k++) dst[op++] = src[ip++];
    if (ip === src.length) break;
    if (op === dst.length) throw new NaiveLz4Error('malformed', `bytes after a complete output at input byte ${ip}`);
    if (ip + 2 > src.length) throw new NaiveLz4Error('truncated', `input ends inside an offset at byte ${ip}`);
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0) throw new NaiveLz4Error('malformed', `offset 0 at input byte ${ip - 2}`);
    if (offset > op) throw new NaiveLz4Error('malformed', `offset ${offset} reaches before the start at output byte ${op}`);
    let ml = (token & 15) + MIN_MATCH;
    if ((token & 15) === 15) {
      const [added, next] = readLength(src, ip, 'match');
      ml += added;
      ip = next;
    }
    if (op + ml > dst.length) throw new NaiveLz4Error('overrun', `match runs past the output end at byte ${op}`);
    if (ip === src.length) throw new NaiveLz4Error('truncated', 'block ends with a match, not with literals');
    lastMatchStart = op;
    // Byte by byte, so overlapping matches (offset < length) repeat their pattern.
    for (let k = 0; k < ml; k++, op++) dst[op] = dst[op - offset];
    lastMatchEnd = op;
  }
  if (lastMatchStart >= 0 && (lastMatchStart + MF_LIMIT > op || lastMatchEnd + LAST_LITERALS > op)) {
    throw new NaiveLz4Error('malformed', `last match at ${lastMatchStart}..${lastMatchEnd} breaks the end-of-block rules for ${op} bytes`);
  }
  return op;
}
