/**
 * Reads an experiment's results folder back into an ExperimentResult, so that the reports and
 * docs/EVALUATION.md can be rebuilt from a finished run (`livemig experiment doc DIR`) without
 * running it again. Metrics are recomputed from the raw reports by the scenario's own code.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LivemigError } from '../src/core/index.js';
import type { MigrationReport } from '../src/engine/index.js';
import { commonMetrics } from './metrics.js';
import { findScenario } from './scenarios/index.js';
import type { ExperimentResult } from './runner.js';
import type { AggRow, Claim, RunRecord } from './types.js';

/** Loads one experiment folder (results/DATE-NAME or results/DATE-all/NAME). */
export async function loadExperiment(dir: string): Promise<ExperimentResult> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as { rows: AggRow[]; claims: Claim[]; machine: ExperimentResult['facts']; wallS: number };
  const scenario = findScenario(config.scenario);
  if (!scenario) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `${dir} holds the results of an unknown experiment '${config.scenario}'`, { phase: 'cli' });
  const files = (await readdir(join(dir, 'runs'))).filter((f) => f.endsWith('.json')).sort();
  const records: RunRecord[] = [];
  for (const f of files) {
    const raw = JSON.parse(await readFile(join(dir, 'runs', f), 'utf8')) as { labels: RunRecord['labels']; run: number; ok: boolean; error: string | null; wallMs: number; load1: number; report: MigrationReport | null };
    const report = raw.report;
    const metrics = report && report['total-time'] !== undefined ? { ...commonMetrics(report), ...(scenario.metrics?.(report) ?? {}) } : {};
    records.push({ scenario: scenario.name, pointIndex: Number(/^p(\d+)/.exec(f)?.[1] ?? 0), labels: raw.labels, run: raw.run, ok: raw.ok, error: raw.error ?? undefined, metrics, report, wallMs: raw.wallMs, load1: raw.load1 });
  }
  const chartIds = (await readdir(join(dir, 'charts')).catch(() => [] as string[])).filter((f) => f.endsWith('.png')).map((f) => f.slice(0, -4));
  const titles = new Map(scenario.charts(summary.rows, records, config.options).map((c) => [c.id, c.title]));
  const order = [...titles.keys()];
  chartIds.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return {
    scenario, dir: resolve(dir), records, rows: summary.rows, claims: summary.claims,
    charts: chartIds.map((id) => ({ id, title: titles.get(id) ?? id, png: `charts/${id}.png`, svg: `charts/${id}.svg` })),
    facts: summary.machine, options: config.options, points: config.points, wallS: summary.wallS,
  };
}

/** Loads every experiment of a results/DATE-all folder, in the order `all` runs them. */
export async function loadAll(dir: string): Promise<ExperimentResult[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: ExperimentResult[] = [];
  for (const e of entries) {
    if (e.isDirectory()) {
      try {
        out.push(await loadExperiment(join(dir, e.name)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  const order = ['cache', 'fig7', 'model', 'exp-a', 'fig5', 'subflows', 'congestion'];
  return out.sort((a, b) => order.indexOf(a.scenario.name) - order.indexOf(b.scenario.name));
}
