/**
 * Guest drivers: how one point becomes one migration. `synthetic` runs `livemig migrate --json` in
 * its own processes on livemig's synthetic guest. `qemu` is the hook for the QEMU/KVM driver (driver
 * B), which another engineer is building: register it here with `registerDriver` once it exists;
 * every scenario then runs unchanged with `--guest qemu`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LivemigError } from '../src/core/index.js';
import type { MigrationReport } from '../src/engine/index.js';
import type { Point } from './types.js';

/** What a driver returns for one migration. */
export interface DriverResult {
  report: MigrationReport | null;
  /** Why there is no completed report. */
  error?: string;
}

/** Context of one migration: where the testbed is, how long it may take. */
export interface DriverContext {
  /** Testbed name when the point runs over the testbed. */
  testbedName?: string;
  /** Longest a migration may take, in ms. @default 600000 */
  timeoutMs?: number;
}

/** A guest driver. */
export interface MigrationDriver {
  name: string;
  migrate(point: Point, ctx: DriverContext): Promise<DriverResult>;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** The `livemig migrate` arguments of a point (`--json` and the testbed flags included). */
export function migrateArgs(point: Point, ctx: DriverContext): string[] {
  const tb = point.testbed && ctx.testbedName ? ['--testbed', '--testbed-name', ctx.testbedName] : [];
  return ['migrate', '--json', ...tb, ...point.args];
}

/** Parses the last stdout line of `livemig migrate --json` into a result. */
export function parseMigrateOutput(stdout: string, fallbackError: string): DriverResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    const report = JSON.parse(line) as MigrationReport;
    if (report.status === 'completed') return { report };
    return { report: report['total-time'] === undefined ? null : report, error: report.error?.message ?? 'migration failed' };
  } catch {
    return { report: null, error: fallbackError || 'no JSON report on stdout' };
  }
}

/**
 * livemig's synthetic guest, migrated by the CLI in child processes (one fresh process per run).
 * The child leads its own process group, so that a timeout ends the whole tree: the source re-run
 * inside the testbed namespace and the destination process too.
 */
export const syntheticDriver: MigrationDriver = {
  name: 'synthetic',
  migrate(point, ctx) {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...migrateArgs(point, ctx)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      // Keep only the tail of stderr: progress lines can be many.
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
      const timeoutMs = ctx.timeoutMs ?? 600_000;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, timeoutMs);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        // The first error line names the cause (a SyntaxError, an exception); the last lines say where.
        const lines = stderr.trim().split('\n').filter((l) => l && !l.startsWith('livemig: listening'));
        const cause = lines.find((l) => /Error|error:|livemig: /.test(l));
        const head = timedOut ? `timed out after ${timeoutMs / 1000} s` : code !== 0 ? `exit ${code ?? signal}` : '';
        const why = [head, cause, lines.slice(-2).join(' | ')].filter(Boolean).join(': ');
        const r = parseMigrateOutput(stdout, why);
        resolve(timedOut ? { report: null, error: why } : r);
      });
    });
  },
};

const DRIVERS = new Map<string, MigrationDriver>([['synthetic', syntheticDriver]]);

/** Registers a guest driver (the QEMU driver's hook). */
export function registerDriver(driver: MigrationDriver): void {
  DRIVERS.set(driver.name, driver);
}

/** The driver of that name, or a clear error (the QEMU driver is not there yet). */
export function getDriver(name: string): MigrationDriver {
  const d = DRIVERS.get(name);
  if (d) return d;
  const hint = name === 'qemu' ? ' The QEMU guest driver is not built yet; register it in experiments/driver.ts.' : '';
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --guest to be one of ${[...DRIVERS.keys()].join(', ')}, got '${name}'.${hint}`, { phase: 'cli' });
}
