import type { ParseArgsConfig } from 'node:util';
import { LivemigError, MiB } from '../core/index.js';
import { DEFAULT_BLOCK_PAGES, MIGRATION_CODECS, type MigrationCodec, type ConvergenceOptions } from '../engine/index.js';
import type { CachePolicy } from '../cache/index.js';
import type { WorkloadName } from '../guest/index.js';
import { bytesOpt, choiceOpt, intOpt, numOpt } from './args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options that describe the guest and the pre-copy (migrate and send). */
export const SOURCE_OPTIONS: Options = {
  'guest-mib': { type: 'string' },
  workload: { type: 'string' },
  'hot-percent': { type: 'string' },
  'dirty-rate': { type: 'string' },
  seed: { type: 'string' },
  image: { type: 'string' },
  codec: { type: 'string' },
  'zstd-level': { type: 'string' },
  'cache-mib': { type: 'string' },
  'cache-policy': { type: 'string' },
  'downtime-limit-ms': { type: 'string' },
  'max-bandwidth': { type: 'string' },
  'max-rounds': { type: 'string' },
  'max-time-s': { type: 'string' },
  'on-limit': { type: 'string' },
  'no-auto-converge': { type: 'boolean' },
  verify: { type: 'string' },
  'warmup-ms': { type: 'string' },
  'compress-threads': { type: 'string' },
  'block-pages': { type: 'string' },
};

export const COMMON_OPTIONS: Options = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
};

export const WORKLOADS: readonly WorkloadName[] = ['idle', 'hotset', 'memstress', 'qemu-test', 'zipf'];

export interface SourceConfig {
  guestMiB: number;
  workload: WorkloadName;
  hotPercent: number;
  dirtyRate: number | undefined;
  seed: number;
  image: string | undefined;
  codec: MigrationCodec;
  /** Level of the zstd codecs: 1..19 or fast -7..-1. @default 1 */
  zstdLevel: number;
  cacheBytes: number;
  cachePolicy: CachePolicy;
  convergence: Partial<ConvergenceOptions>;
  maxBandwidth: number;
  verify: 'pages' | 'full';
  warmupMs: number;
  /** Threads encoding pages: 1 encodes inline on the main thread, more use worker threads. @default 1 */
  compressThreads: number;
  /** Multi-page block span: 1 = page by page, at most 64 (lz4 and zstd families). @default DEFAULT_BLOCK_PAGES */
  blockPages: number;
}

/** Validates the source options once, at the boundary. */
export function sourceConfig(v: Record<string, unknown>): SourceConfig {
  return {
    guestMiB: intOpt(v, 'guest-mib', 512, 4, 65536),
    workload: choiceOpt(v, 'workload', WORKLOADS, 'hotset'),
    hotPercent: numOpt(v, 'hot-percent', 10, 0.01, 100),
    dirtyRate: v['dirty-rate'] === undefined ? undefined : intOpt(v, 'dirty-rate', 0, 0),
    seed: intOpt(v, 'seed', 1, 0, 2 ** 31 - 1),
    image: v.image as string | undefined,
    codec: choiceOpt(v, 'codec', MIGRATION_CODECS, 'lz4-delta'),
    zstdLevel: zstdLevelOpt(v),
    cacheBytes: intOpt(v, 'cache-mib', 64, 1, 65536) * MiB,
    cachePolicy: choiceOpt(v, 'cache-policy', ['2way', 'direct'] as const, '2way'),
    convergence: {
      downtimeLimitMs: numOpt(v, 'downtime-limit-ms', 300, 1),
      maxRounds: intOpt(v, 'max-rounds', 30, 1, 10000),
      maxTotalMs: numOpt(v, 'max-time-s', 600, 1) * 1000,
      onLimit: choiceOpt(v, 'on-limit', ['force', 'abort'] as const, 'force'),
      autoConverge: v['no-auto-converge'] !== true,
    },
    maxBandwidth: bytesOpt(v, 'max-bandwidth', 0),
    verify: choiceOpt(v, 'verify', ['pages', 'full'] as const, 'pages'),
    warmupMs: numOpt(v, 'warmup-ms', 1000, 0),
    compressThreads: intOpt(v, 'compress-threads', 1, 1, 64),
    blockPages: intOpt(v, 'block-pages', DEFAULT_BLOCK_PAGES, 1, 64),
  };
}

/** `--zstd-level`: 1..19 or a fast level -7..-1 (@default 1); 0 is refused (zstd reads it as 3). */
export function zstdLevelOpt(v: Record<string, unknown>): number {
  const level = intOpt(v, 'zstd-level', 1, -7, 19);
  if (level === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', "Expected --zstd-level to be 1..19 or a fast level -7..-1, got '0' (zstd would read 0 as its default, 3)", { phase: 'cli' });
  return level;
}
