/**
 * Codec plans of the link-following `adaptive` codec: which codec sends a page in full and which
 * one sends a re-dirtied page as a delta, plus the per-page samples the chooser learns from.
 *
 * Every plan shares one page cache (it stores what was sent, whatever the codec), so the plan can
 * change between any two pages: the destination decodes each record by its own codec id.
 */

import { LivemigError } from '../core/index.js';
import { blockCodecOf, BLOCK_MASK_BYTES, MAX_BLOCK_PAGES, getCodec, type BlockCodec, type PageCodec } from '../codec/index.js';

/**
 * The plans `adaptive` chooses from, lightest first. zstd level 3 is left out: on the synthetic
 * guest's text pages it saved 3 % of level 1's bytes for about 20 % more CPU (132 vs 160 MB/s,
 * ratio 0.297 vs 0.306, one loaded core), which no link here repays; level -1 sits between lz4
 * (0.425) and level 1 (0.306) at 242 MB/s.
 */
export const CODEC_PLANS = ['raw', 'lz4-delta', 'zstd-delta@-1', 'zstd-delta@1'] as const;
export type CodecPlanName = (typeof CODEC_PLANS)[number];

/** Plans that put zstd or zstd-delta records on the wire (dropped when the destination lacks them). */
export function planNeedsZstd(plan: CodecPlanName): boolean {
  return plan.startsWith('zstd');
}

/** The two codecs of a plan. `delta` null: a changed cache hit goes out in full (the cache still skips unchanged pages). */
export interface CodecPlan {
  readonly name: CodecPlanName;
  readonly full: PageCodec;
  readonly delta: PageCodec | null;
  /** Its multi-page block codecs (same family and level), or null for `raw`, whose pages go out one by one. */
  readonly blocks: { readonly full: BlockCodec; readonly delta: BlockCodec } | null;
}

const PLANS = new Map<CodecPlanName, CodecPlan>();

