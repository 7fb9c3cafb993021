/**
 * The experiment runner: runs every point of a scenario `runs` times (run-major order, so that a
 * change of load on this shared machine touches every point alike), keeps every raw report, and
 * writes results/DATE-NAME/: config.json (scenario, options, points, machine facts at start and
 * end), runs/*.json (raw), runs.csv, summary.csv, summary.json, charts (SVG + PNG) and REPORT.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { startCongestion, testbedDown, testbedUp, type CongestionHandle } from '../src/testbed/index.js';
import { aggregate } from './stats.js';
import { commonMetrics } from './metrics.js';
import { renderPng, renderSvg } from './charts.js';
import { runsCsv, summaryCsv } from './csv.js';
import { machineFacts, type MachineFacts } from './machine.js';
import { scenarioReport } from './report.js';
import type { DriverResult, MigrationDriver } from './driver.js';
import type { AggRow, Claim, CrossTraffic, ExperimentOptions, Point, RunRecord, Scenario, TestbedNeed } from './types.js';

/** Name of the testbed the experiments build (namespaces lm-eval-src/dst), apart from anyone's default one. */
export const EXPERIMENT_TESTBED = 'eval';

/** The testbed and cross-traffic operations the runner uses; injectable so tests need no root. */
export interface TestbedOps {
  up(need: TestbedNeed): Promise<void>;
  down(): Promise<void>;
  congest(c: CrossTraffic): Promise<{ stop(): Promise<void> }>;
}

/** The real testbed, named EXPERIMENT_TESTBED. */
export const realTestbed: TestbedOps = {
  async up(need) {
    await testbedUp({ name: EXPERIMENT_TESTBED, paths: need.paths, rateBitsPerSec: need.rateBitsPerSec });
  },
  async down() {
    await testbedDown({ name: EXPERIMENT_TESTBED });
  },
  async congest(c) {
    // Longer than any migration: stopped explicitly after the run, and it ends by itself if we die.
    const h: CongestionHandle = await startCongestion({ name: EXPERIMENT_TESTBED, path: c.path, rateBitsPerSec: c.rateBitsPerSec, seconds: 900 });
    return h;
  },
};

/** How to run: the driver, where to write, how to log; tests inject their own. */
export interface RunnerDeps {
  driver: MigrationDriver;
  /** Folder that holds results/DATE-NAME folders. @default <repo>/results */
  resultsRoot?: string;
  /** Exact output folder (overrides resultsRoot/DATE-NAME). */
  outDir?: string;
  testbed?: TestbedOps;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
  /** Seconds of cross traffic before a congested migration starts. @default 2 */
  congestionWarmupS?: number;
  /** Render charts to SVG/PNG. @default true */
  charts?: boolean;
}

