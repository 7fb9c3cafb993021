import type { ParseArgsConfig } from 'node:util';
import { MiB } from '../core/index.js';
import { MIGRATION_CODECS, type MigrationCodec, type ConvergenceOptions } from '../engine/index.js';
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
  cacheBytes: number;
  cachePolicy: CachePolicy;
  convergence: Partial<ConvergenceOptions>;
  maxBandwidth: number;
  verify: 'pages' | 'full';
  warmupMs: number;
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
  };
}
