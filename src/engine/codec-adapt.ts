/**
 * Drives the link-following `adaptive` codec during a migration: decides a plan before each round
 * (the stop-and-copy one too), times how long sending waited on the transport in windows of a few
 * hundred ms, feeds that and the encoders' samples to the CodecChooser, and re-decides mid-round
 * when the figures say another plan would finish the rest of the round clearly sooner.
 */

import type { Clock } from '../core/index.js';
import { CodecChooser, type CodecChoice, type PageMix } from './codec-chooser.js';
import { emptySamples, mergeSamples, type PlanSamples } from './codec-plan.js';
import type { EmitFrame, RoundEncoder } from './round-encoder.js';

/** A round's `codec-choice` in the report: the choice at the round's start, and any later switches. */
export interface RoundCodecChoice extends CodecChoice {
  /** Mid-round changes: ms after the round started, the new plan and the link rate it assumed. */
  switches?: Array<{ 'at-ms': number; plan: string; linkBytesPerSec: number | null }>;
}

export interface AdaptiveDriverOptions {
  /** Length of a measuring window, ms. @default 250 */
  windowMs?: number;
  /** Page-cache slots (for the first guess of round 1's hits). @default Infinity */
  cacheSlots?: number;
  /** A mid-round switch needs a predicted gain above this share (load makes rates jitter). @default 0.15 */
  hysteresis?: number;
}

/** The encoder surface the driver needs: an adaptive RoundEncoder. */
type PlannedEncoder = Required<Pick<RoundEncoder, 'setPlan' | 'takeSamples'>>;

export class AdaptiveDriver {
  readonly #enc: PlannedEncoder;
  readonly #chooser: CodecChooser;
  readonly #clock: Clock;
  readonly #wireBytes: () => number;
  readonly #windowMs: number;
  readonly #cacheSlots: number;
  readonly #hysteresis: number;
  #windowStart = 0;
  #windowWire = 0;
  #waitMs = 0;
  #roundStart = 0;
  #roundSamples: PlanSamples = emptySamples();
  #lastMix: PageMix | null = null;
  #lastRound = -1;
  #row: RoundCodecChoice | null = null;

  /** `wireBytes` reads the bytes sent so far (all frames). */
  constructor(enc: PlannedEncoder, chooser: CodecChooser, clock: Clock, wireBytes: () => number, o: AdaptiveDriverOptions = {}) {
    this.#enc = enc;
    this.#chooser = chooser;
    this.#clock = clock;
    this.#wireBytes = wireBytes;
    this.#windowMs = o.windowMs ?? 250;
    this.#cacheSlots = o.cacheSlots ?? Number.POSITIVE_INFINITY;
    this.#hysteresis = o.hysteresis ?? 0.15;
  }

  /** Decides the plan for round `round` of `dirtyPages` pages and hands it to the encoder. */
  beginRound(round: number, dirtyPages: number): void {
    const d = this.#chooser.decide(this.#predictMix(round, dirtyPages));
    this.#enc.setPlan(d.order);
    this.#row = d.choice;
    this.#roundSamples = emptySamples();
    this.#roundStart = this.#clock.now();
    this.#openWindow();
  }

  /** `emit` with the time it waits measured, closing a window (and maybe switching plan) when one is due. */
  wrap(emit: EmitFrame): EmitFrame {
    return async (frame, onSent) => {
      const t = this.#clock.now();
      await emit(frame, onSent);
      const now = this.#clock.now();
      this.#waitMs += now - t;
      if (now - this.#windowStart >= this.#windowMs) this.#closeWindow(true);
    };
  }

  /** Closes the round's last window; returns the round's report entry. */
  endRound(round: number): RoundCodecChoice {
    this.#closeWindow(false);
    const s = this.#roundSamples;
    this.#lastMix = { full: s.full, delta: s.delta, pages: s.pages };
    this.#lastRound = round;
    const row = this.#row!;
    this.#row = null;
    return row;
  }

  /** The chooser (estimates, link rate). */
  get chooser(): CodecChooser {
    return this.#chooser;
  }

  #openWindow(): void {
    this.#windowStart = this.#clock.now();
    this.#windowWire = this.#wireBytes();
    this.#waitMs = 0;
  }

  #closeWindow(midRound: boolean): void {
    const samples = this.#enc.takeSamples() ?? emptySamples();
    mergeSamples(this.#roundSamples, samples);
    const now = this.#clock.now();
    this.#chooser.observe({ wallMs: now - this.#windowStart, waitMs: this.#waitMs, wireBytes: this.#wireBytes() - this.#windowWire, samples });
    this.#openWindow();
    const s = this.#roundSamples;
    if (!midRound || s.full + s.delta === 0 || this.#row === null) return;
    // The rest of the round looks like what it has been so far.
    const d = this.#chooser.decide({ full: s.full, delta: s.delta, pages: s.pages }, this.#hysteresis);
    if (!d.changed) return;
    this.#enc.setPlan(d.order);
    (this.#row.switches ??= []).push({ 'at-ms': Math.round(now - this.#roundStart), plan: d.choice.plan, linkBytesPerSec: d.choice.linkBytesPerSec });
  }

  /** The next round's mix: the last round's shares scaled to `dirtyPages`; round 0 is all full pages. */
  #predictMix(round: number, dirtyPages: number): PageMix {
    const last = this.#lastMix;
    if (round === 0 || last === null || last.pages === 0) return { full: dirtyPages, delta: 0, pages: dirtyPages };
    const sent = (last.full + last.delta) / last.pages;
    if (this.#lastRound === 0) {
      // Round 0 had nothing to hit. Every page it sent went into the cache, which keeps at most
      // cacheSlots of them, so a re-dirtied page is still there with about that share.
      const hit = Math.min(1, this.#cacheSlots / Math.max(1, last.full + last.delta));
      return { full: dirtyPages * sent * (1 - hit), delta: dirtyPages * sent * hit, pages: dirtyPages };
    }
    const k = dirtyPages / last.pages;
    return { full: last.full * k, delta: last.delta * k, pages: dirtyPages };
  }
}

/** The encoder as a PlannedEncoder when it supports plans, else null. */
export function plannedEncoder(enc: RoundEncoder): PlannedEncoder | null {
  return enc.setPlan && enc.takeSamples ? (enc as PlannedEncoder) : null;
}
