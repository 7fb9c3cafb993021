/**
 * Reuses batch buffers once the transport has written them out. Fresh memory costs a page fault
 * per 4 KiB on first touch, which under nested virtualisation is dearer than the copy itself.
 */
export class FramePool {
  readonly #bytes: number;
  readonly #max: number;
  readonly #free: Uint8Array[] = [];

  /**
   * @param bytes size of every pooled buffer
   * @param maxBuffers free buffers kept at most (the rest are left to the GC). @default 32
   */
  constructor(bytes: number, maxBuffers = 32) {
    this.#bytes = bytes;
    this.#max = maxBuffers;
  }

  /** A buffer of `bytes` bytes: a reused one when the size matches and one is free. */
  allocate = (bytes: number): Uint8Array => {
    if (bytes === this.#bytes) {
      const b = this.#free.pop();
      if (b) return b;
    }
    return new Uint8Array(bytes);
  };

  /** Gives back a frame the transport no longer references (a view of a pooled buffer, or not). */
  release(frame: Uint8Array): void {
    if (frame.buffer.byteLength !== this.#bytes || frame.byteOffset !== 0 || this.#free.length >= this.#max) return;
    this.#free.push(new Uint8Array(frame.buffer, 0, this.#bytes));
  }
}
