/**
 * The link-following choice of `adaptive`: learns each plan's CPU rate and ratio on this guest's
 * pages (from PlanSampler's samples) and the link's rate (from how long the encoder waited on the
 * transport), and picks the plan that finishes the pages soonest. Encoding and sending overlap, so
 * a plan's time is max(CPU time, wire bytes / link rate); when the lightest plan that keeps up is
 * byte-bound and the next stronger one CPU-bound, a blend of the two balances them.
 */

import { CODEC_PLANS, type CodecPlanName, type PageClass, type PlanOrder, type PlanSamples } from './codec-plan.js';

/** A plan's rate and ratio on one page class. */
export interface ClassEstimate {
  /** Input bytes encoded per second on one thread. */
  cpuBytesPerSec: number;
  /** Output bytes / input bytes (1 = no gain). */
  ratio: number;
}

/** Per plan and page class. */
export type PlanStats = Partial<Record<CodecPlanName, Record<PageClass, ClassEstimate>>>;

/** The pages a prediction is for. */
export interface PageMix {
  /** Pages sent without a base (round 0, cache misses). */
  full: number;
  /** Changed cache hits (deltas, or full pages when the delta does not pay). */
  delta: number;
  /** Every page, zero and unchanged ones included (they cost the same overhead with any plan). */
  pages: number;
}

/** One candidate as the report shows it. */
export interface ChoiceCandidate {
  plan: string;
  /** Input bytes per second of encoding this mix, over the threads, overhead included. */
  cpuBytesPerSec: number;
  /** Predicted wire bytes / input bytes for this mix. */
  ratio: number;
  predictedMs: number;
}

/** What `adaptive` chose for a round (or part of one) and why. JSON-safe. */
export interface CodecChoice {
  /** The plan, or `a+b@f` for a blend that sends a fraction f of the pages with b. */
  plan: string;
  /** The link rate it assumed (bytes/s); null: the link has never held the encoder up (fast). */
  linkBytesPerSec: number | null;
  candidates: ChoiceCandidate[];
}

export interface ChooseOptions {
  pageSize: number;
  /** Encode threads working in parallel. @default 1 */
  threads?: number;
  /** Plan-independent cost per page (copy, hash, framing, cache), in ms on one thread. @default 0 */
  overheadMsPerPage?: number;
  /** Plans allowed. @default every plan with stats */
  candidates?: readonly CodecPlanName[];
  /**
   * Options within this fraction of the fastest count as equally fast; the one with the fewest wire
   * bytes wins among them. @default 0.03
   */
  tolerance?: number;
}

interface Option {
  plan: CodecPlanName;
  blend?: CodecPlanName;
  fraction: number;
  ms: number;
  outBytes: number;
}

/**
 * The plan (or blend of two) that sends `mix` soonest over a link of `linkBytesPerSec` (Infinity: a
 * link that never waits), ties within `tolerance` going to the fewest wire bytes. Pure.
 */
export function choosePlan(stats: PlanStats, linkBytesPerSec: number, mix: PageMix, o: ChooseOptions, current?: PlanOrder): {
  order: PlanOrder;
  choice: CodecChoice;
  /** Predicted time and wire bytes of the choice, and of `current` when given and known. */
  predicted: { ms: number; outBytes: number };
  currentPredicted?: { ms: number; outBytes: number };
} {
  const threads = Math.max(1, o.threads ?? 1);
  const ovh = Math.max(0, o.overheadMsPerPage ?? 0);
  const ps = o.pageSize;
  const names = (o.candidates ?? CODEC_PLANS).filter((p) => stats[p] !== undefined);
  const inBytes = (mix.full + mix.delta) * ps;
  const per = names.map((plan) => {
    const s = stats[plan]!;
    const cpuMs = ((mix.full * ps) / s.full.cpuBytesPerSec + (mix.delta * ps) / s.delta.cpuBytesPerSec) * 1000 / threads + (ovh * mix.pages) / threads;
    const outBytes = mix.full * ps * s.full.ratio + mix.delta * ps * s.delta.ratio;
    const linkMs = Number.isFinite(linkBytesPerSec) && linkBytesPerSec > 0 ? (outBytes * 1000) / linkBytesPerSec : 0;
    return { plan, cpuMs, linkMs, outBytes };
  });
  const options: Option[] = per.map((p) => ({ plan: p.plan, fraction: 0, ms: Math.max(p.cpuMs, p.linkMs), outBytes: p.outBytes }));
  // A blend of a byte-bound plan p and a CPU-bound plan q: at the fraction where CPU and link
  // times meet, both are busy all the time.
  for (const p of per) {
    for (const q of per) {
      const dp = p.cpuMs - p.linkMs;
      const dq = q.cpuMs - q.linkMs;
      if (!(dp < 0 && dq > 0)) continue;
      const f = dp / (dp - dq);
      options.push({ plan: p.plan, blend: q.plan, fraction: f, ms: p.cpuMs + f * (q.cpuMs - p.cpuMs), outBytes: p.outBytes + f * (q.outBytes - p.outBytes) });
    }
  }
  const fastest = Math.min(...options.map((x) => x.ms));
  const tol = o.tolerance ?? 0.03;
  let best: Option | null = null;
  for (const x of options) {
    if (x.ms > fastest * (1 + tol)) continue;
    if (best === null || x.outBytes < best.outBytes) best = x;
  }
  best ??= { plan: 'lz4-delta', fraction: 0, ms: 0, outBytes: 0 };
  let currentPredicted: { ms: number; outBytes: number } | undefined;
  const cp = current && per.find((x) => x.plan === current.plan);
  const cq = current?.blend !== undefined ? per.find((x) => x.plan === current.blend) : cp;
  if (cp && cq) {
    const f = current!.blend !== undefined ? (current!.blendFraction ?? 0) : 0;
    const mixOf = (k: 'cpuMs' | 'linkMs' | 'outBytes') => cp[k] + f * (cq[k] - cp[k]);
    currentPredicted = { ms: Math.max(mixOf('cpuMs'), mixOf('linkMs')), outBytes: mixOf('outBytes') };
  }
  return {
    predicted: { ms: best.ms, outBytes: best.outBytes },
    currentPredicted,
    order: best.blend ? { plan: best.plan, blend: best.blend, blendFraction: best.fraction } : { plan: best.plan },
    choice: {
      plan: planText({ plan: best.plan, blend: best.blend, blendFraction: best.fraction }),
      linkBytesPerSec: Number.isFinite(linkBytesPerSec) ? Math.round(linkBytesPerSec) : null,
      candidates: per.map((p) => ({
        plan: p.plan,
        cpuBytesPerSec: p.cpuMs > 0 ? Math.round((inBytes * 1000) / p.cpuMs) : 0,
        ratio: inBytes > 0 ? round3(p.outBytes / inBytes) : 0,
        predictedMs: round1(Math.max(p.cpuMs, p.linkMs)),
      })),
    },
  };
}

