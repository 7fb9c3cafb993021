import { MiB, stderrLogger, type Logger } from '../core/index.js';
import { createSyntheticGuest, createImageGuest, type Guest } from '../guest/index.js';
import { createPageCache } from '../cache/index.js';
import { runSource, formatSummary, createRoundEncoder, type MigrationReport, type Progress } from '../engine/index.js';
import type { Channel } from '../transport/index.js';
import type { SourceConfig } from './options.js';
import { ProgressBar } from './progress.js';

/** Builds the guest a source migrates: a memory image, or the synthetic guest with its workload running. */
export async function buildSourceGuest(cfg: SourceConfig, log: Logger): Promise<Guest> {
  if (cfg.image) return createImageGuest(cfg.image);
  const params: Record<string, number> = { seed: cfg.seed, hotPercent: cfg.hotPercent };
  if (cfg.dirtyRate !== undefined) params.dirtyRate = cfg.dirtyRate;
  const t = performance.now();
  const guest = await createSyntheticGuest({ memoryBytes: cfg.guestMiB * MiB, workload: cfg.workload, params });
  log.debug(`guest of ${cfg.guestMiB} MiB filled in ${(performance.now() - t).toFixed(0)} ms`);
  await guest.resume();
  if (cfg.warmupMs > 0) await new Promise((r) => setTimeout(r, cfg.warmupMs));
  return guest;
}

/** Runs the source side over an open channel and returns the report. */
export async function migrateOver(cfg: SourceConfig, guest: Guest, channel: Channel, opts: { json: boolean; verbose: boolean }): Promise<MigrationReport> {
  const log = stderrLogger(opts.verbose);
  const bar = !opts.json && process.stderr.isTTY ? new ProgressBar() : null;
  const cache = cfg.codec === 'none' || cfg.codec === 'lz4' || cfg.codec === 'zstd' ? null : createPageCache(cfg.cachePolicy, { capacityBytes: cfg.cacheBytes });
  try {
    return await runSource({
      guest, channel, codec: cfg.codec, cache, zstdLevel: cfg.zstdLevel, blockPages: cfg.blockPages,
      convergence: cfg.convergence,
      maxBandwidthBytesPerSec: cfg.maxBandwidth,
      verify: cfg.verify,
      // Worker threads for 2 or more; an image guest (memory not shared) still encodes inline.
      createEncoder: (o) => createRoundEncoder(o, cfg.compressThreads),
      logger: log,
      onProgress: bar ? (p: Progress) => bar.update(p) : undefined,
    });
  } finally {
    bar?.done();
  }
}

export function printReport(report: MigrationReport, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(report) + '\n');
  else process.stdout.write(formatSummary(report) + '\n');
}

