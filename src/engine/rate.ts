import type { Clock } from '../core/index.js';

/**
 * Bandwidth over recent windows: bytes are recorded as they leave, and the rate is taken over the
 * last `windowMs`, so an early slow start or a past stall does not skew the estimate for long.
 */
export class RateMeter {
  readonly #clock: Clock;
  readonly #windowMs: number;
  #samples: Array<{ t: number; bytes: number }> = [];
  #total = 0;
  #firstT: number | null = null;

  /** @param windowMs the averaging window in ms. @default 1000 */
  constructor(clock: Clock, windowMs = 1000) {
    this.#clock = clock;
    this.#windowMs = windowMs;
  }

  record(bytes: number): void {
    const t = this.#clock.now();
    if (this.#firstT === null) this.#firstT = t;
    this.#samples.push({ t, bytes });
    this.#total += bytes;
    const cutoff = t - this.#windowMs;
    let drop = 0;
    while (drop < this.#samples.length - 1 && this.#samples[drop].t < cutoff) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
  }

  /** Bytes per second over the window, or over everything so far when the window is not yet full; 0 if unknown. */
  bytesPerSec(): number {
    if (this.#samples.length === 0 || this.#firstT === null) return 0;
    const now = this.#clock.now();
    const start = Math.max(this.#firstT, now - this.#windowMs);
    const span = now - start;
    if (span <= 0) return 0;
    let bytes = 0;
    for (const s of this.#samples) if (s.t >= start) bytes += s.bytes;
    return (bytes * 1000) / span;
  }

  get totalBytes(): number {
    return this.#total;
  }
}

/**
 * Caps the sending rate as QEMU's max-bandwidth does: a token bucket with a small burst, so a
 * loopback can stand in for a slower link.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /**
   * @param rateBytesPerSec the cap; 0 means unlimited.
   * @param burstBytes largest burst. @default rate/20 (50 ms worth), at least 256 KiB
   */
  constructor(clock: Clock, rateBytesPerSec: number, burstBytes?: number) {
    this.#clock = clock;
    this.#rate = rateBytesPerSec;
    this.#burst = burstBytes ?? Math.max(256 * 1024, rateBytesPerSec / 20);
    this.#tokens = this.#burst;
    this.#last = clock.now();
  }

  get unlimited(): boolean {
    return this.#rate <= 0;
  }

  /** Waits until `bytes` may be sent. */
  async take(bytes: number): Promise<void> {
    if (this.#rate <= 0) return;
    this.#refill();
    this.#tokens -= bytes;
    if (this.#tokens < 0) {
      await this.#clock.sleep((-this.#tokens * 1000) / this.#rate);
      this.#refill();
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
  }
}
