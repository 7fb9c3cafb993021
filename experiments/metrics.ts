import type { MigrationReport } from '../src/engine/index.js';
import type { Metrics } from './types.js';

/**
 * The figures every scenario records from a report, with units in their names. 1 MB = 1e6 bytes.
 * Downtime is livemig's end-to-end downtime (source pause to destination resume).
 */
export function commonMetrics(r: MigrationReport): Metrics {
  const m: Metrics = {
    'total-time-s': r['total-time'] / 1000,
    'downtime-ms': r.downtime,
    'setup-time-ms': r['setup-time'],
    'transferred-mb': r.transferred / 1e6,
    'wire-mb': r['wire-bytes'] / 1e6,
    'wire-fraction': r['wire-fraction'],
    'cache-hit-rate': r['cache-hit-rate'],
    rounds: r.rounds.length,
    mbps: r.mbps,
    converged: r.converged ? 1 : 0,
    verified: r.verified ? 1 : 0,
    'delta-pages': r['xbzrle-cache'].pages,
    overflow: r['xbzrle-cache'].overflow,
    'source-max-rss-mb': r['source-max-rss'] / 1e6,
  };
  // Per-path bytes in path order, so a chart can show how the bytes were split.
  r.paths.forEach((p, i) => {
    m[`path${i}-mb`] = p.bytesSent / 1e6;
  });
  return m;
}
