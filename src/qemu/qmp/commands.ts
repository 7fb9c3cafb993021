/**
 * Typed wrappers for the QMP commands a migration needs (names and fields as in QEMU 10's
 * qapi/migration.json and qapi/misc.json; QEMU's kebab-case names are kept so reports match
 * `query-migrate` output).
 */
import { LivemigError } from '../../core/errors.js';
import type { QmpClient } from './client.js';

/** Migration capabilities (a subset; any other QEMU capability name is accepted too). */
export type MigrationCapability =
  | 'xbzrle'
  | 'auto-converge'
  | 'events'
  | 'return-path'
  | 'multifd'
  | 'postcopy-ram'
  | 'x-ignore-shared'
  | 'pause-before-switchover'
  | 'zero-blocks'
  | (string & {});

/** `migrate-set-parameters` arguments (a subset). */
export interface MigrationParameters {
  /** Bytes per second; QEMU's default is 128 MiB/s, so "unlimited" must be set explicitly. */
  'max-bandwidth'?: number;
  /** Milliseconds, @default 300 (QEMU) */
  'downtime-limit'?: number;
  /** Bytes per second QEMU sizes the switchover with instead of its own estimate (0 = its own). */
  'avail-switchover-bandwidth'?: number;
  /** Bytes, must be a power of two. */
  'xbzrle-cache-size'?: number;
  'multifd-channels'?: number;
  'cpu-throttle-initial'?: number;
  'cpu-throttle-increment'?: number;
  'max-cpu-throttle'?: number;
  'throttle-trigger-threshold'?: number;
  'zero-page-detection'?: 'none' | 'legacy' | 'multifd';
  /** Compression of multifd channels (needs the multifd capability on both sides). */
  'multifd-compression'?: 'none' | 'zlib' | 'zstd';
  'multifd-zstd-level'?: number;
  [other: string]: unknown;
}

/** `query-migrate` status values. */
export type MigrationStatus =
  | 'none'
  | 'setup'
  | 'cancelling'
  | 'cancelled'
  | 'active'
  | 'postcopy-active'
  | 'postcopy-paused'
  | 'postcopy-recover-setup'
  | 'postcopy-recover'
  | 'completed'
  | 'failed'
  | 'colo'
  | 'pre-switchover'
  | 'device'
  | 'wait-unplug';

/** `query-migrate`'s "ram" block (bytes and pages as QEMU counts them). */
export interface MigrationRamStats {
  transferred: number;
  remaining: number;
  total: number;
  duplicate: number;
  normal: number;
  'normal-bytes': number;
  'dirty-pages-rate': number;
  mbps: number;
  'dirty-sync-count': number;
  'postcopy-requests'?: number;
  'page-size': number;
  'multifd-bytes'?: number;
  'pages-per-second'?: number;
  'precopy-bytes'?: number;
  'downtime-bytes'?: number;
  'postcopy-bytes'?: number;
  'dirty-sync-missed-zero-copy'?: number;
}

/** `query-migrate`'s XBZRLE cache block. */
export interface XbzrleCacheStats {
  'cache-size': number;
  bytes: number;
  pages: number;
  'cache-miss': number;
  'cache-miss-rate': number;
  'encoding-rate': number;
  overflow: number;
}

/** `query-migrate` result. Times in milliseconds. */
export interface MigrationInfo {
  status?: MigrationStatus;
  ram?: MigrationRamStats;
  'xbzrle-cache'?: XbzrleCacheStats;
  'total-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'setup-time'?: number;
  'cpu-throttle-percentage'?: number;
  'error-desc'?: string;
  'socket-address'?: { type: string; host?: string; port?: string; path?: string }[];
  [other: string]: unknown;
}

/** `query-status` result. */
export interface VmStatus {
  running: boolean;
  /** e.g. "running", "paused", "inmigrate", "postmigrate", "finish-migrate". */
  status: string;
}

/** Options of QemuMonitor.waitForMigration. */
export interface WaitForMigrationOptions {
  /** Give up after this long, @default 120000 ms */
  timeoutMs?: number;
  /** Poll interval, @default 100 ms */
  pollMs?: number;
  /** Called with every poll's result (e.g. to change parameters after N dirty syncs). */
  onProgress?: (info: MigrationInfo) => void | Promise<void>;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The migration-related QMP commands of one QEMU, typed. */
export class QemuMonitor {
  constructor(readonly client: QmpClient) {}

