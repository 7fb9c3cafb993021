/**
 * Fires when a channel has seen no progress for `timeoutMs`. One lazily re-armed timer per channel
 * instead of a timer reset per chunk: `touch()` is only a clock read.
 */
import { performance } from 'node:perf_hooks';

export class IdleTimer {
  readonly #timeoutMs: number;
  readonly #waitingOnUs: () => boolean;
  readonly #onTimeout: () => void;
  readonly #unref: boolean;
  #lastMs = performance.now();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param timeoutMs idle time, in ms; 0 disables the timer
   * @param waitingOnUs true while the stall is local (our consumer is not reading), which is not the peer's silence
   * @param unref do not keep the process alive for this timer alone
   */
  constructor(timeoutMs: number, waitingOnUs: () => boolean, onTimeout: () => void, unref: boolean) {
    this.#timeoutMs = timeoutMs;
    this.#waitingOnUs = waitingOnUs;
    this.#onTimeout = onTimeout;
    this.#unref = unref;
    if (timeoutMs > 0) this.#arm(timeoutMs);
  }

  touch(): void {
    this.#lastMs = performance.now();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(1, Math.ceil(delayMs)));
    if (this.#unref) this.#timer.unref();
  }

  #check(): void {
    this.#timer = undefined;
    const now = performance.now();
    const idleMs = now - this.#lastMs;
    if (idleMs < this.#timeoutMs) {
      this.#arm(this.#timeoutMs - idleMs);
    } else if (this.#waitingOnUs()) {
      this.#lastMs = now;
      this.#arm(this.#timeoutMs);
    } else {
      this.#onTimeout();
    }
  }
}