/** `plan`, or `plan+blend@fraction`. */
export function planText(o: PlanOrder): string {
  return o.blend !== undefined && o.blend !== o.plan && (o.blendFraction ?? 0) > 0 ? `${o.plan}+${o.blend}@${(o.blendFraction ?? 0).toFixed(2)}` : o.plan;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Where learning starts (before any sample): one-thread rates and ratios of the native codecs on
 * mixed guest pages, from the reference measurements (codecs.md), rounded down.
 */
export const PLAN_PRIORS: Readonly<Record<CodecPlanName, Record<PageClass, ClassEstimate>>> = Object.freeze({
  raw: { full: { cpuBytesPerSec: 4e9, ratio: 1 }, delta: { cpuBytesPerSec: 4e9, ratio: 1 } },
  'lz4-delta': { full: { cpuBytesPerSec: 600e6, ratio: 0.5 }, delta: { cpuBytesPerSec: 1.4e9, ratio: 0.06 } },
  'zstd-delta@-1': { full: { cpuBytesPerSec: 350e6, ratio: 0.45 }, delta: { cpuBytesPerSec: 900e6, ratio: 0.05 } },
  'zstd-delta@1': { full: { cpuBytesPerSec: 240e6, ratio: 0.38 }, delta: { cpuBytesPerSec: 650e6, ratio: 0.05 } },
});

/** One stretch of sending, as the source timed it. */
export interface WindowObservation {
  /** Wall time of the stretch, ms. */
  wallMs: number;
  /** Of it, time spent waiting for the transport (backpressure and the --max-bandwidth bucket), ms. */
  waitMs: number;
  /** Wire bytes sent in it. */
  wireBytes: number;
  /** The encoders' samples over it. */
  samples: PlanSamples;
}

export interface CodecChooserOptions {
  pageSize: number;
  /** Encode threads. @default 1 */
  threads?: number;
  /** --max-bandwidth in bytes/s (an upper bound on the link); 0 = none. @default 0 */
  capBytesPerSec?: number;
  /** Plans allowed. @default CODEC_PLANS */
  candidates?: readonly CodecPlanName[];
  /** The plan before anything is known. @default 'lz4-delta' */
  initialPlan?: CodecPlanName;
  /**
   * A stretch counts as held up by the link when it waited at least this share of it. Below it,
   * waits are taken for scheduling noise (a descheduled receiver on a loaded host), and the
   * stretch's rate only says the link is at least that fast. @default 0.4
   */
  boundShare?: number;
  /** Pages between two samples of the other plans. @default 64 */
  sampleEvery?: number;
}

/**
 * Learns rates from observations and decides. Estimates are EWMAs weighted by sample size, so a
 * few sampled pages nudge and a whole round mostly replaces.
 */
export class CodecChooser {
  readonly #o: Required<CodecChooserOptions>;
  readonly #stats: PlanStats = {};
  /** Pages behind each estimate so far (the first real sample replaces the prior). */
  readonly #seen = new Map<string, number>();
  #link = Number.POSITIVE_INFINITY;
  #linkMeasured = false;
  #overheadMs = 0.002;
  #windows = 0;
  #current: PlanOrder;

  constructor(o: CodecChooserOptions) {
    this.#o = {
      pageSize: o.pageSize,
      threads: Math.max(1, o.threads ?? 1),
      capBytesPerSec: o.capBytesPerSec ?? 0,
      candidates: o.candidates ?? CODEC_PLANS,
      initialPlan: o.initialPlan ?? 'lz4-delta',
      boundShare: o.boundShare ?? 0.4,
      sampleEvery: o.sampleEvery ?? 64,
    };
    for (const p of this.#o.candidates) this.#stats[p] = { full: { ...PLAN_PRIORS[p].full }, delta: { ...PLAN_PRIORS[p].delta } };
    if (this.#o.capBytesPerSec > 0) this.#link = this.#o.capBytesPerSec;
    this.#current = this.#order({ plan: this.#o.initialPlan });
  }

  /** The plan in force. */
  get current(): PlanOrder {
    return this.#current;
  }

  /** The link rate assumed now (bytes/s; Infinity when it never held the encoder up and there is no cap). */
  get linkBytesPerSec(): number {
    return this.#link;
  }

  /** A copy of the current estimates. */
  get stats(): PlanStats {
    return structuredClone(this.#stats);
  }

  /** Learns from one stretch of sending. */
  observe(w: WindowObservation): void {
    this.#learnRates(w.samples);
    if (w.wallMs <= 0) return;
    const offered = (w.wireBytes * 1000) / w.wallMs;
    if (w.waitMs >= this.#o.boundShare * w.wallMs && w.wireBytes > 0) {
      // Held up by the link: it drained what it was given, busy the whole stretch.
      this.#link = this.#linkMeasured ? (this.#link + offered) / 2 : offered;
      this.#linkMeasured = true;
    } else if (this.#linkMeasured && offered > this.#link) {
      // Never waited: the link is at least as fast as what was offered.
      this.#link = offered;
    }
    if (this.#o.capBytesPerSec > 0) this.#link = Math.min(this.#link, this.#o.capBytesPerSec);
    // Plan-independent cost per page: busy time not spent in codecs (and sampling).
    const s = w.samples;
    // The first stretch pays for JIT warm-up and first touches of the cache: not a steady overhead.
    if (this.#windows++ > 0 && s.pages >= 256) {
      // With worker threads, wall time × threads stands for their CPU time (rough, and only matters for light plans).
      const busy = Math.max(0, w.wallMs - w.waitMs) * this.#o.threads;
      const ovh = Math.min(0.02, Math.max(0, (busy - s.ownMs - s.sampleMs) / s.pages));
      this.#overheadMs = (this.#overheadMs + ovh) / 2;
    }
  }

  /**
   * Decides the plan for `mix`. With `hysteresis` (mid-round), the plan changes only when the
   * current one is predicted more than that share slower than the choice (or, as fast, that share
   * heavier on the wire).
   */
  decide(mix: PageMix, hysteresis = 0): { order: PlanOrder; choice: CodecChoice; changed: boolean } {
    const opts: ChooseOptions = { pageSize: this.#o.pageSize, threads: this.#o.threads, overheadMsPerPage: this.#overheadMs, candidates: this.#o.candidates };
    const r = choosePlan(this.#stats, this.#link, mix, opts, this.#current);
    const same = r.order.plan === this.#current.plan && r.order.blend === this.#current.blend
      && Math.abs((r.order.blendFraction ?? 0) - (this.#current.blendFraction ?? 0)) < 0.1;
    const cur = r.currentPredicted;
    const keep = same || (hysteresis > 0 && cur !== undefined
      && cur.ms <= r.predicted.ms * (1 + hysteresis) && cur.outBytes <= r.predicted.outBytes * (1 + hysteresis));
    if (keep) return { order: this.#current, choice: { ...r.choice, plan: planText(this.#current) }, changed: false };
    this.#current = this.#order(r.order);
    return { order: this.#current, choice: r.choice, changed: true };
  }

  #order(o: PlanOrder): PlanOrder {
    return { ...o, sampleEvery: this.#o.sampleEvery, candidates: this.#o.candidates };
  }

  #learnRates(samples: PlanSamples): void {
    for (const plan of Object.keys(samples.plans) as CodecPlanName[]) {
      const est = this.#stats[plan];
      if (!est) continue;
      for (const cls of Object.keys(samples.plans[plan]!) as PageClass[]) {
        const s = samples.plans[plan]![cls]!;
        if (s.pages === 0 || s.inBytes === 0) continue;
        const key = `${plan}/${cls}`;
        const seen = this.#seen.get(key) ?? 0;
        // Weight by sample size; the first sample replaces the prior outright.
        const a = seen === 0 ? 1 : s.pages / (s.pages + 64);
        this.#seen.set(key, seen + s.pages);
        const e = est[cls];
        // A timer reads in steps of a few µs; floor the time so a tiny group does not read as infinitely fast.
        const rate = (s.inBytes * 1000) / Math.max(s.ms, 0.0005 * s.pages);
        e.cpuBytesPerSec = e.cpuBytesPerSec + a * (rate - e.cpuBytesPerSec);
        e.ratio = e.ratio + a * (s.outBytes / s.inBytes - e.ratio);
      }
    }
  }
}