  /** `migrate-set-capabilities`: e.g. `{ xbzrle: true, events: true }`. */
  async migrateSetCapabilities(caps: Partial<Record<MigrationCapability, boolean>>): Promise<void> {
    const capabilities = Object.entries(caps).map(([capability, state]) => ({ capability, state: Boolean(state) }));
    await this.client.execute('migrate-set-capabilities', { capabilities });
  }

  /** `migrate-set-parameters`. */
  async migrateSetParameters(params: MigrationParameters): Promise<void> {
    await this.client.execute('migrate-set-parameters', params);
  }

  /** `query-migrate-parameters`. */
  queryMigrateParameters(): Promise<MigrationParameters> {
    return this.client.execute<MigrationParameters>('query-migrate-parameters');
  }

  /**
   * `migrate` on the source: starts an outgoing migration and returns at once (QEMU runs it in
   * its migration thread). `uri` e.g. "unix:/run/x.sock", "tcp:127.0.0.1:4444", "exec:cat > f".
   */
  async migrate(uri: string): Promise<void> {
    await this.client.execute('migrate', { uri });
  }

  /** `migrate-incoming` on a destination started with `-incoming defer`. */
  async migrateIncoming(uri: string): Promise<void> {
    await this.client.execute('migrate-incoming', { uri });
  }

  /** `query-migrate`. */
  queryMigrate(): Promise<MigrationInfo> {
    return this.client.execute<MigrationInfo>('query-migrate');
  }

  /** `query-status`. */
  queryStatus(): Promise<VmStatus> {
    return this.client.execute<VmStatus>('query-status');
  }

  /** `stop`: pause the vCPUs. */
  /** `query-memory-size-summary`: the guest's RAM in bytes (`base-memory`). */
  queryMemorySizeSummary(): Promise<{ 'base-memory': number; 'plugged-memory'?: number }> {
    return this.client.execute<{ 'base-memory': number; 'plugged-memory'?: number }>('query-memory-size-summary');
  }

  async stop(): Promise<void> {
    await this.client.execute('stop');
  }

  /** `cont`: resume the vCPUs. */
  async cont(): Promise<void> {
    await this.client.execute('cont');
  }

  /** `pmemsave`: write `size` bytes of guest-physical memory from `addr` to `filename` (written by QEMU). */
  async pmemsave(addr: number, size: number, filename: string): Promise<void> {
    await this.client.execute('pmemsave', { val: addr, size, filename }, { timeoutMs: 120_000 });
  }

  /** `migrate_cancel`. */
  async migrateCancel(): Promise<void> {
    await this.client.execute('migrate_cancel');
  }

  /** `quit`: QEMU exits (the reply may or may not arrive before the socket closes). */
  async quit(): Promise<void> {
    await this.client.execute('quit', undefined, { timeoutMs: 10_000 }).catch((err: LivemigError) => {
      if (err.code !== 'LIVEMIG_E_QMP_CLOSED') throw err;
    });
  }

  /**
   * Polls `query-migrate` until the migration is `completed` (returns its final info) or
   * `failed`/`cancelled` (throws LIVEMIG_E_QEMU_MIGRATION_FAILED).
   * @throws LIVEMIG_E_QMP_TIMEOUT after `timeoutMs`
   */
  async waitForMigration(opts: WaitForMigrationOptions = {}): Promise<MigrationInfo> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    let last: MigrationInfo = {};
    for (;;) {
      last = await this.queryMigrate();
      await opts.onProgress?.(last);
      if (last.status === 'completed') return last;
      if (last.status === 'failed' || last.status === 'cancelled') {
        throw new LivemigError(
          'LIVEMIG_E_QEMU_MIGRATION_FAILED',
          `migration ${last.status}${last['error-desc'] ? `: ${last['error-desc']}` : ''}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new LivemigError(
          'LIVEMIG_E_QMP_TIMEOUT',
          `migration still ${last.status ?? 'unknown'} after ${opts.timeoutMs ?? 120_000} ms ` +
            `(transferred ${last.ram?.transferred ?? 0} B, dirty syncs ${last.ram?.['dirty-sync-count'] ?? 0})`,
        );
      }
      await delay(opts.pollMs ?? 100);
    }
  }
}
