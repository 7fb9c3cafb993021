import type { Guest, SelfCheckResult } from '../guest/index.js';
import type { PageCache } from '../cache/index.js';
import type { PathStats } from '../transport/index.js';
import type { EncodeCounters } from './page-encoder.js';
import type { MigrationReport, RoundRow } from './report.js';
import { evaluateModel } from './model.js';

export interface ReportInputs {
  status: MigrationReport['status'];
  guest: Guest;
  codec: string;
  cache: PageCache | null;
  transport: string;
  rounds: RoundRow[];
  counters: EncodeCounters;
  totalMs: number;
  setupMs: number;
  downtimeMs: number;
  downtimeBasis: string;
  wireBytes: number;
  converged: boolean;
  verified: boolean;
  selfCheck: SelfCheckResult | null;
  paths: PathStats[];
  maxBandwidth: number;
  downtimeLimitMs: number;
  /** Where the downtime went, as the source saw it (ms). */
  downtimeBreakdown: Record<string, number>;
}

/** Assembles the report from what the source measured; every figure is derived, none assumed. */
export function buildReport(i: ReportInputs): MigrationReport {
  const c = i.counters;
  const pageSize = i.guest.pageSize;
  const rawCovered = i.rounds.reduce((s, r) => s + r['raw-bytes'], 0);
  const lookups = c.cacheHits + c.cacheMisses;
  const hitRate = lookups > 0 ? c.cacheHits / lookups : 0;
  const pre = i.rounds.filter((r) => r.phase === 'precopy');
  const rate = pre.length > 1 ? pre.slice(1).reduce((s, r) => s + r['dirty-pages-rate'], 0) / (pre.length - 1) : (pre[0]?.['dirty-pages-rate'] ?? 0);
  const transferMs = i.rounds.reduce((s, r) => s + r['duration-ms'], 0);
  const wireBytesPerSec = transferMs > 0 ? (i.wireBytes * 1000) / transferMs : 0;
  const wireFraction = rawCovered > 0 ? i.wireBytes / rawCovered : 0;
  const hitRows = i.rounds.filter((r) => r['cache-hits'] > 0);
  const encodeUsPerPage = c.encodeMs * 1000 / Math.max(1, c.zeroPages + c.fullPages + c.deltaPages + c.unchangedPages);
  return {
    status: i.status,
    'total-time': i.totalMs,
    downtime: i.downtimeMs,
    'downtime-basis': i.downtimeBasis,
    'downtime-breakdown': i.downtimeBreakdown,
    'setup-time': i.setupMs,
    transferred: i.wireBytes,
    remaining: 0,
    total: i.guest.pageCount * pageSize,
    duplicate: c.zeroPages,
    normal: c.fullPages,
    'normal-bytes': c.fullPages * pageSize,
    'dirty-sync-count': i.rounds.length,
    'dirty-pages-rate': rate,
    mbps: i.totalMs > 0 ? (i.wireBytes * 8) / (i.totalMs * 1000) : 0,
    'xbzrle-cache': {
      'cache-size': i.cache?.capacityBytes ?? 0,
      bytes: c.deltaPayloadBytes,
      pages: c.deltaPages,
      'cache-miss': c.cacheMisses,
      'cache-miss-rate': lookups > 0 ? c.cacheMisses / lookups : 0,
      'encoding-rate': c.deltaPayloadBytes > 0 ? (c.deltaPages * pageSize) / c.deltaPayloadBytes : 0,
      overflow: c.overflowPages,
    },
    'wire-bytes': i.wireBytes,
    'wire-fraction': wireFraction,
    'cache-hit-rate': hitRate,
    converged: i.converged,
    verified: i.verified,
    'self-check': i.selfCheck,
    codec: i.codec,
    'cache-policy': i.cache?.policy ?? null,
    transport: i.transport,
    guest: { workload: i.guest.description.workload, 'memory-bytes': i.guest.pageCount * pageSize, 'page-size': pageSize, params: i.guest.description.params },
    'max-bandwidth': i.maxBandwidth,
    'downtime-limit': i.downtimeLimitMs,
    counters: { ...c },
    rounds: i.rounds,
    paths: i.paths,
    'source-max-rss': process.resourceUsage().maxRSS * 1024,
    model: evaluateModel({
      vmBytes: i.guest.pageCount * pageSize,
      pageSize,
      rounds: i.rounds,
      wireBytesPerSec,
      wireFraction,
      hitRatio: hitRate,
      encodeUsPerHit: encodeUsPerPage,
      decodeUsPerDelta: 0,
      deltaBytesPerPage: c.deltaPages > 0 ? c.deltaPayloadBytes / c.deltaPages : 0,
      deltas: i.cache !== null && hitRows.length > 0,
    }),
  };
}
