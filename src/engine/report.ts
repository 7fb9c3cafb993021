import { formatBytes } from '../core/index.js';
import type { EncodeCounters } from './page-encoder.js';
import type { ModelReport } from './model.js';
import type { PathStats } from '../transport/index.js';
import type { SelfCheckResult } from '../guest/index.js';
import type { RoundCodecChoice } from './codec-adapt.js';

/** One pre-copy round, as the source saw it. */
export interface RoundRow {
  round: number;
  /** 'precopy' rounds run with the guest live; the last one is 'stop-copy'. */
  phase: 'precopy' | 'stop-copy';
  /** Start, ms after the migration started. */
  'start-ms': number;
  'duration-ms': number;
  /** Pages in the dirty set this round sent. */
  'dirty-pages': number;
  /** Page records sent (unchanged pages are not sent). */
  'pages-sent': number;
  'zero-pages': number;
  'full-pages': number;
  'delta-pages': number;
  'unchanged-pages': number;
  'overflow-pages': number;
  'cache-hits': number;
  'cache-misses': number;
  /** Codec payload bytes. */
  'payload-bytes': number;
  /** Bytes that crossed the wire in this round, framing included. */
  'wire-bytes': number;
  /** Raw page bytes this round covered (dirty-pages × page size). */
  'raw-bytes': number;
  mbps: number;
  /** Pages the guest dirtied per second during this round. */
  'dirty-pages-rate': number;
  /** Workload throttle in force during the round (0..0.99). */
  throttle: number;
  /** The convergence policy's estimate after this round. */
  'expected-downtime-ms': number | null;
  decision: string;
  /**
   * `adaptive` only: the codec plan chosen for the round and why (the link rate assumed, each
   * candidate's learned CPU rate, ratio and predicted time), plus any mid-round switches.
   */
  'codec-choice'?: RoundCodecChoice;
}

/**
 * The migration report. Fields use QEMU's query-migrate names where one exists; livemig's own sit
 * beside them. Times in ms, sizes in bytes.
 */
export interface MigrationReport {
  status: 'completed' | 'failed';
  /** Why it failed, if it did. */
  error?: { code: string; phase: string; message: string };
  'total-time': number;
  /** End to end: from the source guest's pause to the destination guest's resume. */
  downtime: number;
  'downtime-basis': string;
  /** Where the downtime went, as the source saw it: pause, final round, digest, waiting for the verdict (ms). */
  'downtime-breakdown': Record<string, number>;
  'setup-time': number;
  /** Bytes the source handed to the transport (QEMU counts the stream); equals wire-bytes here. */
  transferred: number;
  remaining: number;
  /** Guest memory size. */
  total: number;
  /** Zero pages sent as such. */
  duplicate: number;
  /** Pages sent in full. */
  normal: number;
  'normal-bytes': number;
  'dirty-sync-count': number;
  'dirty-pages-rate': number;
  /** Average wire throughput in Mbit/s. */
  mbps: number;
  'xbzrle-cache': {
    'cache-size': number;
    /** Delta payload bytes (whatever the delta codec). */
    bytes: number;
    /** Pages sent as deltas. */
    pages: number;
    'cache-miss': number;
    'cache-miss-rate': number;
    /** Raw bytes of delta pages / delta bytes. */
    'encoding-rate': number;
    overflow: number;
  };
  'wire-bytes': number;
  /** wire-bytes / raw page bytes covered; the paper's "compression ratio". */
  'wire-fraction': number;
  'cache-hit-rate': number;
  converged: boolean;
  verified: boolean;
  'self-check': SelfCheckResult | null;
  codec: string;
  'cache-policy': string | null;
  transport: string;
  guest: { workload: string; 'memory-bytes': number; 'page-size': number; params: Record<string, number | string> };
  'max-bandwidth': number;
  'downtime-limit': number;
  counters: EncodeCounters;
  rounds: RoundRow[];
  paths: PathStats[];
  /** Peak resident memory of the source process, in bytes. */
  'source-max-rss': number;
  destination?: Record<string, unknown>;
  model: ModelReport | null;
}

/** A short, readable summary of a report, for people. */
export function formatSummary(r: MigrationReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const lines = [
    `status          ${r.status}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`,
    `guest           ${r.guest.workload}, ${formatBytes(r.total)}, codec ${r.codec}${r['cache-policy'] ? `, cache ${r['cache-policy']} ${formatBytes(r['xbzrle-cache']['cache-size'])}` : ''}, transport ${r.transport}`,
    `total time      ${(r['total-time'] / 1000).toFixed(2)} s  (setup ${r['setup-time'].toFixed(0)} ms)`,
    `downtime        ${r.downtime.toFixed(1)} ms  (${r['downtime-basis']}; limit ${r['downtime-limit']} ms)`,
    `rounds          ${r.rounds.length}  converged: ${r.converged ? 'yes' : 'no'}`,
    `wire bytes      ${mb(r['wire-bytes'])}  (wire-fraction ${r['wire-fraction'].toFixed(3)} of raw page bytes)`,
    `pages           ${r.duplicate} zero, ${r.normal} full, ${r['xbzrle-cache'].pages} delta, ${r.counters.unchangedPages} unchanged`,
    `cache hit rate  ${(r['cache-hit-rate'] * 100).toFixed(1)} %`,
    `throughput      ${r.mbps.toFixed(0)} Mbit/s`,
    `verified        ${r.verified ? 'yes, digests match' : 'NO'}`,
    `self-check      ${r['self-check'] ? `${r['self-check'].ok ? 'passed' : 'FAILED'} (${r['self-check'].detail})` : 'not run'}`,
  ];
  for (const row of r.rounds) if (row['codec-choice']) lines.push(formatCodecChoice(row.round, row['codec-choice']));
  return lines.join('\n');
}

/**
 * One line per round for `adaptive`: the plan, the link rate assumed, and per candidate its
 * CPU rate (MB/s), ratio and predicted time, e.g.
 * `codec r0      lz4-delta (link 125 MB/s) | raw 2900 MB/s x1.00 4295 ms; lz4-delta 610 MB/s x0.41 1720 ms; ...`
 */
export function formatCodecChoice(round: number, c: RoundCodecChoice): string {
  const mbs = (b: number | null) => (b === null ? 'fast' : `${(b / 1e6).toFixed(0)} MB/s`);
  const cands = c.candidates.map((x) => `${x.plan} ${mbs(x.cpuBytesPerSec)} x${x.ratio.toFixed(2)} ${x.predictedMs.toFixed(0)} ms`).join('; ');
  const switches = c.switches?.length ? ` -> ${c.switches.map((s) => `${s.plan} at ${s['at-ms']} ms`).join(', ')}` : '';
  return `codec r${String(round).padEnd(8)}${c.plan} (link ${mbs(c.linkBytesPerSec)})${switches} | ${cands}`;
}
