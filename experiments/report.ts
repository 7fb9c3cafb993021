import type { ExperimentResult } from './runner.js';
import type { AggRow, Summary } from './types.js';

const DEFAULT_TABLE = ['total-time-s', 'downtime-ms', 'wire-mb', 'wire-fraction', 'rounds'];

/** `1.23 (1.20–1.31)`: the median and the min–max of a summary, with sensible digits. */
export function formatSummary(s: Summary | undefined): string {
  if (!s || s.n === 0) return '–';
  const f = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(3));
  return s.n === 1 || s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** A markdown table of the rows: labels, then median (min–max) of each metric, then runs/failed. */
export function markdownTable(rows: readonly AggRow[], metrics: readonly string[]): string {
  const labels = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))];
  const head = [...labels, ...metrics, 'runs (failed)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < labels.length ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${[...labels.map((l) => String(r.labels[l] ?? '')), ...metrics.map((m) => formatSummary(r.stats[m])), `${r.runs} (${r.failed})`].join(' | ')} |`);
  }
  return lines.join('\n');
}

function verdict(h: boolean | null): string {
  return h === true ? 'holds' : h === false ? '**does not hold**' : 'undecided';
}

/** Options of `scenarioReport`: heading level, and where the chart files are, seen from the markdown file. */
export interface ReportLayout {
  heading: '#' | '##';
  /** Maps a chart file relative to the experiment's folder (`charts/x.png`) to its link. */
  chartHref: (file: string) => string;
}

/** The REPORT.md section of one experiment. */
export function scenarioReport(r: ExperimentResult, o: ReportLayout): string {
  const h = o.heading;
  const sub = h + '#';
  const s = r.scenario;
  const f = r.facts.start;
  const failed = r.records.filter((x) => !x.ok);
  const out: string[] = [
    `${h} ${s.name}: ${s.title}`,
    '',
    s.description,
    '',
    `${sub} The paper's claims beside livemig's figures`,
    '',
    '| the paper | livemig here | verdict |',
    '|---|---|---|',
    ...r.claims.map((c) => `| ${c.paper} | ${c.measured} | ${verdict(c.holds)} |`),
    '',
  ];
  if (s.discussion) out.push(`${sub} Why the figures differ`, '', s.discussion, '');
  out.push(`${sub} Charts`, '');
  for (const c of r.charts) out.push(`![${c.title}](${o.chartHref(c.png)}) ([SVG](${o.chartHref(c.svg)}))`, '');
  out.push(
    `${sub} Figures (median, min–max over the runs)`,
    '',
    markdownTable(r.rows, s.tableMetrics ?? DEFAULT_TABLE),
    '',
  );
  const retried = r.records.filter((x) => x.retried);
  if (retried.length > 0) {
    out.push('Runs retried once because the first attempt died before any report (counted once, with the retry\'s figures):', '');
    for (const x of retried) out.push(`- ${Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(' ')} run ${x.run}: ${x.retried}`);
    out.push('');
  }
  if (failed.length > 0) {
    out.push(`Failed runs (not counted in the medians):`, '');
    for (const x of failed) out.push(`- ${Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(' ')} run ${x.run}: ${x.error ?? 'failed'}`);
    out.push('');
  }
  out.push(
    `${sub} Conditions`,
    '',
    `- ${r.options.quick ? '**quick** version' : 'full version'}, ${r.options.runs} run(s) per point, guest driver \`${r.options.guest}\`, ${r.points.length} points, ${r.wallS.toFixed(0)} s wall`,
    `- commit \`${f.commit}\`${f.dirty ? ' (work tree had uncommitted changes)' : ''}; ${f.cores} cores (${f.cpuModel}), ${f.memoryGiB} GiB, ${f.kernel}, Node ${f.node}`,
    `- load average (1/5/15 min) at start ${f.loadavg.join(' / ')}, at end ${r.facts.end.loadavg.join(' / ')}; per-run 1-min load ${loadRange(r)} — the machine is shared with other builds`,
    `- reproduce: \`livemig experiment ${s.name}${r.options.quick ? ' --quick' : ''} --runs ${r.options.runs}\``,
    '',
  );
  return out.join('\n');
}

function loadRange(r: ExperimentResult): string {
  const l = r.records.map((x) => x.load1);
  return l.length ? `${Math.min(...l).toFixed(2)}–${Math.max(...l).toFixed(2)}` : '–';
}
