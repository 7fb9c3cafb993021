import { isNativeAvailable, nativeBinding } from './native.js';

/**
 * Copies `src` into the start of `dst`. Guest memory is a SharedArrayBuffer, which V8 copies with
 * relaxed atomics (byte by byte when alignments differ, ~4x slower); the addon's memcpy avoids that.
 * Without the addon it falls back to TypedArray.set.
 */
export const copyBytes: (src: Uint8Array, dst: Uint8Array) => void = isNativeAvailable()
  ? (() => {
      const native = nativeBinding();
      return (src: Uint8Array, dst: Uint8Array) => {
        native.copyBytes(src, dst);
      };
    })()
  : (src, dst) => dst.set(src);
