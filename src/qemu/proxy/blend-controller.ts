/**
 * `adaptive` in the proxy: which share of the blocks zstd compresses (the rest lz4), following the link.
 *
 * The source agent samples, every SAMPLE_MS, whether frames are waiting for the channel. A window in
 * which they mostly waited means the link is the bottleneck: stronger compression costs no time and
 * saves bytes, so the zstd share goes up. A window in which they hardly ever waited means the agent's
 * CPU (or QEMU) is: lighter compression feeds the link sooner, so the share goes down, until lz4's
 * extra bytes fill the link. The share settles where the link is just kept busy. QEMU's own
 * compression is fixed for the whole migration.
 */

/** Sampling period of the source agent, ms. */
export const SAMPLE_MS = 50;

/** One window of the timeline in the report. */
export interface BlendWindow {
  /** ms since the controller started. */
  atMs: number;
  /** Share of the window's samples in which frames waited for the channel. */
  backlog: number;
  /** zstd share decided at the end of the window. */
  zstdShare: number;
}

/** What the report shows. JSON-safe. */
export interface BlendSummary {
  zstdShare: number;
  /** Mean of the windows' shares. */
  meanZstdShare: number;
  windows: BlendWindow[];
}

export interface BlendControllerOptions {
  /** @default 0.5 */
  initialShare?: number;
  /** Change per window. @default 0.1 */
  step?: number;
  /** Samples per window. @default 4 (200 ms) */
  windowSamples?: number;
  /** At least this backlog share: the link is the bottleneck. @default 0.5 */
  linkBound?: number;
  /** At most this backlog share: the link waits for us. @default 0.1 */
  linkIdle?: number;
}

export class BlendController {
  readonly #o: Required<BlendControllerOptions>;
  #share: number;
  #samples = 0;
  #backlogged = 0;
  #windows: BlendWindow[] = [];

  constructor(o: BlendControllerOptions = {}) {
    this.#o = { initialShare: 0.5, step: 0.1, windowSamples: 4, linkBound: 0.5, linkIdle: 0.1, ...o };
    this.#share = this.#o.initialShare;
  }

  get zstdShare(): number {
    return this.#share;
  }

  /** One sample (`backlogged`: frames were waiting for the channel); the new share when a window ends and it moved, else null. */
  sample(backlogged: boolean): number | null {
    this.#samples++;
    if (backlogged) this.#backlogged++;
    if (this.#samples < this.#o.windowSamples) return null;
    const backlog = this.#backlogged / this.#samples;
    this.#samples = 0;
    this.#backlogged = 0;
    const before = this.#share;
    if (backlog >= this.#o.linkBound) this.#share = Math.min(1, before + this.#o.step);
    else if (backlog <= this.#o.linkIdle) this.#share = Math.max(0, before - this.#o.step);
    // Rounded so that repeated steps land on 0 and 1 exactly.
    this.#share = Math.round(this.#share * 1000) / 1000;
    const atMs = (this.#windows.length + 1) * this.#o.windowSamples * SAMPLE_MS;
    this.#windows.push({ atMs, backlog: Math.round(backlog * 100) / 100, zstdShare: this.#share });
    return this.#share === before ? null : this.#share;
  }

  summary(): BlendSummary {
    const w = this.#windows;
    const mean = w.length === 0 ? this.#share : w.reduce((t, x) => t + x.zstdShare, 0) / w.length;
    return { zstdShare: this.#share, meanZstdShare: Math.round(mean * 1000) / 1000, windows: w.slice() };
  }
}
