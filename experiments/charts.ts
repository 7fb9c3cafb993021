/**
 * Charts of the evaluation, built as Vega-Lite specs, compiled to Vega, rendered headless to SVG by
 * Vega's own renderer and rasterised to PNG by resvg. No SVG is written by hand here.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import type { AggRow, Label } from './types.js';

/**
 * Width of `text` in DejaVu Sans at `fontSize` px, from per-class advance widths (em): close to the
 * font's real metrics, slightly generous so that labels never overlap.
 */
export function dejaVuTextWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if (' .,:;\'|!ijlftI'.includes(ch)) em += 0.34;
    else if ('mwMW%'.includes(ch)) em += 0.95;
    else if (ch >= 'A' && ch <= 'Z') em += 0.72;
    else if (ch >= '0' && ch <= '9') em += 0.64;
    else if (ch >= 'a' && ch <= 'z') em += 0.61;
    else em += 0.66;
  }
  return em * fontSize * (bold ? 1.1 : 1);
}

// Without node-canvas, Vega estimates every character as 0.8 em, which makes titles and legends look
// 40 % wider than they are and leaves a wide blank margin; measure with DejaVu's widths instead.
((vega as unknown as { textMetrics: unknown }).textMetrics as { width: (item: { text?: unknown; fontSize?: number; fontWeight?: unknown }, text?: unknown) => number }).width = (item, text) => {
  const t = text ?? item.text;
  const lines = Array.isArray(t) ? t.map(String) : [t == null ? '' : String(t)];
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  return Math.max(0, ...lines.map((l) => dejaVuTextWidth(l, item.fontSize ?? 11, bold)));
};

/** One chart: a file id (`fig5-total-time`), its title, and its Vega-Lite spec. */
export interface ChartSpec {
  id: string;
  title: string;
  spec: TopLevelSpec;
}

/** The font the SVG names and resvg loads from the system (fonts-dejavu-core). */
export const CHART_FONT = 'DejaVu Sans';

const CONFIG = {
  font: CHART_FONT,
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#444', anchor: 'start' as const, offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 200 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  background: 'white',
};

/** An axis or legend: the label field and its human title (with units). */
export interface Field {
  field: string;
  title: string;
}

/** Options of `barChart`. */
export interface BarChartOptions {
  id: string;
  title: string;
  /** Second title line: what the bars and whiskers mean, how many runs. */
  subtitle?: string;
  rows: readonly AggRow[];
  /** Label on the x axis (categories, kept in row order). */
  x: Field;
  /** Label that splits bars side by side, with a legend. */
  color?: Field;
  /** Label that splits the chart into columns. */
  column?: Field;
  /** Metric whose median is the bar and whose min–max is the whisker. */
  metric: string;
  yTitle: string;
  /** Multiply the metric by this before plotting (e.g. 100 for a rate in %). @default 1 */
  scale?: number;
  /** Optional reference lines (the paper's values): y value and label. */
  refs?: Array<{ y: number; label: string }>;
}

/** Flattens aggregated rows into one datum per row: the labels, then median/min/max of `metric`. */
export function barData(rows: readonly AggRow[], metric: string, scale = 1): Array<Record<string, Label | number>> {
  return rows
    .filter((r) => r.stats[metric] && r.stats[metric].n > 0)
    .map((r) => ({
      ...Object.fromEntries(Object.entries(r.labels).map(([k, v]) => [k, String(v)])),
      median: r.stats[metric].median * scale,
      min: r.stats[metric].min * scale,
      max: r.stats[metric].max * scale,
      n: r.stats[metric].n,
    }));
}

/**
 * Bars at the median with a min–max whisker per point; grouped side by side by `color`, split into
 * columns by `column`. Categories keep the order of the rows.
 */