/** What one experiment produced. */
export interface ExperimentResult {
  scenario: Scenario;
  dir: string;
  records: RunRecord[];
  rows: AggRow[];
  claims: Claim[];
  /** Chart files written, relative to `dir` (`charts/x.png`, `charts/x.svg`). */
  charts: Array<{ id: string; title: string; png: string; svg: string }>;
  facts: { start: MachineFacts; end: MachineFacts };
  options: ExperimentOptions;
  points: Point[];
  wallS: number;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** `2026-01-03-0117` (local time), the DATE of results/DATE-NAME. */
export function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function sameNeed(a: TestbedNeed | undefined, b: TestbedNeed | undefined): boolean {
  return !!a && !!b && a.paths === b.paths && a.rateBitsPerSec === b.rateBitsPerSec;
}

/** Runs one scenario and writes its results folder. */
export async function runExperiment(scenario: Scenario, options: ExperimentOptions, deps: RunnerDeps): Promise<ExperimentResult> {
  const log = deps.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const tb = deps.testbed ?? realTestbed;
  const dir = deps.outDir ?? join(deps.resultsRoot ?? join(REPO, 'results'), `${stamp()}-${scenario.name}`);
  await mkdir(join(dir, 'runs'), { recursive: true });
  const points = scenario.points(options);
  const start = machineFacts();
  const t0 = performance.now();
  await writeFile(join(dir, 'config.json'), JSON.stringify({ scenario: scenario.name, title: scenario.title, options, driver: deps.driver.name, points, machine: start }, null, 2));
  log(`experiment ${scenario.name}: ${points.length} points × ${options.runs} runs → ${dir} (load ${start.loadavg.join(' ')})`);

  const records: RunRecord[] = [];
  let current: TestbedNeed | undefined;
  try {
    for (let run = 1; run <= options.runs; run++) {
      for (let i = 0; i < points.length; i++) {
        const point = points[i];
        if (point.testbed && !sameNeed(point.testbed, current)) {
          await tb.up(point.testbed);
          current = point.testbed;
        }
        records.push(await runPoint(scenario, point, i, run, options, deps, tb, log, dir));
      }
    }
  } finally {
    if (current) await tb.down().catch((e: Error) => log(`testbed down failed: ${e.message}`));
  }

  const rows = aggregate(records);
  const claims = scenario.claims(rows, records, options);
  const end = machineFacts();
  const charts: ExperimentResult['charts'] = [];
  if (deps.charts !== false) {
    await mkdir(join(dir, 'charts'), { recursive: true });
    for (const c of scenario.charts(rows, records, options)) {
      const svg = await renderSvg(c);
      await writeFile(join(dir, 'charts', `${c.id}.svg`), svg);
      await writeFile(join(dir, 'charts', `${c.id}.png`), renderPng(svg));
      await writeFile(join(dir, 'charts', `${c.id}.vl.json`), JSON.stringify(c.spec, null, 2));
      charts.push({ id: c.id, title: c.title, png: `charts/${c.id}.png`, svg: `charts/${c.id}.svg` });
    }
  }
  const result: ExperimentResult = {
    scenario, dir: resolve(dir), records, rows, claims, charts, facts: { start, end }, options, points,
    wallS: (performance.now() - t0) / 1000,
  };
  await writeFile(join(dir, 'runs.csv'), runsCsv(records));
  await writeFile(join(dir, 'summary.csv'), summaryCsv(rows));
  await writeFile(join(dir, 'summary.json'), JSON.stringify({ scenario: scenario.name, rows, claims, machine: { start, end }, wallS: result.wallS }, null, 2));
  await writeFile(join(dir, 'REPORT.md'), scenarioReport(result, { heading: '#', chartHref: (f) => f }));
  log(`experiment ${scenario.name}: done in ${result.wallS.toFixed(0)} s, ${records.filter((r) => !r.ok).length} failed runs`);
  return result;
}

async function migrateOnce(driver: MigrationDriver, point: Point, timeoutMs: number): Promise<DriverResult> {
  try {
    return await driver.migrate(point, { testbedName: point.testbed ? EXPERIMENT_TESTBED : undefined, timeoutMs });
  } catch (err) {
    return { report: null, error: (err as Error).message };
  }
}

async function runPoint(
  scenario: Scenario, point: Point, index: number, run: number, options: ExperimentOptions, deps: RunnerDeps, tb: TestbedOps,
  log: (l: string) => void, dir: string,
): Promise<RunRecord> {
  const load1 = Math.round(os.loadavg()[0] * 100) / 100;
  const t = performance.now();
  let cross: { stop(): Promise<void> } | null = null;
  let result: DriverResult;
  let retried: string | undefined;
  try {
    if (point.congestion) {
      cross = await tb.congest(point.congestion);
      await sleep((deps.congestionWarmupS ?? 2) * 1000);
    }
    const timeoutMs = options.quick ? 150_000 : 900_000;
    result = await migrateOnce(deps.driver, point, timeoutMs);
    // A process that died before printing any report (e.g. it loaded a module another build was
    // rewriting on this shared machine) is retried once; the retry is recorded, never hidden.
    if (!result.report) {
      retried = result.error ?? 'no report';
      log(`  retrying once after: ${retried}`);
      result = await migrateOnce(deps.driver, point, timeoutMs);
    }
  } finally {
    await cross?.stop().catch(() => undefined);
  }
  const wallMs = performance.now() - t;
  const ok = result.report !== null && result.report.status === 'completed' && !result.error;
  let metrics = {};
  if (result.report && result.report['total-time'] !== undefined) {
    try {
      metrics = { ...commonMetrics(result.report), ...(scenario.metrics?.(result.report) ?? {}) };
    } catch (err) {
      result = { ...result, error: `report unreadable: ${(err as Error).message}` };
    }
  }
  const rec: RunRecord = {
    scenario: scenario.name, pointIndex: index, labels: point.labels, run, ok: ok && !result.error, error: result.error,
    metrics, report: result.report, wallMs, load1, ...(retried ? { retried } : {}),
  };
  const name = `p${String(index).padStart(2, '0')}-r${run}.json`;
  await writeFile(join(dir, 'runs', name), JSON.stringify({ labels: point.labels, args: point.args, testbed: point.testbed ?? null, congestion: point.congestion ?? null, run, ok: rec.ok, error: rec.error ?? null, retried: retried ?? null, wallMs, load1, report: result.report }, null, 2));
  const tag = Object.entries(point.labels).map(([k, v]) => `${k}=${v}`).join(' ');
  const m = rec.metrics as Record<string, number>;
  log(`  [run ${run}] ${tag}: ${rec.ok ? `${m['total-time-s']?.toFixed(2)} s, downtime ${m['downtime-ms']?.toFixed(0)} ms, ${m['wire-mb']?.toFixed(1)} MB` : `FAILED ${rec.error}`} (load ${load1})`);
  return rec;
}
