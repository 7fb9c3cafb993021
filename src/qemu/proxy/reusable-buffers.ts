/**
 * Output buffers that go back to a small free list once a socket has taken their bytes. A fresh
 * ~256 KiB buffer per rebuilt frame made the destination agent spend about 15 % of its CPU in
 * garbage collection (external memory counts toward V8's heap limits).
 */
export class ReusableBuffers {
  readonly #free: Uint8Array[] = [];
  readonly #keep: number;
  readonly #minBytes: number;

  /**
   * @param keep buffers kept for reuse at most
   * @param minBytes smallest buffer allocated, so that one size serves most requests
   */
  constructor(keep = 8, minBytes = 256 * 1024) {
    this.#keep = keep;
    this.#minBytes = minBytes;
  }

  /** A buffer of at least `bytes` bytes: a free one if one is large enough, else a new one. */
  take(bytes: number): Uint8Array {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      if (this.#free[i].length >= bytes) return this.#free.splice(i, 1)[0];
    }
    return Buffer.allocUnsafeSlow(Math.max(bytes, this.#minBytes));
  }

  /** Returns a buffer from `take`; its bytes must no longer be in use. */
  give(buffer: Uint8Array): void {
    if (this.#free.length < this.#keep) this.#free.push(buffer);
  }

  /** Buffers waiting for reuse. */
  get free(): number {
    return this.#free.length;
  }
}
