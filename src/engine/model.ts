import type { RoundRow } from './report.js';

/**
 * The paper's section V, evaluated on one migration's measured parameters and set beside what was
 * measured. Pre-copy: D_0 = V_m, N_i = V_m·α^i with α = K/R, T_i = V_m·K^i/R^(i+1). Delta compression:
 * t_hit = t_ct + t_cpt + t_chtr + t_cdt, t_miss = t_ct + t_tr, t_gain = (1-h)(t_miss - t_nd) - h(t_nd - t_hit).
 */
export interface ModelReport {
  /** V_m: guest memory in bytes. */
  'vm-bytes': number;
  /** K: measured dirtying rate in bytes/s (raw page bytes), averaged over pre-copy rounds after the first. */
  'dirty-rate-bytes-per-sec': number;
  /** R: measured transfer rate of raw page bytes per second (wire rate / wire-fraction). */
  'transfer-rate-bytes-per-sec': number;
  alpha: number;
  rounds: Array<{ round: number; 'model-bytes': number; 'measured-raw-bytes': number; 'model-time-ms': number; 'measured-time-ms': number }>;
  delta: {
    /** h: cache hit ratio. */
    'hit-ratio': number;
    /** Per-page times in µs: t_nd (no compression), t_hit, t_miss. */
    't-nd-us': number;
    't-hit-us': number;
    't-miss-us': number;
    /** The paper's eq. (5); negative means delta compression saves time. */
    't-gain-us': number;
    /** Predicted per-page transfer time with deltas / without, from eq. (4). */
    'predicted-time-fraction': number;
    /** Measured wire bytes of re-sent pages / their raw bytes. */
    'measured-byte-fraction': number;
  } | null;
  note: string;
}

export interface ModelInputs {
  vmBytes: number;
  pageSize: number;
  rounds: RoundRow[];
  /** Measured link rate in wire bytes/s. */
  wireBytesPerSec: number;
  /** Whole-migration wire fraction. */
  wireFraction: number;
  hitRatio: number;
  /** Mean time to encode a cache-hit page, in µs (t_cpt, includes the cache lookup t_ct). */
  encodeUsPerHit: number;
  /** Mean time to decode a delta page at the destination, in µs (t_cdt), if known. */
  decodeUsPerDelta: number;
  /** Mean wire bytes of a delta page (t_chtr = this / R). */
  deltaBytesPerPage: number;
  /** Whether a delta codec was in use. */
  deltas: boolean;
}

export function evaluateModel(m: ModelInputs): ModelReport {
  const pre = m.rounds.filter((r) => r.phase === 'precopy');
  const later = pre.slice(1);
  const durS = later.reduce((s, r) => s + r['duration-ms'], 0) / 1000;
  const dirtiedBytes = m.rounds.slice(1).reduce((s, r) => s + r['raw-bytes'], 0);
  // K: bytes dirtied per second of pre-copy, using the dirty set each round had to carry.
  const totalPreS = pre.reduce((s, r) => s + r['duration-ms'], 0) / 1000;
  const K = totalPreS > 0 ? dirtiedBytes / totalPreS : 0;
  const R = m.wireFraction > 0 ? m.wireBytesPerSec / m.wireFraction : m.wireBytesPerSec;
  const alpha = R > 0 ? K / R : 0;
  const rounds = m.rounds.map((r, i) => ({
    round: r.round,
    'model-bytes': Math.round(m.vmBytes * alpha ** i),
    'measured-raw-bytes': r['raw-bytes'],
    'model-time-ms': R > 0 ? (1000 * m.vmBytes * K ** i) / R ** (i + 1) : 0,
    'measured-time-ms': r['duration-ms'],
  }));
  let delta: ModelReport['delta'] = null;
  if (m.deltas && R > 0) {
    const h = m.hitRatio;
    const tNd = (m.pageSize / R) * 1e6;
    const tHit = m.encodeUsPerHit + (m.deltaBytesPerPage / m.wireBytesPerSec) * 1e6 + m.decodeUsPerDelta;
    // A miss costs a full transfer; its cache lookup (t_ct) is folded into the measured t_hit.
    const tMiss = tNd;
    const tGain = (1 - h) * (tMiss - tNd) - h * (tNd - tHit);
    const resent = m.rounds.slice(1);
    const raw = resent.reduce((s, r) => s + r['raw-bytes'], 0);
    const wire = resent.reduce((s, r) => s + r['wire-bytes'], 0);
    delta = {
      'hit-ratio': h,
      't-nd-us': tNd,
      't-hit-us': tHit,
      't-miss-us': tMiss,
      't-gain-us': tGain,
      'predicted-time-fraction': tNd > 0 ? (h * tHit + (1 - h) * tMiss) / tNd : 1,
      'measured-byte-fraction': raw > 0 ? wire / raw : 0,
    };
  }
  return {
    'vm-bytes': m.vmBytes,
    'dirty-rate-bytes-per-sec': K,
    'transfer-rate-bytes-per-sec': R,
    alpha,
    rounds,
    delta,
    note:
      'K and R are measured on this migration; the model assumes a constant dirty rate that re-dirties fresh pages, ' +
      'so a hot set smaller than K·T_i makes measured rounds smaller than V_m·α^i. ' +
      `later rounds: ${later.length}, ${durS.toFixed(2)} s`,
  };
}
