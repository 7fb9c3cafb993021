/**
 * Internal: a bounds-checked little-endian reader for control bodies, and UTF-8 helpers. Every
 * read checks the remaining length first, so a malformed body raises LIVEMIG_E_WIRE_MALFORMED and
 * never reads out of bounds. Not part of the folder's public surface.
 */

import { LivemigError } from '../core/errors.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** A malformed-body error naming the frame and the problem. */
export function malformed(what: string, detail: string): LivemigError {
  return new LivemigError('LIVEMIG_E_WIRE_MALFORMED', `${what}: ${detail}`);
}

/** Reads a body front to back; `end()` insists every byte was consumed. */
export class BodyReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #pos = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  #need(n: number, field: string): number {
    const at = this.#pos;
    if (this.#bytes.length - at < n) {
      throw malformed(this.#what, `body ends at byte ${this.#bytes.length} inside field '${field}' (needs ${n} bytes at ${at})`);
    }
    this.#pos = at + n;
    return at;
  }

  u8(field: string): number {
    return this.#view.getUint8(this.#need(1, field));
  }

  u16(field: string): number {
    return this.#view.getUint16(this.#need(2, field), true);
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#need(4, field), true);
  }

  /** A u64 that must fit a JS safe integer (2^53 - 1). */
  u64(field: string): number {
    const at = this.#need(8, field);
    const lo = this.#view.getUint32(at, true);
    const hi = this.#view.getUint32(at + 4, true);
    if (hi > 0x1f_ffff) throw malformed(this.#what, `field '${field}' exceeds 2^53 - 1`);
    return hi * 0x1_0000_0000 + lo;
  }

  f64(field: string): number {
    return this.#view.getFloat64(this.#need(8, field), true);
  }

  /** A 0/1 byte; any other value is rejected. */
  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) throw malformed(this.#what, `field '${field}' must be 0 or 1, got ${v}`);
    return v === 1;
  }

  /** `n` raw bytes (a view, no copy). */
  bytes(n: number, field: string): Uint8Array {
    const at = this.#need(n, field);
    return this.#bytes.subarray(at, at + n);
  }

  /** A u16-length-prefixed UTF-8 string; invalid UTF-8 is rejected. */
  string16(field: string): string {
    const raw = this.bytes(this.u16(`${field} length`), field);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw malformed(this.#what, `field '${field}' is not valid UTF-8`);
    }
  }

  end(): void {
    if (this.#pos !== this.#bytes.length) {
      throw malformed(this.#what, `${this.#bytes.length - this.#pos} unexpected trailing bytes after the last field`);
    }
  }
}

/** Decodes UTF-8 strictly; invalid input becomes LIVEMIG_E_WIRE_MALFORMED. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw malformed(what, 'body is not valid UTF-8');
  }
}

/** UTF-8 bytes of `text`, cut at a character boundary to at most `maxBytes` (human text only). */
export function encodeUtf8Bounded(text: string, maxBytes: number): Uint8Array {
  const bytes = utf8Encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back off over continuation bytes (10xxxxxx) so a multi-byte character is never split.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** UTF-8 bytes of `text`. */
export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
