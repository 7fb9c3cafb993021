import { setTimeout as delay } from 'node:timers/promises';

/** Time source, injected so that policies can be tested under a fake clock. */
export interface Clock {
  /** Monotonic milliseconds (fractional). */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => (ms > 0 ? delay(ms) : Promise.resolve()),
};

/** Wall-clock milliseconds since the epoch, with sub-millisecond precision; comparable across processes of one host. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A clock that only moves when told to; sleep() advances it instantly. */
export class FakeClock implements Clock {
  #t = 0;
  now(): number {
    return this.#t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
  sleep(ms: number): Promise<void> {
    this.#t += Math.max(0, ms);
    return Promise.resolve();
  }
}
