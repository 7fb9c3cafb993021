import type { AggRow, Label, Metrics, RunRecord, Summary } from './types.js';

/** Median of `values` (the mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min and max of the finite values in `values`; every field NaN (n 0) when none is finite. */
export function summarise(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** A stable key for a point's labels (same labels, same key, whatever the insertion order). */
export function labelKey(labels: Record<string, Label>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/**
 * Groups runs by point (their labels, in first-seen order) and summarises every metric over the
 * successful runs only: a failed run counts in `failed`, never as a zero.
 */
export function aggregate(records: readonly RunRecord[]): AggRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = labelKey(r.labels);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const rows: AggRow[] = [];
  for (const g of groups.values()) {
    const ok = g.filter((r) => r.ok);
    const names = new Set(ok.flatMap((r) => Object.keys(r.metrics)));
    const stats: Record<string, Summary> = {};
    for (const name of names) stats[name] = summarise(ok.map((r) => r.metrics[name] ?? NaN));
    rows.push({ labels: g[0].labels, runs: g.length, failed: g.length - ok.length, stats });
  }
  return rows;
}

/** The rows whose labels include every pair of `match`. */
export function select(rows: readonly AggRow[], match: Record<string, Label>): AggRow[] {
  return rows.filter((r) => Object.entries(match).every(([k, v]) => r.labels[k] === v));
}

/** The median of `metric` of the one row matching `match`, or NaN. */
export function med(rows: readonly AggRow[], match: Record<string, Label>, metric: string): number {
  const [row] = select(rows, match);
  return row?.stats[metric]?.median ?? NaN;
}

/** Merges metric records, later ones winning. */
export function mergeMetrics(...parts: Metrics[]): Metrics {
  return Object.assign({}, ...parts);
}
