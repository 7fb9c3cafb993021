import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { LivemigError, epochMs, systemClock, silentLogger, type Clock, type Logger } from '../core/index.js';
import type { Guest } from '../guest/index.js';
import { PageHashTable, memoryDigest, DIGEST_ALGORITHM } from '../guest/index.js';
import type { PageCache } from '../cache/index.js';
import type { Channel } from '../transport/index.js';
import { FrameType, FrameFlags, PROTOCOL_VERSION, DEFAULT_MAX_FRAME_BYTES, type ResultBody } from '../wire/index.js';
import { ConvergencePolicy, type ConvergenceOptions, type ConvergenceDecision } from './convergence.js';
import type { EncodeCounters, MigrationCodec } from './page-encoder.js';
import { wireCodecsOf } from './page-encoder.js';
import { blockWireCodecs } from './page-record-writer.js';
import { RateMeter, TokenBucket } from './rate.js';
import { Peer } from './peer.js';
import { InlineRoundEncoder, type RoundEncoder, type RoundEncoderOptions } from './round-encoder.js';
import { buildReport } from './build-report.js';
import { AdaptiveDriver, plannedEncoder } from './codec-adapt.js';
import { CodecChooser } from './codec-chooser.js';
import { CODEC_PLANS, planNeedsZstd } from './codec-plan.js';
import type { MigrationReport, RoundRow } from './report.js';

/** Live progress, for a progress bar. */
export interface Progress {
  round: number;
  phase: 'precopy' | 'stop-copy';
  dirtyPages: number;
  pagesDone: number;
  wireBytes: number;
  bytesPerSec: number;
  expectedDowntimeMs: number | null;
  throttle: number;
}

export interface SourceOptions {
  guest: Guest;
  channel: Channel;
  /** @default 'lz4-delta' */
  codec?: MigrationCodec;
  /** The page cache for delta codecs; null disables deltas. */
  cache?: PageCache | null;
  /** Compression level of the zstd codecs (1..19, fast -7..-1). @default 1 */
  zstdLevel?: number;
  /**
   * Multi-page blocks: pages within this many indexes are compressed together (1 = off, at most 64;
   * lz4 and zstd codec families only, see page-record-writer.ts). @default DEFAULT_BLOCK_PAGES
   */
  blockPages?: number;
  convergence?: Partial<ConvergenceOptions>;
  /** Cap on the sending rate in bytes/s, as QEMU's max-bandwidth; 0 = unlimited. @default 0 */
  maxBandwidthBytesPerSec?: number;
  /**
   * 'pages' compares digests of per-page hashes kept as pages are sent and applied; 'full' also
   * rehashes all memory on both sides during the downtime. @default 'pages'
   */
  verify?: 'pages' | 'full';
  /** Frame size limit offered to the destination. @default 4 MiB */
  maxFrameBytes?: number;
  /** Target size of a page batch frame, in bytes. @default 262144 */
  batchBytes?: number;
  /** Builds the round encoder (e.g. a worker pool). @default an InlineRoundEncoder */
  createEncoder?: (o: RoundEncoderOptions) => RoundEncoder;
  /** How long to wait for the destination's verdict and for each answer, in ms. @default 60000 */
  answerTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** Name of the transport, for the report. @default channel.transport */
  transportLabel?: string;
}

/**
 * Driver A's source side: pre-copy rounds over a Guest, stop-and-copy, and the verdict. The guest
 * keeps running on the source until the destination confirms a matching digest; on any failure it
 * is resumed here, so nothing is lost.
 */
