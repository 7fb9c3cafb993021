/**
 * Loader for livemig's own N-API addon (`native/livemig_native.c`, built by `npm install` through
 * node-gyp into `build/Release/livemig_native.node`). It is loaded lazily, on the first use of an
 * LZ4 codec, so that a livemig without a compiler still runs with the pure-TS codecs.
 */

import { createRequire } from 'node:module';
import { LivemigError } from '../core/errors.js';

/** What `lz4DeltaCompress` returns when `old` and `page` are identical (nothing is written). */
export const NATIVE_DELTA_UNCHANGED = -1;
/** Decode failure: the input ends inside a sequence, or is empty. */
export const NATIVE_E_TRUNCATED = -2;
/** Decode failure: offset 0 or before the start, bytes after a complete page, end-of-block rules. */
export const NATIVE_E_MALFORMED = -3;
/** Decode failure: the block would produce more bytes than the destination holds. */
export const NATIVE_E_OVERRUN = -4;
/** Delta decode failure: a valid block that produces fewer bytes than the page. */
export const NATIVE_E_SHORT = -5;

/** What the addon accepts as a buffer: any TypedArray (not a DataView); lengths count bytes. */
export type NativeBytes =
  | Uint8Array | Int8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** The addon's functions. Buffers are any TypedArray; lengths are in bytes. */
export interface NativeBinding {
  /** memcpy of `src` into the start of `dst` (which must be at least as long); returns the bytes copied. */
  copyBytes(src: NativeBytes, dst: NativeBytes): number;
  /**
   * Compresses `src` as one raw LZ4 block into `dst`, writing at most `maxBytes` bytes
   * (@default dst.byteLength). Returns the bytes written, or 0 when the block does not fit.
   */
  lz4Compress(src: NativeBytes, dst: NativeBytes, maxBytes?: number): number;
  /**
   * Decodes one raw LZ4 block into `dst`. Returns the bytes produced, or a `NATIVE_E_*` code (< 0).
   * Never writes past `dst`; bytes of `dst` past the returned length are unspecified.
   */
  lz4Decompress(src: NativeBytes, dst: NativeBytes): number;
  /** liblz4's own `LZ4_decompress_safe`, unvalidated (accepts offset 0): for tests and benchmarks. */
  lz4DecompressSystem(src: NativeBytes, dst: NativeBytes): number;
  /**
   * XORs `old` and `page` (same length, at most MAX_DELTA_PAGE_BYTES) into the addon's scratch and
   * compresses that into `dst` (at most `maxBytes`, @default dst.byteLength). Returns the bytes
   * written, 0 when it does not fit, or NATIVE_DELTA_UNCHANGED when the pages are identical.
   */
  lz4DeltaCompress(old: NativeBytes, page: NativeBytes, dst: NativeBytes, maxBytes?: number): number;
  /**
   * Decodes `src`, which must produce exactly `page.byteLength` bytes, and XORs it into `page`.
   * Returns `page.byteLength`, or a `NATIVE_E_*` code with `page` untouched.
   */
  lz4DeltaDecompress(src: NativeBytes, page: NativeBytes): number;
  /**
   * Compresses `src` (at most MAX_DELTA_PAGE_BYTES) as one magicless zstd frame (no content size,
   * checksum or dictionary id) at `level` (ZSTD_MIN_LEVEL..ZSTD_MAX_LEVEL) into `dst`, writing at
   * most `maxBytes` (@default dst.byteLength). Returns the bytes written, or 0 when it does not fit.
   */
  zstdCompress(src: NativeBytes, dst: NativeBytes, level: number, maxBytes?: number): number;
  /**
   * Decodes `src`, which must be exactly one magicless zstd frame producing exactly `dst.byteLength`
   * bytes, into `dst`. Returns `dst.byteLength` or a `NATIVE_E_*` code; never writes past `dst`.
   */
  zstdDecompress(src: NativeBytes, dst: NativeBytes): number;
  /**
   * `lz4DeltaCompress` with zstd: XOR into scratch, then one magicless frame at `level`. Returns
   * the bytes written, 0 when it does not fit, or NATIVE_DELTA_UNCHANGED when the pages are identical.
   */
  zstdDeltaCompress(old: NativeBytes, page: NativeBytes, dst: NativeBytes, level: number, maxBytes?: number): number;
  /**
   * Decodes one frame producing exactly `page.byteLength` XOR bytes into scratch and applies it to
   * `page`. Returns `page.byteLength`, or a `NATIVE_E_*` code with `page` untouched.
   */
  zstdDeltaDecompress(src: NativeBytes, page: NativeBytes): number;
  /**
   * `zstdCompress` for a multi-page block: `src` up to MAX_BLOCK_BYTES. Returns the bytes written,
   * or 0 when the frame does not fit in `maxBytes` (@default dst.byteLength).
   */
  zstdCompressBlock(src: NativeBytes, dst: NativeBytes, level: number, maxBytes?: number): number;
  /**
   * `zstdDecompress` for a multi-page block: `dst` up to MAX_BLOCK_BYTES, filled exactly by one
   * magicless frame. Returns `dst.byteLength` or a `NATIVE_E_*` code; never writes past `dst`.
   */
  zstdDecompressBlock(src: NativeBytes, dst: NativeBytes): number;
  /**
   * Compresses a block (`src` up to MAX_BLOCK_BYTES) on libuv's thread pool with zstd at `level`,
   * or LZ4 when `level` is null. `done(n)` runs on this thread: n > 0 bytes written to `dst`, 0 the
   * output does not fit `maxBytes`, -1 the codec failed (`why` says how). Until then `src` and
   * `dst` are held and must not be touched.
   */
  blockCompressAsync(src: NativeBytes, dst: NativeBytes, level: number | null, maxBytes: number, done: (n: number, why?: string) => void): void;
  /**
   * The first `length` bytes of the regular file `path`, mapped shared and writable (unmapped when
   * the buffer is collected). Throws an Error with code LIVEMIG_E_SHARED_RAM when the file is
   * missing, not a regular file, shorter than `length`, or cannot be mapped.
   */
  mapSharedFile(path: string, length: number): ArrayBuffer;
  /** Largest block the zstd *Block functions accept, in bytes (64 pages of 64 KiB). */
  readonly MAX_BLOCK_BYTES: number;
  /** libzstd's version as major*10000 + minor*100 + release. */
  readonly ZSTD_VERSION_NUMBER: number;
  /** The library's lowest (fastest, negative) and highest compression levels. */
  readonly ZSTD_MIN_LEVEL: number;
  readonly ZSTD_MAX_LEVEL: number;
  /** liblz4's version as major*10000 + minor*100 + release. */
  readonly LZ4_VERSION_NUMBER: number;
  /** Largest page the delta functions accept, in bytes. */
  readonly MAX_DELTA_PAGE_BYTES: number;
}

