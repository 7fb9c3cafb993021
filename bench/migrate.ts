/**
 * Whole migrations on loopback: workloads × codecs × guest sizes, capped (a 1 GbE stand-in) and
 * uncapped. Each cell is one `livemig migrate --json` run in its own processes; the `none` codec in
 * the same run is the baseline.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MigrationReport } from '../src/engine/index.js';

export interface MigrateRow {
  workload: string;
  codec: string;
  guestMiB: number;
  cap: string;
  totalS: number;
  downtimeMs: number;
  wireMB: number;
  wireFraction: number;
  rounds: number;
  converged: boolean;
  verified: boolean;
  selfCheck: boolean | null;
  goodputMBps: number;
  error?: string;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs one migration and returns its report (or the failure). */
export function runMigration(args: string[], timeoutMs = 600_000): Promise<{ report: MigrationReport | null; error?: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'migrate', '--json', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const report = JSON.parse(line) as MigrationReport;
        resolve(report.status === 'completed' ? { report } : { report: null, error: report.error?.message ?? 'failed' });
      } catch {
        resolve({ report: null, error: (err?.message ?? '') + stderr.slice(-500) });
      }
    });
  });
}

export async function runMigrateBench(o: { workloads: string[]; codecs: string[]; sizes: number[]; caps: string[]; json: boolean; extra: string[] }): Promise<MigrateRow[]> {
  const rows: MigrateRow[] = [];
  for (const guestMiB of o.sizes) {
    for (const workload of o.workloads) {
      for (const cap of o.caps) {
        for (const codec of o.codecs) {
          const args = ['--guest-mib', String(guestMiB), '--workload', workload, '--codec', codec, ...(cap === 'uncapped' ? [] : ['--max-bandwidth', cap]), ...o.extra];
          const { report: r, error } = await runMigration(args);
          const row: MigrateRow = r
            ? {
                workload, codec, guestMiB, cap,
                totalS: r['total-time'] / 1000,
                downtimeMs: r.downtime,
                wireMB: r['wire-bytes'] / 1e6,
                wireFraction: r['wire-fraction'],
                rounds: r.rounds.length,
                converged: r.converged,
                verified: r.verified,
                selfCheck: r['self-check']?.ok ?? null,
                goodputMBps: r.rounds.reduce((s, x) => s + x['raw-bytes'], 0) / 1e6 / (r.rounds.reduce((s, x) => s + x['duration-ms'], 0) / 1000),
              }
            : { workload, codec, guestMiB, cap, totalS: NaN, downtimeMs: NaN, wireMB: NaN, wireFraction: NaN, rounds: 0, converged: false, verified: false, selfCheck: null, goodputMBps: NaN, error };
          rows.push(row);
          if (!o.json) printRow(row, rows.length === 1);
        }
      }
    }
  }
  if (o.json) process.stdout.write(JSON.stringify(rows) + '\n');
  return rows;
}

function printRow(r: MigrateRow, header: boolean): void {
  const cols = ['guest', 'workload', 'cap', 'codec', 'total s', 'downtime ms', 'wire MB', 'wire frac', 'rounds', 'converged', 'verified', 'goodput MB/s'];
  const w = [6, 10, 9, 10, 8, 12, 9, 10, 7, 10, 9, 13];
  if (header) process.stdout.write(cols.map((c, i) => c.padStart(w[i])).join(' ') + '\n');
  const cells = r.error
    ? [`${r.guestMiB}M`, r.workload, r.cap, r.codec, `FAILED: ${r.error.slice(0, 80)}`]
    : [`${r.guestMiB}M`, r.workload, r.cap, r.codec, r.totalS.toFixed(2), r.downtimeMs.toFixed(0), r.wireMB.toFixed(1), r.wireFraction.toFixed(3), String(r.rounds), r.converged ? 'yes' : 'no', r.verified && r.selfCheck !== false ? 'yes' : 'NO', r.goodputMBps.toFixed(0)];
  process.stdout.write(cells.map((c, i) => (i < w.length ? c.padStart(w[i]) : c)).join(' ') + '\n');
}

const list = (s: string | undefined, def: string[]) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : def);

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { workloads: { type: 'string' }, codecs: { type: 'string' }, sizes: { type: 'string' }, caps: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: false,
  });
  await runMigrateBench({
    workloads: list(values.workloads as string | undefined, ['idle', 'hotset', 'memstress']),
    codecs: list(values.codecs as string | undefined, ['none', 'xbzrle', 'lz4-delta', 'adaptive']),
    sizes: list(values.sizes as string | undefined, ['512', '1024', '2048']).map(Number),
    caps: list(values.caps as string | undefined, ['125MB', 'uncapped']),
    json: values.json === true,
    extra: positionals,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