export function barChart(o: BarChartOptions): ChartSpec {
  const data = barData(o.rows, o.metric, o.scale ?? 1);
  const order = (f: string) => [...new Set(data.map((d) => String(d[f])))];
  const x = { field: o.x.field, type: 'nominal' as const, title: o.x.title, sort: order(o.x.field), axis: { labelAngle: 0 } };
  const colour = o.color
    ? { field: o.color.field, type: 'nominal' as const, title: o.color.title, sort: order(o.color.field) }
    : undefined;
  const xOffset = o.color ? { field: o.color.field, type: 'nominal' as const, sort: order(o.color.field) } : undefined;
  const tooltip = [{ field: 'median', type: 'quantitative' as const }, { field: 'min', type: 'quantitative' as const }, { field: 'max', type: 'quantitative' as const }];
  const layers: unknown[] = [
    {
      mark: { type: 'bar', tooltip: true },
      encoding: { x, ...(xOffset ? { xOffset } : {}), y: { field: 'median', type: 'quantitative', title: o.yTitle }, ...(colour ? { color: colour } : {}), tooltip },
    },
    {
      mark: { type: 'rule', color: 'black', strokeWidth: 1.5 },
      encoding: { x, ...(xOffset ? { xOffset } : {}), y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
    },
    {
      mark: { type: 'tick', color: 'black', thickness: 1.5, size: 8 },
      encoding: { x, ...(xOffset ? { xOffset } : {}), y: { field: 'max', type: 'quantitative' } },
    },
  ];
  for (const ref of o.refs ?? []) {
    layers.push({
      data: { values: [{ y: ref.y, label: ref.label }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#c0392b', fontSize: 11 }, encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'label' }, x: { value: 0 } } },
      ],
    });
  }
  const title = { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) };
  const inner = { width: o.color ? Math.max(160, 60 * order(o.x.field).length * Math.min(3, order(o.color.field).length)) : Math.max(160, 70 * order(o.x.field).length), height: 260, layer: layers };
  const spec = o.column
    ? { data: { values: data }, title, facet: { column: { field: o.column.field, type: 'nominal', title: o.column.title, sort: order(o.column.field) } }, spec: inner, resolve: { scale: { y: 'independent' } }, config: CONFIG }
    : { data: { values: data }, title, ...inner, config: CONFIG };
  return { id: o.id, title: o.title, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as TopLevelSpec };
}

/** Options of `lineChart`. */
export interface LineChartOptions {
  id: string;
  title: string;
  subtitle?: string;
  /** One datum per point of a line. */
  data: ReadonlyArray<Record<string, Label | number>>;
  x: Field & { type?: 'quantitative' | 'ordinal' };
  y: Field;
  color: Field;
  /** Field that draws one line per value inside a colour (e.g. the run). */
  detail?: string;
  column?: Field;
  logY?: boolean;
}

/** Lines with points, one per colour (and per `detail`), optionally in columns, optionally log-scaled. */
export function lineChart(o: LineChartOptions): ChartSpec {
  const enc = {
    x: { field: o.x.field, type: o.x.type ?? 'quantitative', title: o.x.title, ...(o.x.type === 'ordinal' ? { axis: { labelAngle: 0 } } : {}) },
    y: { field: o.y.field, type: 'quantitative', title: o.y.title, ...(o.logY ? { scale: { type: 'log' } } : {}) },
    color: { field: o.color.field, type: 'nominal', title: o.color.title },
    ...(o.detail ? { detail: { field: o.detail, type: 'nominal' } } : {}),
  };
  const inner = { width: 300, height: 240, mark: { type: 'line', point: true }, encoding: enc };
  const title = { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) };
  const spec = o.column
    ? { data: { values: o.data }, title, facet: { column: { field: o.column.field, type: 'nominal', title: o.column.title } }, spec: inner, config: CONFIG }
    : { data: { values: o.data }, title, ...inner, config: CONFIG };
  return { id: o.id, title: o.title, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as TopLevelSpec };
}

/** Compiles a Vega-Lite spec and renders it headless to an SVG document. */
export async function renderSvg(chart: ChartSpec): Promise<string> {
  const compiled = compile(chart.spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG at `zoom`× (2 for sharp text), on white, with the system's fonts. */
export function renderPng(svg: string, zoom = 2): Buffer {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: zoom },
    font: { loadSystemFonts: true, defaultFontFamily: CHART_FONT },
  });
  return r.render().asPng();
}
