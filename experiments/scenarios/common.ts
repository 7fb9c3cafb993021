import type { AggRow, ExperimentOptions, Summary, TestbedNeed } from '../types.js';
import { select } from '../stats.js';
import type { Label } from '../types.js';

/** The paper's network: gigabit Ethernet; here two tbf-shaped veth paths of 1 Gbit/s each. */
export const TWO_GIGABIT_PATHS: TestbedNeed = { paths: 2, rateBitsPerSec: 1e9 };

/** The paper's single gigabit link, on loopback: QEMU's max-bandwidth cap of 125 MB/s. */
export const GIGABIT_CAP = '125MB';

/** Chart subtitle: what a bar and a whisker are, and how many runs. */
export function subtitle(opts: ExperimentOptions, extra = ''): string {
  return `bar = median, whisker = min–max of ${opts.runs} run${opts.runs === 1 ? '' : 's'}${opts.quick ? ' (quick)' : ''}${extra ? '; ' + extra : ''}`;
}

/** The summary of `metric` at the one row matching `match`. */
export function stat(rows: readonly AggRow[], match: Record<string, Label>, metric: string): Summary | undefined {
  const s = select(rows, match)[0]?.stats[metric];
  return s && s.n > 0 ? s : undefined;
}

/**
 * Is `a` smaller than `b`? true when every run of a is below every run of b, false when the median
 * of a is not below b's, null when the medians are ordered but the ranges overlap (or data is missing).
 */
export function clearlyLess(a: Summary | undefined, b: Summary | undefined): boolean | null {
  if (!a || !b) return null;
  if (a.max < b.min) return true;
  if (a.median >= b.median) return false;
  return null;
}

/** Numbers for claim texts: 3 significant digits. */
export function n3(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** `12.3 s (11.9–12.8)` for a summary and a unit. */
export function show(s: Summary | undefined, unit: string): string {
  if (!s) return '–';
  return s.n > 1 && s.min !== s.max ? `${n3(s.median)} ${unit} (${n3(s.min)}–${n3(s.max)})` : `${n3(s.median)} ${unit}`;
}

/** Percent change from `from` to `to` (negative: smaller). */
export function pct(from: number | undefined, to: number | undefined): string {
  if (from === undefined || to === undefined || !(from > 0)) return '–';
  const p = ((to - from) / from) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(0)} %`;
}
