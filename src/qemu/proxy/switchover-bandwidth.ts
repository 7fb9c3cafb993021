/**
 * The bandwidth QEMU sizes its switchover with, when livemig carries the stream.
 *
 * QEMU stops the guest once what is left fits `bandwidth × downtime-limit`. By itself it takes the
 * rate at which it writes stream bytes into the source agent's socket. Through livemig those bytes
 * travel compressed 5-7× (a text guest), so the agent keeps up with a fast stream, and QEMU leaves
 * much behind for the stopped guest: 31-45 MB on the 512 MiB text guest, 136-198 ms of downtime
 * over 2 × 200 mbit. QEMU's own compressed migration (multifd + zstd) counts the compressed bytes
 * it sent instead, which leaves less behind.
 *
 * In `wire` mode livemig does the same: it sets `avail-switchover-bandwidth` to the highest rate its
 * channel has sent at, in wire bytes, over windows of at least `WINDOW_MS`. The peak, not the latest
 * window: once only re-dirtied pages are left the channel idles, and a rate measured then would
 * shrink the budget below what a round leaves behind, and the migration would never stop.
 * The price: more live rounds before the switchover, as with QEMU's compressed migrations. A guest
 * that re-dirties more than `wire rate × downtime-limit` of memory per round would never stop (a
 * 1 GiB guest with a 128 MiB hot set ran 311 syncs in 90 s), so after `RELAX_AFTER_SYNCS` dirty
 * syncs the budget doubles at each sync until it reaches QEMU's own estimate, which then takes over:
 * the downtime-limit still holds, measured as QEMU measures it.
 */

/** `wire`: QEMU's budget counts livemig's wire bytes; `qemu`: QEMU's own estimate (stream bytes). */
export type SwitchoverBandwidthMode = 'wire' | 'qemu';
export const SWITCHOVER_BANDWIDTH_MODES: readonly SwitchoverBandwidthMode[] = ['wire', 'qemu'];

/** Shortest window a rate is measured over: shorter ones see socket-buffer bursts. */
export const WINDOW_MS = 250;
/** A new peak is passed on to QEMU when it moved by more than this fraction. */
const CHANGE = 0.1;
/** Dirty syncs (QEMU's first pass is one) after which the budget relaxes towards QEMU's own. */
export const RELAX_AFTER_SYNCS = 5;

/** Follows the channel's sent bytes; `poll` says when to tell QEMU a new switchover bandwidth. */
export class SwitchoverBandwidth {
  readonly #bytesSent: () => number;
  readonly #now: () => number;
  #windowStartMs = Number.NaN;
  #windowStartBytes = 0;
  #peak = 0;
  #told = 0;
  #handedBack = false;

  constructor(bytesSent: () => number, now: () => number = () => performance.now()) {
    this.#bytesSent = bytesSent;
    this.#now = now;
  }

  /** The highest windowed rate so far, bytes/s (0 before the first whole window). */
  get peakBytesPerSec(): number {
    return this.#peak;
  }

  /**
   * Bytes/s to set as `avail-switchover-bandwidth` now (0: QEMU's own estimate from now on), or null
   * when QEMU already has a close value. `dirtySyncs` and `qemuBytesPerSec` (its own estimate, `mbps`)
   * come from the latest query-migrate.
   */
  poll(dirtySyncs: number, qemuBytesPerSec: number): number | null {
    if (this.#handedBack) return null;
    const t = this.#now();
    const bytes = this.#bytesSent();
    if (Number.isNaN(this.#windowStartMs)) {
      this.#windowStartMs = t;
      this.#windowStartBytes = bytes;
      return null;
    }
    const dt = t - this.#windowStartMs;
    if (dt >= WINDOW_MS) {
      this.#peak = Math.max(this.#peak, ((bytes - this.#windowStartBytes) * 1000) / dt);
      this.#windowStartMs = t;
      this.#windowStartBytes = bytes;
    }
    if (this.#peak < 1) return null;
    const want = this.#peak * 2 ** Math.max(0, dirtySyncs - RELAX_AFTER_SYNCS);
    if (dirtySyncs > RELAX_AFTER_SYNCS && want >= qemuBytesPerSec) {
      this.#handedBack = true;
      return 0;
    }
    if (Math.abs(want - this.#told) <= this.#told * CHANGE) return null;
    this.#told = Math.round(want);
    return this.#told;
  }
}
