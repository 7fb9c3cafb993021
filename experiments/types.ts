/**
 * Types of the evaluation: a scenario is a list of points (one configuration each); the runner
 * runs every point several times through a migration driver, keeps every raw report, and hands the
 * aggregated rows back to the scenario for its charts and its claims.
 *
 * ```
 *  scenario.points(opts) ──▶ runner: for point × run ──▶ driver.migrate(point) ──▶ report JSON
 *                                │                                                   │
 *                                └── aggregate (median, min–max) ◀──── metrics(report)┘
 *                                        │
 *                  scenario.charts(rows) + scenario.claims(rows) ──▶ SVG, PNG, CSV, REPORT.md
 * ```
 */
import type { MigrationReport } from '../src/engine/index.js';
import type { ChartSpec } from './charts.js';

/** A value that labels a point: its coordinates in the experiment (transport, guest size, ...). */
export type Label = string | number;

/** Shaping of the namespace testbed a point needs. */
export interface TestbedNeed {
  /** Number of paths. */
  paths: number;
  /** Shaped rate of every path in bits per second. */
  rateBitsPerSec: number;
}

/** Cross traffic to run during a point's migrations. */
export interface CrossTraffic {
  /** Path (0-based) that carries the cross traffic. */
  path: number;
  /** Sending rate in bits per second; null sends as fast as TCP allows. */
  rateBitsPerSec: number | null;
}

/** One configuration of a scenario. */
export interface Point {
  /** Coordinates of the point, e.g. `{ transport: 'tcp', 'guest-mib': 512 }`; the CSV's leading columns. */
  labels: Record<string, Label>;
  /** Arguments of `livemig migrate` (without `--json`; the testbed flags are added by the runner). */
  args: string[];
  /** The namespace testbed this point runs over; absent: loopback. */
  testbed?: TestbedNeed;
  /** Cross traffic during the migration (testbed only). */
  congestion?: CrossTraffic;
}

/** Options of one experiment run. */
export interface ExperimentOptions {
  /** The small version: small guests, 1 run, few points. @default false */
  quick: boolean;
  /** Runs per point. @default 3 (1 with quick) */
  runs: number;
  /** Guest driver: `synthetic` (livemig's own guest) or `qemu` (a hook for the QEMU driver). @default 'synthetic' */
  guest: string;
}

/** Figures taken from one report, flat, by name (units in the names). */
export type Metrics = Record<string, number>;

/** One migration of one point. */
export interface RunRecord {
  scenario: string;
  pointIndex: number;
  labels: Record<string, Label>;
  run: number;
  ok: boolean;
  /** Why the run failed (no report, or status failed). */
  error?: string;
  /** Set when a first attempt died without any report and the run was tried again: why. */
  retried?: string;
  metrics: Metrics;
  /** The whole report, as `livemig migrate --json` printed it (null when none came). */
  report: MigrationReport | null;
  /** Wall-clock duration of the run including process start, in ms. */
  wallMs: number;
  /** 1-minute load average when the run started. */
  load1: number;
}

/** Median and range of one metric over a point's successful runs. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** One point, aggregated. */
export interface AggRow {
  labels: Record<string, Label>;
  /** Runs attempted and runs that failed. */
  runs: number;
  failed: number;
  stats: Record<string, Summary>;
}

/** A claim of the paper, checked against the measured rows. */
export interface Claim {
  /** What the paper says (with its figure where it gives one). */
  paper: string;
  /** What livemig measured, in words and numbers. */
  measured: string;
  /** true: holds here; false: does not; null: cannot be decided from these runs. */
  holds: boolean | null;
}

/** What a scenario gives the runner and the report. */
export interface Scenario {
  name: string;
  /** Other names that run this scenario (fig6 runs with fig5). */
  aliases?: string[];
  title: string;
  /** What the paper measured and what this scenario does instead, for REPORT.md. */
  description: string;
  /** Why the differences from the paper are what they are: mechanisms, not numbers. */
  discussion?: string;
  /** Metrics shown in the report's table. @default total time, downtime, wire MB, wire fraction, rounds */
  tableMetrics?: string[];
  points(opts: ExperimentOptions): Point[];
  /** Scenario-specific figures, added to the common ones. */
  metrics?(report: MigrationReport): Metrics;
  charts(rows: AggRow[], records: RunRecord[], opts: ExperimentOptions): ChartSpec[];
  claims(rows: AggRow[], records: RunRecord[], opts: ExperimentOptions): Claim[];
}
