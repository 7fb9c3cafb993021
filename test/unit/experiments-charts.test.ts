import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, barData, dejaVuTextWidth, lineChart, renderPng, renderSvg } from '../../experiments/charts.js';
import type { AggRow } from '../../experiments/types.js';

const rows: AggRow[] = [
  { labels: { size: 1024, transport: 'tcp' }, runs: 3, failed: 0, stats: { t: { median: 10, min: 9, max: 12, n: 3 } } },
  { labels: { size: 1024, transport: 'mptcp' }, runs: 3, failed: 0, stats: { t: { median: 6, min: 5, max: 7, n: 3 } } },
  { labels: { size: 512, transport: 'tcp' }, runs: 3, failed: 0, stats: { t: { median: 5, min: 5, max: 6, n: 3 } } },
  { labels: { size: 512, transport: 'mptcp' }, runs: 3, failed: 3, stats: {} },
];

test('barData gives one datum per point with data: labels as strings, median and range scaled', () => {
  const d = barData(rows, 't', 100);
  assert.equal(d.length, 3);
  assert.deepEqual(d[0], { size: '1024', transport: 'tcp', median: 1000, min: 900, max: 1200, n: 3 });
});

test('barChart draws median bars with min–max whiskers, grouped by colour, in row order', () => {
  const c = barChart({ id: 'x', title: 'T', rows, x: { field: 'size', title: 'guest (MiB)' }, color: { field: 'transport', title: 'transport' }, metric: 't', yTitle: 'time (s)', refs: [{ y: 25, label: 'paper' }] });
  const spec = c.spec as unknown as { layer: Array<{ mark?: { type: string }; encoding?: Record<string, { field?: string; sort?: string[] }> }>; data: { values: unknown[] } };
  assert.deepEqual(spec.layer.slice(0, 3).map((l) => l.mark!.type), ['bar', 'rule', 'tick']);
  assert.equal(spec.layer[0].encoding!.y.field, 'median');
  assert.equal(spec.layer[1].encoding!.y.field, 'min');
  assert.equal(spec.layer[1].encoding!.y2.field, 'max');
  assert.equal(spec.layer[0].encoding!.xOffset.field, 'transport');
  assert.equal(spec.layer[1].encoding!.xOffset.field, 'transport', 'whiskers sit on their bars');
  // Categories keep the rows' order (1024 before 512), not the alphabetical one.
  assert.deepEqual(spec.layer[0].encoding!.x.sort, ['1024', '512']);
  assert.equal(spec.layer.length, 4, 'a reference line layer for the paper value');
});

test('a rendered chart is an SVG with its title, axis titles and legend, and rasterises to a PNG', async () => {
  const c = barChart({ id: 'x', title: 'Total time by transport', subtitle: 'bar = median', rows, x: { field: 'size', title: 'guest memory (MiB)' }, color: { field: 'transport', title: 'transport' }, metric: 't', yTitle: 'total time (s)' });
  const svg = await renderSvg(c);
  assert.match(svg, /^<svg/);
  for (const text of ['Total time by transport', 'guest memory (MiB)', 'total time (s)', 'mptcp']) assert.ok(svg.includes(text), text);
  const png = renderPng(svg);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // A 2× raster of a chart of this size is well over 300 px wide.
  assert.ok(png.readUInt32BE(16) > 300);
});

test('a faceted line chart on a log scale renders', async () => {
  const data = [
    { case: 'a', run: '1', round: 0, series: 'measured', mb: 64 },
    { case: 'a', run: '1', round: 1, series: 'measured', mb: 8 },
    { case: 'b', run: '1', round: 0, series: 'model', mb: 64 },
  ];
  const c = lineChart({ id: 'l', title: 'Rounds', data, x: { field: 'round', title: 'round', type: 'ordinal' }, y: { field: 'mb', title: 'MB' }, color: { field: 'series', title: 'series' }, detail: 'run', column: { field: 'case', title: '' }, logY: true });
  const svg = await renderSvg(c);
  assert.ok(svg.includes('Rounds'));
});

test('text widths grow with length and are larger in bold', () => {
  assert.ok(dejaVuTextWidth('total time (s)', 12) > dejaVuTextWidth('time', 12));
  assert.ok(dejaVuTextWidth('Title', 15, true) > dejaVuTextWidth('Title', 15));
  // DejaVu Sans averages about 0.6 em, far below Vega's 0.8 em estimate.
  const w = dejaVuTextWidth('the quick brown fox jumps', 10);
  assert.ok(w > 120 && w < 180, String(w));
});
