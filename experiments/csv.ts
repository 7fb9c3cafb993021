import type { AggRow, RunRecord } from './types.js';

function cell(v: unknown): string {
  const s = v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of every run: the labels, run number, ok, error, then every metric (union over runs). */
export function runsCsv(records: readonly RunRecord[]): string {
  const labels = [...new Set(records.flatMap((r) => Object.keys(r.labels)))];
  const metrics = [...new Set(records.flatMap((r) => Object.keys(r.metrics)))];
  const head = [...labels, 'run', 'ok', 'error', 'wall-ms', 'load1', ...metrics];
  const lines = records.map((r) =>
    [...labels.map((l) => r.labels[l]), r.run, r.ok, r.error ?? '', Math.round(r.wallMs), r.load1, ...metrics.map((m) => r.metrics[m])].map(cell).join(','));
  return [head.map(cell).join(','), ...lines].join('\n') + '\n';
}

/** CSV of the aggregated points: labels, runs, failed, then median/min/max of every metric. */
export function summaryCsv(rows: readonly AggRow[]): string {
  const labels = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.stats)))];
  const head = [...labels, 'runs', 'failed', ...metrics.flatMap((m) => [`${m}:median`, `${m}:min`, `${m}:max`])];
  const lines = rows.map((r) =>
    [...labels.map((l) => r.labels[l]), r.runs, r.failed, ...metrics.flatMap((m): unknown[] => {
      const s = r.stats[m];
      return s ? [s.median, s.min, s.max] : ['', '', ''];
    })].map(cell).join(','));
  return [head.map(cell).join(','), ...lines].join('\n') + '\n';
}
