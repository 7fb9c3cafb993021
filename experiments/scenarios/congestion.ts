/**
 * Paper §V/§VII: MPTCP's congestion control shifts traffic from a congested path to the others.
 * Here: one unlimited cross-traffic flow on path 0; tcp, kernel mptcp and livemig's multipath
 * with each scheduler, beside the same transports without cross traffic.
 */
import type { MigrationReport } from '../../src/engine/index.js';
import { barChart } from '../charts.js';
import type { Claim, ExperimentOptions, Point, Scenario } from '../types.js';
import { TWO_GIGABIT_PATHS, clearlyLess, n3, pct, show, stat, subtitle } from './common.js';

const CONFIGS: Array<{ name: string; args: string[] }> = [
  { name: 'tcp', args: ['--transport', 'tcp'] },
  { name: 'mptcp', args: ['--transport', 'mptcp'] },
  { name: 'multipath round-robin', args: ['--transport', 'multipath', '--scheduler', 'round-robin'] },
  { name: 'multipath least-queued', args: ['--transport', 'multipath', '--scheduler', 'least-queued'] },
  { name: 'multipath weighted', args: ['--transport', 'multipath', '--scheduler', 'weighted'] },
];

/** Options of the congestion scenario. */
export interface CongestionScenarioOptions {
  guestMiB?: number;
  quickGuestMiB?: number;
}

export function congestionScenario(o: CongestionScenarioOptions = {}): Scenario {
  const guest = (opts: ExperimentOptions) => (opts.quick ? o.quickGuestMiB ?? 256 : o.guestMiB ?? 1024);
  return {
    name: 'congestion',
    title: 'cross traffic on one path: tcp, mptcp and each multipath scheduler',
    description:
      'The paper congests its network with iperf and relies on MPTCP\'s congestion control to shift the migration ' +
      'to the less loaded path. Here: the testbed\'s two 1 Gbit/s paths, one unlimited TCP cross-traffic flow on ' +
      'path 0 (livemig\'s own sender, started 2 s before the migration and stopped after it), and an idle ' +
      'synthetic guest sent with `--codec none`: `tcp` (on path 0, the loaded one), kernel `mptcp` (one subflow ' +
      'per path), and `multipath` with the `round-robin`, `least-queued` and `weighted` schedulers (one subflow per ' +
      'path). Each is also run without cross traffic as its own baseline.',
    discussion:
      'TCP has no other path: it shares path 0 with the cross flow and gets about half of it. A round-robin ' +
      'scheduler sends equal shares down both paths, so the loaded path sets the pace unless its send window ' +
      'blocks and the scheduler moves on; least-queued and weighted schedulers follow each subflow\'s drain rate and ' +
      'so shift bytes to the free path, which is the effect the paper attributes to MPTCP\'s congestion control. ' +
      'Kernel MPTCP\'s default scheduler also prefers the subflow with room in its window.',
    tableMetrics: ['total-time-s', 'downtime-ms', 'mbps', 'path0-share', 'path0-mb', 'path1-mb'],
    points(opts) {
      const pts: Point[] = [];
      for (const loaded of [false, true]) {
        for (const c of CONFIGS) {
          pts.push({
            labels: { transport: c.name, 'cross-traffic': loaded ? 'path 0 loaded' : 'none' },
            args: ['--guest-mib', String(guest(opts)), '--workload', 'idle', '--codec', 'none', ...c.args],
            testbed: TWO_GIGABIT_PATHS,
            ...(loaded ? { congestion: { path: 0, rateBitsPerSec: null } } : {}),
          });
        }
      }
      return pts;
    },
    metrics(r: MigrationReport) {
      const total = r.paths.reduce((s, p) => s + p.bytesSent, 0);
      // With one path (tcp) everything went over path 0.
      return { 'path0-share': total > 0 ? (r.paths[0]?.bytesSent ?? 0) / total : NaN };
    },
    charts(rows, _r, opts) {
      const sub = subtitle(opts, `idle guest ${guest(opts)} MiB, no compression, 2 paths × 1 Gbit/s`);
      const x = { field: 'transport', title: 'transport (scheduler)' };
      const color = { field: 'cross-traffic', title: 'cross traffic' };
      return [
        barChart({ id: 'congestion-total-time', title: 'Total migration time with and without cross traffic on path 0', subtitle: sub, rows, x, color, metric: 'total-time-s', yTitle: 'total migration time (s)' }),
        barChart({ id: 'congestion-path0-share', title: 'Share of the migration\'s bytes sent on path 0', subtitle: subtitle(opts, 'path 0 carries the cross traffic when loaded; tcp uses path 0 only'), rows, x, color, metric: 'path0-share', yTitle: 'share of bytes on path 0 (%)', scale: 100 }),
      ];
    },
    claims(rows) {
      const L = 'path 0 loaded';
      const tcp = stat(rows, { transport: 'tcp', 'cross-traffic': L }, 'total-time-s');
      const mp = stat(rows, { transport: 'mptcp', 'cross-traffic': L }, 'total-time-s');
      const share = stat(rows, { transport: 'mptcp', 'cross-traffic': L }, 'path0-share');
      const shareFree = stat(rows, { transport: 'mptcp', 'cross-traffic': 'none' }, 'path0-share');
      const out: Claim[] = [
        { paper: 'MPTCP migrates faster than TCP on a congested network', measured: `path 0 loaded: TCP ${show(tcp, 's')}, MPTCP ${show(mp, 's')} (${pct(tcp?.median, mp?.median)})`, holds: clearlyLess(mp, tcp) },
        { paper: 'MPTCP shifts traffic from the congested path to the less loaded one', measured: `MPTCP bytes on path 0: ${n3((share?.median ?? NaN) * 100)} % loaded, ${n3((shareFree?.median ?? NaN) * 100)} % unloaded`, holds: share && shareFree ? share.median < shareFree.median - 0.05 : null },
      ];
      for (const s of ['round-robin', 'least-queued', 'weighted']) {
        const t = stat(rows, { transport: `multipath ${s}`, 'cross-traffic': L }, 'total-time-s');
        const sh = stat(rows, { transport: `multipath ${s}`, 'cross-traffic': L }, 'path0-share');
        out.push({ paper: `(livemig) multipath ${s} beats TCP under congestion`, measured: `${show(t, 's')} vs TCP ${show(tcp, 's')} (${pct(tcp?.median, t?.median)}); ${n3((sh?.median ?? NaN) * 100)} % of bytes on path 0`, holds: clearlyLess(t, tcp) });
      }
      return out;
    },
  };
}
