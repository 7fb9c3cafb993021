/**
 * Paper §V: the pre-copy model (N_i = V_m·α^i, T_i = V_m·K^i/R^(i+1)) and the delta-compression
 * time model (t_gain), as the report's `model` section evaluates them, against the measured rounds.
 */
import type { MigrationReport } from '../../src/engine/index.js';
import { barChart, lineChart } from '../charts.js';
import type { Claim, ExperimentOptions, Point, RunRecord, Scenario } from '../types.js';
import { n3, show, stat, subtitle } from './common.js';

/** Options of the model scenario. */
export interface ModelScenarioOptions {
  guestMiB?: number;
  quickGuestMiB?: number;
  workloads?: string[];
  quickWorkloads?: string[];
  /** Bandwidth cap that makes several rounds happen. @default '50MB' */
  cap?: string;
}

export function modelScenario(o: ModelScenarioOptions = {}): Scenario {
  const guest = (opts: ExperimentOptions) => (opts.quick ? o.quickGuestMiB ?? 64 : o.guestMiB ?? 256);
  const workloads = (opts: ExperimentOptions) => (opts.quick ? o.quickWorkloads ?? ['hotset', 'memstress'] : o.workloads ?? ['hotset', 'zipf', 'memstress']);
  const cap = o.cap ?? '50MB';
  return {
    name: 'model',
    title: 'the paper\'s equations against the measured rounds',
    description:
      'The paper\'s §V models pre-copy by a constant dirtying rate K and transfer rate R: round i carries ' +
      'N_i = V_m·α^i bytes (α = K/R) and lasts T_i = V_m·K^i/R^(i+1); and it models delta compression by a cache hit ' +
      'ratio h and per-page times (t_gain = (1−h)(t_miss − t_nd) − h(t_nd − t_hit)). Every livemig report carries a ' +
      '`model` section that evaluates these equations with K, R and h measured on that migration. Here: workloads ' +
      `hotset, zipf and memstress, guests capped at ${cap}/s over loopback so that several rounds happen, with ` +
      '`--codec none` (the model\'s raw pre-copy) and `--codec lz4-delta`, and with auto-converge off so that the ' +
      'workload keeps its rate (at most 8 rounds, then a forced stop-copy: enough rounds to compare, and a bounded run).',
    discussion:
      'The model assumes every dirtied byte is new: a dirtying rate K over T seconds dirties K·T bytes. Real ' +
      'workloads re-dirty a hot set, so the dirty set saturates at the hot set\'s size however long a round lasts; ' +
      'with α < 1 the model then predicts rounds that shrink geometrically while the measured rounds stay at the hot ' +
      'set\'s size, which is why pre-copy of such a guest does not converge by itself and needs a downtime limit ' +
      'large enough for the hot set, or throttling. memstress (uniformly random writes) is the workload closest to ' +
      'the model\'s assumption. K is taken as the average over the whole pre-copy, R from the measured wire rate ' +
      'divided by the wire fraction (raw bytes per second). Because K is measured from the very rounds it then ' +
      'predicts, the round-1 check is close to circular for a 2-round migration; the test of the model is the ' +
      'shape of rounds ≥ 2 in the chart (geometric decay against a plateau).',
    tableMetrics: ['alpha', 'round1-measured-mb', 'round1-model-mb', 'round1-ratio', 'rounds', 'converged', 't-gain-us', 'predicted-time-fraction', 'measured-byte-fraction', 'total-time-s'],
    points(opts) {
      const pts: Point[] = [];
      for (const w of workloads(opts)) {
        for (const c of ['none', 'lz4-delta']) {
          pts.push({ labels: { workload: w, codec: c }, args: ['--guest-mib', String(guest(opts)), '--workload', w, '--codec', c, '--max-bandwidth', cap, '--no-auto-converge', '--max-rounds', '8'] });
        }
      }
      return pts;
    },
    metrics(r: MigrationReport) {
      const m = r.model;
      if (!m) return {};
      const r1 = m.rounds[1];
      return {
        alpha: m.alpha,
        'k-mb-per-s': m['dirty-rate-bytes-per-sec'] / 1e6,
        'r-mb-per-s': m['transfer-rate-bytes-per-sec'] / 1e6,
        'round1-measured-mb': r1 ? r1['measured-raw-bytes'] / 1e6 : NaN,
        'round1-model-mb': r1 ? r1['model-bytes'] / 1e6 : NaN,
        'round1-ratio': r1 && r1['model-bytes'] > 0 ? r1['measured-raw-bytes'] / r1['model-bytes'] : NaN,
        ...(m.delta
          ? { 't-gain-us': m.delta['t-gain-us'], 'predicted-time-fraction': m.delta['predicted-time-fraction'], 'measured-byte-fraction': m.delta['measured-byte-fraction'] }
          : {}),
      };
    },
    charts(rows, records, opts) {
      const data = roundSeries(records);
      const sub = subtitle(opts, `every run drawn; guest ${guest(opts)} MiB, loopback capped at ${cap}/s`).replace(/^bar = median, whisker = min–max of /, 'lines: ');
      return [
        lineChart({ id: 'model-round-bytes', title: 'Bytes per round: measured vs the paper\'s N_i = V_m·α^i', subtitle: sub, data, x: { field: 'round', title: 'round' }, y: { field: 'mb', title: 'raw bytes in the round (MB, log scale)' }, color: { field: 'series', title: 'series' }, detail: 'run', column: { field: 'case', title: '' }, logY: true }),
        barChart({ id: 'model-alpha', title: 'Measured α = K/R per workload and codec', subtitle: subtitle(opts, 'α < 1 means the model predicts convergence'), rows, x: { field: 'workload', title: 'workload' }, color: { field: 'codec', title: 'codec' }, metric: 'alpha', yTitle: 'α (dirty rate / transfer rate)' }),
      ];
    },
    claims(rows) {
      const out: Claim[] = [];
      for (const r of rows) {
        const w = String(r.labels.workload);
        const c = String(r.labels.codec);
        const ratio = stat(rows, r.labels, 'round1-ratio');
        const alpha = stat(rows, r.labels, 'alpha');
        out.push({
          paper: `N_1 = V_m·α: round 1 carries α of the memory (${w}, ${c})`,
          measured: `α ${show(alpha, '')}; round 1 measured/model ${show(ratio, '×')}`,
          holds: ratio ? ratio.median >= 0.5 && ratio.median <= 2 : null,
        });
      }
      for (const w of [...new Set(rows.map((r) => String(r.labels.workload)))]) {
        const g = stat(rows, { workload: w, codec: 'lz4-delta' }, 't-gain-us');
        const tNone = stat(rows, { workload: w, codec: 'none' }, 'total-time-s');
        const tLz = stat(rows, { workload: w, codec: 'lz4-delta' }, 'total-time-s');
        const pred = stat(rows, { workload: w, codec: 'lz4-delta' }, 'predicted-time-fraction');
        const meas = stat(rows, { workload: w, codec: 'lz4-delta' }, 'measured-byte-fraction');
        out.push({
          paper: `eq. (5): t_gain < 0, delta compression saves time (${w})`,
          measured: `t_gain ${show(g, 'µs/page')}; predicted time fraction ${n3(pred?.median)}, measured byte fraction of re-sent pages ${n3(meas?.median)}; total time none ${show(tNone, 's')} vs lz4-delta ${show(tLz, 's')}`,
          holds: g && tNone && tLz ? g.median < 0 && tLz.median < tNone.median : null,
        });
      }
      return out;
    },
  };
}

/** Per-round measured and model bytes of every run, for the line chart. */
export function roundSeries(records: readonly RunRecord[]): Array<Record<string, string | number>> {
  const out: Array<Record<string, string | number>> = [];
  for (const rec of records) {
    const rounds = rec.report?.model?.rounds;
    if (!rec.ok || !rounds) continue;
    const kase = `${rec.labels.workload}, ${rec.labels.codec}`;
    for (const r of rounds) {
      // Log scale: a zero would vanish, so it is left out.
      if (r['measured-raw-bytes'] > 0) out.push({ case: kase, run: `${rec.run}m`, round: r.round, series: 'measured', mb: r['measured-raw-bytes'] / 1e6 });
      if (r['model-bytes'] > 0) out.push({ case: kase, run: `${rec.run}p`, round: r.round, series: 'model V_m·α^i', mb: r['model-bytes'] / 1e6 });
    }
  }
  return out;
}