/** The plan called `name` (codecs resolved once, lazily). Throws LIVEMIG_E_INVALID_OPTION for an unknown name. */
export function codecPlan(name: CodecPlanName): CodecPlan {
  let plan = PLANS.get(name);
  if (plan) return plan;
  if (name === 'raw') plan = { name, full: getCodec('raw'), delta: null, blocks: null };
  else if (name === 'lz4-delta') {
    plan = { name, full: getCodec('lz4'), delta: getCodec('lz4-delta'), blocks: { full: blockCodecOf('lz4', false), delta: blockCodecOf('lz4', true) } };
  } else if (name.startsWith('zstd-delta@')) {
    const zstdLevel = Number(name.slice('zstd-delta@'.length));
    plan = {
      name, full: getCodec('zstd', { zstdLevel }), delta: getCodec('zstd-delta', { zstdLevel }),
      blocks: { full: blockCodecOf('zstd', false, { zstdLevel }), delta: blockCodecOf('zstd', true, { zstdLevel }) },
    };
  } else {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Unknown codec plan '${name}'; expected one of ${CODEC_PLANS.join(', ')}`);
  }
  PLANS.set(name, plan);
  return plan;
}

/** Page classes the chooser tells apart: a page sent without a base, and a changed cache hit. */
export type PageClass = 'full' | 'delta';

/** What encoding some pages with one plan cost: input and output bytes, and encode time on one thread. */
export interface ClassSample {
  pages: number;
  inBytes: number;
  outBytes: number;
  ms: number;
}

/** What one encoder learned over some pages; workers' samples merge by addition. */
export interface PlanSamples {
  /** Pages handled, whatever their outcome (zero and unchanged pages included). */
  pages: number;
  /** Pages of each class that the plans in use encoded (the round's mix). */
  full: number;
  delta: number;
  /** Encode time of the plans in use, and of the sampling, in ms on one thread. */
  ownMs: number;
  sampleMs: number;
  /** Per plan and class. */
  plans: Partial<Record<CodecPlanName, Partial<Record<PageClass, ClassSample>>>>;
}

export function emptySamples(): PlanSamples {
  return { pages: 0, full: 0, delta: 0, ownMs: 0, sampleMs: 0, plans: {} };
}

/** Adds `s` into `into.plans[plan][cls]`. */
export function addSample(into: PlanSamples, plan: CodecPlanName, cls: PageClass, s: ClassSample): void {
  const byClass = (into.plans[plan] ??= {});
  const cur = byClass[cls];
  if (cur === undefined) byClass[cls] = { ...s };
  else {
    cur.pages += s.pages;
    cur.inBytes += s.inBytes;
    cur.outBytes += s.outBytes;
    cur.ms += s.ms;
  }
}

/** Adds everything of `from` into `into`. */
export function mergeSamples(into: PlanSamples, from: PlanSamples | undefined): void {
  if (!from) return;
  into.pages += from.pages;
  into.full += from.full;
  into.delta += from.delta;
  into.ownMs += from.ownMs;
  into.sampleMs += from.sampleMs;
  for (const plan of Object.keys(from.plans) as CodecPlanName[]) {
    for (const cls of Object.keys(from.plans[plan]!) as PageClass[]) addSample(into, plan, cls, from.plans[plan]![cls]!);
  }
}

/** What the main thread tells the encoders: the plan, and how often to sample the others. */
export interface PlanOrder {
  plan: CodecPlanName;
  /**
   * A second plan blended in: `blendFraction` of the pages (spread evenly) use it. A blend of a
   * strong and a light plan balances encoding against sending when neither alone does. @default none
   */
  blend?: CodecPlanName;
  /** 0..1. @default 0 */
  blendFraction?: number;
  /** Every `sampleEvery`-th page of a class is also encoded by the other plans into scratch. @default 32 */
  sampleEvery?: number;
  /** Plans to sample (the others are never tried). @default every plan in CODEC_PLANS */
  candidates?: readonly CodecPlanName[];
}

/** Pages buffered before a group of samples is encoded and timed as one (timer cost stays small). */
const GROUP = 8;

/**
 * Learns what every candidate plan would cost on this guest's pages: the plan in use is timed on
 * its own pages (for free), and every `sampleEvery`-th page is also encoded by the other candidates
 * into scratch, `GROUP` pages at a time under one timer. Nothing sampled touches the cache or the wire.
 */
export class PlanSampler {
  readonly #pageSize: number;
  readonly #groupPages: Uint8Array;
  readonly #groupOlds: Uint8Array;
  readonly #scratch: Uint8Array;
  #samples: PlanSamples = emptySamples();
  /** Blend accumulator: a page takes the blended plan each time it passes 1. */
  #blendAcc = 0;
  #count = { full: 0, delta: 0 };
  #fill = { full: 0, delta: 0 };
  #blockCount = { full: 0, delta: 0 };
  /** Where sampled blocks are compressed (allocated at the first one). */
  #blockScratch: Uint8Array | null = null;
  order: Required<PlanOrder>;

  constructor(pageSize: number) {
    this.#pageSize = pageSize;
    this.#groupPages = new Uint8Array(2 * GROUP * pageSize);
    this.#groupOlds = new Uint8Array(GROUP * pageSize);
    this.#scratch = new Uint8Array(2 * pageSize);
    this.order = { plan: 'lz4-delta', blend: 'lz4-delta', blendFraction: 0, sampleEvery: 32, candidates: CODEC_PLANS };
  }

  /** Adopts a new order; later pages use it. */
  setOrder(o: PlanOrder): void {
    this.order = {
      plan: o.plan,
      blend: o.blend ?? o.plan,
      blendFraction: o.blend ? Math.min(1, Math.max(0, o.blendFraction ?? 0)) : 0,
      sampleEvery: Math.max(1, Math.floor(o.sampleEvery ?? 32)),
      candidates: o.candidates ?? CODEC_PLANS,
    };
  }

  /** The plan for the next page that needs encoding: the blend's share spread evenly. */
  next(): CodecPlan {
    const o = this.order;
    if (o.blendFraction > 0) {
      this.#blendAcc += o.blendFraction;
      if (this.#blendAcc >= 1) {
        this.#blendAcc -= 1;
        return codecPlan(o.blend);
      }
    }
    return codecPlan(o.plan);
  }

  /** Counts one handled page, whatever its outcome. */
  handled(): void {
    this.#samples.pages++;
  }

  /** Records the plan in use encoding one page of `cls` into `outBytes` in `ms`. */
  own(plan: CodecPlanName, cls: PageClass, outBytes: number, ms: number): void {
    this.ownPages(plan, cls, 1, outBytes, ms);
  }

  /** Records the plan in use sending `pages` pages of `cls` as `outBytes` in `ms` (a block, or a page alone). */
  ownPages(plan: CodecPlanName, cls: PageClass, pages: number, outBytes: number, ms: number): void {
    addSample(this.#samples, plan, cls, { pages, inBytes: pages * this.#pageSize, outBytes, ms });
    this.#samples[cls] += pages;
    this.#samples.ownMs += ms;
  }

  /**
   * Offers a staged block (`data`: its members' pages or XORs, as the block codecs take them); every
   * `sampleEvery`-th block of a class is also compressed by the other candidates' block codecs into
   * scratch and timed. `raw` is timed as the copy it amounts to.
   */
  offerBlock(cls: PageClass, maskLo: number, maskHi: number, data: Uint8Array): void {
    if (++this.#blockCount[cls] % this.order.sampleEvery !== 0) return;
    const scratch = (this.#blockScratch ??= new Uint8Array(BLOCK_MASK_BYTES + MAX_BLOCK_PAGES * this.#pageSize));
    const pages = data.length / this.#pageSize;
    const o = this.order;
    const t00 = performance.now();
    for (const name of o.candidates) {
      if (name === o.plan || (o.blendFraction > 0 && name === o.blend)) continue;
      const codec = codecPlan(name).blocks?.[cls] ?? null;
      const t0 = performance.now();
      let outBytes = data.length;
      if (codec === null) scratch.set(data);
      else outBytes = codec.encode(maskLo, maskHi, data, scratch) ?? data.length;
      addSample(this.#samples, name, cls, { pages, inBytes: data.length, outBytes, ms: performance.now() - t0 });
    }
    this.#samples.sampleMs += performance.now() - t00;
  }

  /** Offers a page for sampling; copies it (and its old version) when its turn has come. */
  offer(cls: PageClass, page: Uint8Array, old: Uint8Array | null): void {
    if (++this.#count[cls] % this.order.sampleEvery !== 0) return;
    const ps = this.#pageSize;
    const k = this.#fill[cls]++;
    const base = cls === 'full' ? 0 : GROUP * ps;
    this.#groupPages.set(page, base + k * ps);
    if (cls === 'delta') this.#groupOlds.set(old!, k * ps);
    if (this.#fill[cls] === GROUP) this.#flushGroup(cls);
  }

  /** The samples gathered since the last call (partial groups included), and starts afresh. */
  take(): PlanSamples {
    this.#flushGroup('full');
    this.#flushGroup('delta');
    const s = this.#samples;
    this.#samples = emptySamples();
    return s;
  }

  #flushGroup(cls: PageClass): void {
    const n = this.#fill[cls];
    if (n === 0) return;
    this.#fill[cls] = 0;
    const ps = this.#pageSize;
    const base = cls === 'full' ? 0 : GROUP * ps;
    const o = this.order;
    const t00 = performance.now();
    for (const name of o.candidates) {
      // The plans in use are timed on their own pages.
      if (name === o.plan || (o.blendFraction > 0 && name === o.blend)) continue;
      const plan = codecPlan(name);
      let outBytes = 0;
      const t0 = performance.now();
      for (let k = 0; k < n; k++) {
        const page = this.#groupPages.subarray(base + k * ps, base + (k + 1) * ps);
        const old = cls === 'delta' ? this.#groupOlds.subarray(k * ps, (k + 1) * ps) : null;
        outBytes += encodeWithPlan(plan, old, page, this.#scratch).length;
      }
      addSample(this.#samples, name, cls, { pages: n, inBytes: n * ps, outBytes, ms: performance.now() - t0 });
    }
    this.#samples.sampleMs += performance.now() - t00;
  }
}

/**
 * Encodes `page` with `plan` into `out`: as a delta against `old` when the plan has a delta codec
 * and it pays, else in full (raw when the full codec does not pay). `length` 0 with `delta` true:
 * the page is unchanged. `out` must hold at least one page.
 */
export function encodeWithPlan(plan: CodecPlan, old: Uint8Array | null, page: Uint8Array, out: Uint8Array): { codec: PageCodec; length: number; delta: boolean } {
  if (old !== null && plan.delta !== null) {
    const n = plan.delta.encode(old, page, out);
    if (n !== null) return { codec: plan.delta, length: n, delta: true };
  }
  const n = plan.full.encode(null, page, out);
  if (n !== null) return { codec: plan.full, length: n, delta: false };
  const raw = getCodec('raw');
  const r = raw.encode(null, page, out);
  if (r === null) throw new LivemigError('LIVEMIG_E_INTERNAL', `raw codec refused a page: output buffer of ${out.length} bytes is too small`);
  return { codec: raw, length: r, delta: false };
}
