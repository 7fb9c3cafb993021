import { LivemigError } from '../core/index.js';

/** When pre-copy stops iterating, and how hard the guest is throttled meanwhile. */
export interface ConvergenceOptions {
  /** Longest acceptable pause, end to end, in ms. @default 300 */
  downtimeLimitMs: number;
  /** Rounds after which the limit action applies (round 0 included). @default 30 */
  maxRounds: number;
  /** Pre-copy time after which the limit action applies, in ms. @default 600000 */
  maxTotalMs: number;
  /**
   * What to do at a limit: 'force' pauses the guest and completes with a longer downtime (reported as
   * not converged); 'abort' gives up and leaves the guest running on the source. @default 'force'
   */
  onLimit: 'force' | 'abort';
  /** Throttle the workload when dirtying outruns sending, as QEMU's auto-converge. @default true */
  autoConverge: boolean;
  /** First throttle step, as a share of time (QEMU cpu-throttle-initial 20%). @default 0.2 */
  throttleInitial: number;
  /** Later throttle steps (QEMU cpu-throttle-increment 10%). @default 0.1 */
  throttleIncrement: number;
  /** Highest throttle (QEMU max-cpu-throttle 99%). @default 0.99 */
  throttleMax: number;
}

export const DEFAULT_CONVERGENCE: ConvergenceOptions = {
  downtimeLimitMs: 300,
  maxRounds: 30,
  maxTotalMs: 600_000,
  onLimit: 'force',
  autoConverge: true,
  throttleInitial: 0.2,
  throttleIncrement: 0.1,
  throttleMax: 0.99,
};

/** What the source saw in the round that just ended, plus the dirty set synced after it. */
export interface RoundObservation {
  /** The round that just ended (0 = the full pass). */
  round: number;
  /** Time since pre-copy started, in ms. */
  elapsedMs: number;
  /** Measured wire bandwidth over recent windows, bytes/s. */
  bandwidthBytesPerSec: number;
  /** Pages dirty now, which the next round (or stop-and-copy) must send. */
  dirtyPages: number;
  /** Wire bytes per page the last round actually cost (after compression, framing included). */
  wireBytesPerPage: number;
  /** Wire bytes sent during the round that just ended. */
  wireBytesInRound: number;
  /** Fixed cost of the switchover (the verdict's round trip), in ms. @default 0 */
  switchoverMs?: number;
}

export type ConvergenceAction = 'continue' | 'stop-copy' | 'force-stop-copy' | 'abort';

export interface ConvergenceDecision {
  action: ConvergenceAction;
  /** Wire bytes the dirty set is expected to cost, from this migration's measured ratio. */
  remainingWireBytes: number;
  /** remainingWireBytes at the measured bandwidth, in ms. */
  expectedDowntimeMs: number;
  /** Throttle to apply to the workload from now on (0..throttleMax). */
  throttle: number;
  reason: string;
}

/**
 * Decides after each round whether to iterate again or to stop and copy. Unlike QEMU, which counts
 * raw dirty bytes, it estimates what the dirty set will cost *after compression*.
 */
export class ConvergencePolicy {
  readonly options: ConvergenceOptions;
  #throttle = 0;
  #highCount = 0;

  constructor(options: Partial<ConvergenceOptions> = {}) {
    this.options = validateConvergence({ ...DEFAULT_CONVERGENCE, ...options });
  }

  get throttle(): number {
    return this.#throttle;
  }

  decide(obs: RoundObservation): ConvergenceDecision {
    const o = this.options;
    const remainingWireBytes = obs.dirtyPages * obs.wireBytesPerPage;
    const transferMs =
      remainingWireBytes === 0 ? 0 : obs.bandwidthBytesPerSec > 0 ? (remainingWireBytes * 1000) / obs.bandwidthBytesPerSec : Infinity;
    const expectedDowntimeMs = transferMs + (obs.switchoverMs ?? 0);
    const base = { remainingWireBytes, expectedDowntimeMs };
    if (expectedDowntimeMs <= o.downtimeLimitMs) {
      return { ...base, action: 'stop-copy', throttle: this.#throttle, reason: `expected downtime ${fmt(expectedDowntimeMs)} ms fits the ${o.downtimeLimitMs} ms limit` };
    }
    const limit =
      obs.round + 1 >= o.maxRounds ? `reached ${o.maxRounds} rounds` : obs.elapsedMs >= o.maxTotalMs ? `reached ${o.maxTotalMs} ms of pre-copy` : null;
    if (limit) {
      return {
        ...base,
        action: o.onLimit === 'force' ? 'force-stop-copy' : 'abort',
        throttle: this.#throttle,
        reason: `${limit} with an expected downtime of ${fmt(expectedDowntimeMs)} ms over the ${o.downtimeLimitMs} ms limit`,
      };
    }
    this.#autoConverge(obs, remainingWireBytes);
    return { ...base, action: 'continue', throttle: this.#throttle, reason: `expected downtime ${fmt(expectedDowntimeMs)} ms over the ${o.downtimeLimitMs} ms limit` };
  }

  // QEMU's rule: when the dirty set outgrows half of what a period sent, twice in a row, throttle more.
  #autoConverge(obs: RoundObservation, remainingWireBytes: number): void {
    if (!this.options.autoConverge || obs.round === 0) return;
    if (remainingWireBytes > 0.5 * obs.wireBytesInRound) {
      this.#highCount++;
      if (this.#highCount >= 2) {
        this.#highCount = 0;
        const next = this.#throttle === 0 ? this.options.throttleInitial : this.#throttle + this.options.throttleIncrement;
        this.#throttle = Math.min(this.options.throttleMax, next);
      }
    } else {
      this.#highCount = 0;
    }
  }
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(0) : '∞';
}

function validateConvergence(o: ConvergenceOptions): ConvergenceOptions {
  const bad = (name: string, expected: string, got: unknown): never => {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected ${name} to be ${expected}, got ${String(got)}`);
  };
  if (!(o.downtimeLimitMs > 0)) bad('downtimeLimitMs', 'a positive number of milliseconds', o.downtimeLimitMs);
  if (!Number.isInteger(o.maxRounds) || o.maxRounds < 1) bad('maxRounds', 'an integer ≥ 1', o.maxRounds);
  if (!(o.maxTotalMs > 0)) bad('maxTotalMs', 'a positive number of milliseconds', o.maxTotalMs);
  if (o.onLimit !== 'force' && o.onLimit !== 'abort') bad('onLimit', "'force' or 'abort'", o.onLimit);
  for (const k of ['throttleInitial', 'throttleIncrement', 'throttleMax'] as const) {
    if (!(o[k] > 0 && o[k] < 1)) bad(k, 'a share between 0 and 1', o[k]);
  }
  return o;
}