/** Where node-gyp puts the addon, relative to this module in dist/src/codec/ (or src/codec/ via tsx). */
const CANDIDATES = ['../../../build/Release/livemig_native.node', '../../build/Release/livemig_native.node'];

let binding: NativeBinding | undefined;
let failure: LivemigError | undefined;

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const path of CANDIDATES) {
    try {
      const b = require(path) as NativeBinding & Record<string, unknown>;
      // A stale build with other return codes would misreport errors: refuse it.
      if (b.E_MALFORMED !== NATIVE_E_MALFORMED || b.DELTA_UNCHANGED !== NATIVE_DELTA_UNCHANGED || typeof b.zstdCompress !== 'function' || typeof b.zstdCompressBlock !== 'function' || typeof b.mapSharedFile !== 'function' || typeof b.blockCompressAsync !== 'function') {
        errors.push(`${path}: built from a different version of native/livemig_native.c`);
        continue;
      }
      return b;
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new LivemigError(
    'LIVEMIG_E_NATIVE_UNAVAILABLE',
    'The LZ4 and zstd codecs need livemig\'s native addon, which could not be loaded. Run `npm install` (or ' +
      '`npx node-gyp rebuild`) in the livemig directory; it needs python3, make, a C compiler ' +
      '(apt-get install build-essential python3) and the liblz4.so.1 and libzstd.so.1 runtimes (apt-get install liblz4-1 libzstd1). ' +
      `Tried: ${errors.join('; ')}`,
  );
}

/**
 * The addon, loaded on first call.
 * @throws LivemigError LIVEMIG_E_NATIVE_UNAVAILABLE when it is not built or cannot be loaded (the
 *   same error again on every later call, without retrying the load).
 */
export function nativeBinding(): NativeBinding {
  if (binding !== undefined) return binding;
  if (failure !== undefined) throw failure;
  try {
    binding = load();
    return binding;
  } catch (err) {
    failure = err as LivemigError;
    throw failure;
  }
}

/** True when the addon loads; never throws. */
export function isNativeAvailable(): boolean {
  try {
    nativeBinding();
    return true;
  } catch {
    return false;
  }
}

/**
 * The LivemigError for a failed native decode: `rc` is a NATIVE_E_* code (or a byte count other
 * than the page size, for a valid but short block).
 */
export function nativeDecodeError(rc: number, codec: string, payloadBytes: number, pageBytes: number): LivemigError {
  const what = `${codec} payload of ${payloadBytes} bytes for a ${pageBytes}-byte page`;
  switch (rc) {
    case NATIVE_E_TRUNCATED:
      return new LivemigError('LIVEMIG_E_CODEC_TRUNCATED', `${what} ends inside an LZ4 sequence (or is empty); the sender or the link cut it short`);
    case NATIVE_E_OVERRUN:
      return new LivemigError('LIVEMIG_E_CODEC_OVERRUN', `${what} would write past the end of the page`);
    case NATIVE_E_MALFORMED:
      return new LivemigError('LIVEMIG_E_CODEC_MALFORMED', `${what} is not a valid LZ4 block (match offset 0 or before the start of the page, bytes after a complete page, or a match in the last 12 bytes)`);
    default:
      return new LivemigError('LIVEMIG_E_CODEC_TRUNCATED', `${what} is a valid LZ4 block but produces ${rc === NATIVE_E_SHORT ? 'fewer' : rc} bytes, not the whole page`);
  }
}