export async function runSource(opts: SourceOptions): Promise<MigrationReport> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? silentLogger;
  const guest = opts.guest;
  const codec = opts.codec ?? 'lz4-delta';
  const policy = new ConvergencePolicy(opts.convergence);
  const answerTimeoutMs = opts.answerTimeoutMs ?? 60_000;
  let maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const peer = new Peer(opts.channel, () => maxFrameBytes);
  let encoder: RoundEncoder | null = null;
  // Shared, so that encoder threads record page hashes directly.
  const table = new PageHashTable(guest.pageCount, { shared: true });
  const meter = new RateMeter(clock, 1000);
  const bucket = new TokenBucket(clock, opts.maxBandwidthBytesPerSec ?? 0);
  const rounds: RoundRow[] = [];
  const t0 = clock.now();
  let pausedHere = false;
  let setupMs = 0;
  let lastDecision: ConvergenceDecision | null = null;
  let result: ResultBody | null = null;
  let firstResult: ResultBody | null = null;
  let pausedEpoch = 0;
  let resultArrivedEpoch = 0;
  let rttMs = 0;
  let breakdown: Record<string, number> = {};

  const sendFrame = async (frame: Uint8Array, onSent?: () => void): Promise<void> => {
    await bucket.take(frame.length);
    await peer.sendFrame(frame, false, onSent);
    meter.record(frame.length);
  };

  try {
    // Handshake.
    const helloAt = clock.now();
    await peer.sendControl(FrameType.HELLO, {
      protocolVersion: PROTOCOL_VERSION,
      sessionId: randomUUID(),
      codecs: [...wireCodecsOf(codec), ...blockWireCodecs(codec, opts.blockPages)],
      pageSize: guest.pageSize,
      guest: guest.description,
      transport: opts.transportLabel ?? opts.channel.transport,
      maxFrameBytes,
      features: opts.verify === 'full' ? ['verify-full'] : [],
    });
    const ack = await peer.expect(FrameType.HELLO_ACK, answerTimeoutMs, 'the handshake answer');
    rttMs = clock.now() - helloAt;
    if (!ack.accepted) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `The destination refused the migration: ${ack.reason ?? 'no reason given'}`);
    maxFrameBytes = ack.maxFrameBytes;
    // An older destination may not decode zstd: say so now rather than at the first page.
    const missing = (codec === 'zstd' ? ['zstd'] : codec === 'zstd-delta' ? ['zstd', 'zstd-delta'] : []).filter((c) => !ack.codecs.includes(c));
    if (missing.length > 0) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `The destination does not decode ${missing.join(', ')}, which --codec ${codec} needs; upgrade it or choose another codec`);
    const blockNames = blockWireCodecs(codec, opts.blockPages);
    // adaptive's zstd blocks go with its zstd plans, which it drops (below) when the destination lacks them.
    const blocksMissing = blockNames.filter((c) => !ack.codecs.includes(c) && !(codec === 'adaptive' && c.startsWith('zstd')));
    if (blocksMissing.length > 0) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `The destination does not decode ${blocksMissing.join(', ')} (multi-page blocks); upgrade it or pass --block-pages 1`);
    // adaptive does without its zstd plans when the destination cannot decode them.
    const zstdOk = ['zstd', 'zstd-delta', ...blockNames.filter((c) => c.startsWith('zstd'))].every((c) => ack.codecs.includes(c));
    if (codec === 'adaptive' && !zstdOk) log.info('the destination does not decode zstd; adaptive chooses among raw and lz4-delta only');
    setupMs = clock.now() - t0;
    log.debug(`handshake done in ${setupMs.toFixed(1)} ms, frames up to ${maxFrameBytes} bytes`);

    // Batches well below the frame limit keep encoding, sending and decoding overlapped.
    const batchBytes = Math.min(maxFrameBytes, opts.batchBytes ?? 256 * 1024);
    encoder = (opts.createEncoder ?? ((o: RoundEncoderOptions) => new InlineRoundEncoder(o)))({ guest, codec, cache: opts.cache ?? null, table, batchBytes, codecOptions: { zstdLevel: opts.zstdLevel }, blockPages: opts.blockPages });
    const enc = encoder;
    // adaptive: a plan per round (and mid-round), following the link; see codec-adapt.ts.
    const planned = codec === 'adaptive' ? plannedEncoder(enc) : null;
    const threads = Math.min((enc as { threads?: number }).threads ?? 1, availableParallelism());
    const adapt = planned && new AdaptiveDriver(planned, new CodecChooser({
      pageSize: guest.pageSize,
      threads,
      capBytesPerSec: opts.maxBandwidthBytesPerSec ?? 0,
      candidates: CODEC_PLANS.filter((p) => zstdOk || !planNeedsZstd(p)),
    }), clock, () => peer.wireBytesSent, { cacheSlots: opts.cache?.slots });
    const emit = adapt ? adapt.wrap(sendFrame) : sendFrame;
    if (!guest.running) await guest.resume();

    /** Sends one round's pages; returns its row. */
    const sendRound = async (round: number, pages: Uint32Array, phase: RoundRow['phase']): Promise<RoundRow> => {
      const start = clock.now();
      const before = peer.wireBytesSent;
      const c0 = { ...enc.counters };
      const flags = phase === 'stop-copy' ? FrameFlags.STOP_COPY : 0;
      // The final round is opened by STOP_COPY (the guest is paused), the others by ROUND_START.
      if (phase === 'stop-copy') await peer.sendControl(FrameType.STOP_COPY, { round, pagesRemaining: pages.length }, { round, flags });
      else await peer.sendControl(FrameType.ROUND_START, { round, dirtyPages: pages.length }, { round, flags });
      const progress = opts.onProgress;
      adapt?.beginRound(round, pages.length);
      const { records, payloadBytes } = await enc.encodeRound(
        round, pages, { flags, nextSeq: () => peer.nextSeq() }, emit,
        progress && ((done) => progress({ round, phase, dirtyPages: pages.length, pagesDone: done, wireBytes: peer.wireBytesSent, bytesPerSec: meter.bytesPerSec(), expectedDowntimeMs: lastDecision?.expectedDowntimeMs ?? null, throttle: policy.throttle })),
      );
      const choice = adapt?.endRound(round);
      await peer.sendControl(FrameType.ROUND_END, { round, pages: records, payloadBytes }, { round, flags });
      const c = diffCounters(enc.counters, c0);
      const durationMs = clock.now() - start;
      const wire = peer.wireBytesSent - before;
      return {
        round, phase,
        'start-ms': start - t0,
        'duration-ms': durationMs,
        'dirty-pages': pages.length,
        'pages-sent': records,
        'zero-pages': c.zeroPages,
        'full-pages': c.fullPages,
        'delta-pages': c.deltaPages,
        'unchanged-pages': c.unchangedPages,
        'overflow-pages': c.overflowPages,
        'cache-hits': c.cacheHits,
        'cache-misses': c.cacheMisses,
        'payload-bytes': payloadBytes,
        'wire-bytes': wire,
        'raw-bytes': pages.length * guest.pageSize,
        mbps: durationMs > 0 ? (wire * 8) / (durationMs * 1000) : 0,
        'dirty-pages-rate': guest.dirtyRatePagesPerSec(),
        throttle: policy.throttle,
        'expected-downtime-ms': null,
        decision: '',
        ...(choice ? { 'codec-choice': choice } : {}),
      };
    };

    // Pre-copy rounds.
    let round = 0;
    let dirty = guest.syncDirty();
    let converged = false;
    for (;;) {
      const row = await sendRound(round, dirty, 'precopy');
      rounds.push(row);
      dirty = guest.syncDirty();
      const wirePerPage = row['dirty-pages'] > 0 ? row['wire-bytes'] / row['dirty-pages'] : 0;
      const decision = policy.decide({
        round,
        elapsedMs: clock.now() - t0,
        bandwidthBytesPerSec: meter.bytesPerSec(),
        dirtyPages: dirty.length,
        wireBytesPerPage: wirePerPage,
        wireBytesInRound: row['wire-bytes'],
        switchoverMs: rttMs,
      });
      lastDecision = decision;
      row['expected-downtime-ms'] = Number.isFinite(decision.expectedDowntimeMs) ? decision.expectedDowntimeMs : null;
      row.decision = `${decision.action}: ${decision.reason}`;
      log.debug(`round ${round}: ${row['dirty-pages']} pages, ${row['wire-bytes']} wire bytes in ${row['duration-ms'].toFixed(0)} ms; ${dirty.length} dirty; ${row.decision}`);
      guest.setThrottle(decision.throttle);
      if (decision.action === 'abort') {
        throw new LivemigError('LIVEMIG_E_NOT_CONVERGED', `Pre-copy did not converge: ${decision.reason}. The guest keeps running on the source; raise --downtime-limit-ms or --max-bandwidth, or allow more rounds`);
      }
      if (decision.action !== 'continue') {
        converged = decision.action === 'stop-copy';
        if (!converged) log.info(`not converging (${decision.reason}); forcing stop-and-copy`);
        break;
      }
      round++;
    }

    // Stop-and-copy: pause, take what was dirtied since the last sync, send the rest.
    pausedEpoch = epochMs();
    const pausedAt = clock.now();
    pausedHere = true;
    await guest.pause();
    const pausedMs = clock.now() - pausedAt;
    const last = mergeSorted(dirty, guest.syncDirty());
    round++;
    const finalRow = await sendRound(round, last, 'stop-copy');
    rounds.push(finalRow);
    const digestAt = clock.now();
    const digest = opts.verify === 'full' ? memoryDigest(guest.memory, guest.pageSize) : table.root();
    if (opts.verify === 'full' && digest !== table.root()) {
      throw new LivemigError('LIVEMIG_E_INTERNAL', 'The source memory no longer matches what was sent: a page was written without being marked dirty');
    }
    await peer.sendControl(FrameType.DIGEST, { algorithm: DIGEST_ALGORITHM, pageCount: guest.pageCount, digest }, { round, flags: FrameFlags.STOP_COPY });
    const verdictAt = clock.now();
    firstResult = await peer.expect(FrameType.RESULT, answerTimeoutMs, "the destination's verdict");
    resultArrivedEpoch = epochMs();
    breakdown = {
      'pause-ms': pausedMs,
      'final-round-ms': finalRow['duration-ms'],
      'digest-ms': verdictAt - digestAt,
      'verdict-wait-ms': clock.now() - verdictAt,
      'rtt-ms': rttMs,
    };
    if (!firstResult.verified) {
      throw new LivemigError('LIVEMIG_E_DIGEST_MISMATCH', `The destination's memory does not match the source's (${firstResult.detail}); the guest resumes on the source`, { phase: 'verify' });
    }
    // The destination runs the guest's self-check after resuming and reports it in a second RESULT.
    result = await peer.expect(FrameType.RESULT, answerTimeoutMs, "the destination's self-check");
    const downtimeEnd = firstResult.resumedAtMs ?? resultArrivedEpoch - rttMs / 2;
    await enc.close();
    const report = buildReport({
      status: 'completed',
      guest, codec, cache: enc.usesCache ? (opts.cache ?? null) : null,
      transport: opts.transportLabel ?? opts.channel.transport,
      rounds, counters: enc.counters,
      totalMs: clock.now() - t0, setupMs,
      downtimeMs: downtimeEnd - pausedEpoch,
      downtimeBasis: firstResult.resumedAtMs !== undefined
        ? 'end to end: source pause to destination resume, one host clock'
        : 'source pause to verdict arrival minus half the round-trip time',
      wireBytes: peer.wireBytesSent,
      converged, verified: true,
      selfCheck: result.selfCheckOk === null ? null : { ok: result.selfCheckOk, detail: result.detail, pagesChecked: 0, errors: result.selfCheckOk ? 0 : 1 },
      paths: opts.channel.stats().paths,
      maxBandwidth: opts.maxBandwidthBytesPerSec ?? 0,
      downtimeLimitMs: policy.options.downtimeLimitMs,
      downtimeBreakdown: breakdown,
    });
    await opts.channel.close().catch(() => {});
    return report;
  } catch (err) {
    await encoder?.close().catch(() => {});
    await peer.abort(err, clock);
    opts.channel.destroy();
    // Nothing is lost: the source guest runs again unless the destination verified its copy.
    if (pausedHere && !(firstResult?.verified ?? false)) await guest.resume().catch(() => {});
    throw err;
  }
}

function diffCounters(now: EncodeCounters, before: EncodeCounters): EncodeCounters {
  const d = { ...now };
  for (const k of Object.keys(d) as Array<keyof EncodeCounters>) d[k] -= before[k];
  return d;
}

/** Union of two ascending index lists. */
export function mergeSorted(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (n === 0 || out[n - 1] !== x) out[n++] = x;
  }
  return out.subarray(0, n);
}
