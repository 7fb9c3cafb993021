/**
 * Whole migrations on loopback: workloads × codecs × guest sizes, capped (a 1 GbE stand-in) and
 * uncapped. Each cell is one `livemig migrate --json` run in its own processes (`--reps N` runs
 * each N times, interleaved, and reports medians); the `none` codec in the same run is the
 * baseline. With `adaptive` among the codecs, a closing table compares it per workload and cap with
 * the best single codec's wire bytes and with lz4's goodput (guest bytes / total time).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MigrationReport } from '../src/engine/index.js';
import { median } from './common.js';

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
  /** Guest bytes / total time, MB/s. */
  guestMBps: number;
  /** Runs behind the medians. */
  runs: number;
  /** adaptive: the plan of each round, e.g. 'lz4-delta>raw>zstd-delta@1'. */
  plans?: string;
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

/** One run as a row. */
function rowOf(r: MigrationReport | null, error: string | undefined, workload: string, codec: string, guestMiB: number, cap: string): MigrateRow {
  return r
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
        guestMBps: r.total / 1e6 / (r['total-time'] / 1000),
        runs: 1,
        ...(r.rounds.some((x) => x['codec-choice']) ? { plans: r.rounds.map((x) => x['codec-choice']?.plan ?? '?').join('>') } : {}),
      }
    : { workload, codec, guestMiB, cap, totalS: NaN, downtimeMs: NaN, wireMB: NaN, wireFraction: NaN, rounds: 0, converged: false, verified: false, selfCheck: null, goodputMBps: NaN, guestMBps: NaN, runs: 0, error };
}

/** Medians of the numeric figures of successful runs; the first failure when none succeeded. */
function medianRow(runs: MigrateRow[]): MigrateRow {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return runs[0];
  const m = (k: 'totalS' | 'downtimeMs' | 'wireMB' | 'wireFraction' | 'rounds' | 'goodputMBps' | 'guestMBps') => median(ok.map((r) => r[k]));
  return {
    ...ok[0],
    totalS: m('totalS'), downtimeMs: m('downtimeMs'), wireMB: m('wireMB'), wireFraction: m('wireFraction'), rounds: m('rounds'),
    goodputMBps: m('goodputMBps'), guestMBps: m('guestMBps'),
    converged: ok.every((r) => r.converged), verified: ok.every((r) => r.verified) && ok.length === runs.length,
    selfCheck: ok.every((r) => r.selfCheck !== false),
    runs: ok.length,
    plans: ok.map((r) => r.plans).filter(Boolean).join(' | ') || undefined,
  };
}

export async function runMigrateBench(o: { workloads: string[]; codecs: string[]; sizes: number[]; caps: string[]; reps?: number; json: boolean; extra: string[] }): Promise<MigrateRow[]> {
  const rows: MigrateRow[] = [];
  const reps = Math.max(1, o.reps ?? 1);
  for (const guestMiB of o.sizes) {
    for (const workload of o.workloads) {
      for (const cap of o.caps) {
        // Repetitions interleave the codecs, so a burst of load from elsewhere hits them alike.
        const runs = new Map<string, MigrateRow[]>(o.codecs.map((c) => [c, []]));
        for (let rep = 0; rep < reps; rep++) {
          for (const codec of o.codecs) {
            const args = ['--guest-mib', String(guestMiB), '--workload', workload, '--codec', codec, ...(cap === 'uncapped' ? [] : ['--max-bandwidth', cap]), ...o.extra];
            const { report: r, error } = await runMigration(args);
            runs.get(codec)!.push(rowOf(r, error, workload, codec, guestMiB, cap));
          }
        }
        for (const codec of o.codecs) {
          const row = medianRow(runs.get(codec)!);
          rows.push(row);
          if (!o.json) printRow(row, rows.length === 1);
        }
      }
    }
  }
  if (o.json) process.stdout.write(JSON.stringify(rows) + '\n');
  else if (o.codecs.includes('adaptive')) printAdaptiveSummary(rows);
  return rows;
}

/**
 * adaptive against the targets of issue 8: wire bytes vs the best single codec's (capped rows),
 * goodput vs lz4's (uncapped rows).
 */
function printAdaptiveSummary(rows: MigrateRow[]): void {
  process.stdout.write('\nadaptive vs the single codecs (medians)\n');
  process.stdout.write(['guest', 'workload', 'cap', 'best single', 'its wire MB', 'adaptive MB', 'wire vs best', 'lz4 MB/s', 'adaptive MB/s', 'goodput vs lz4'].map((c) => c.padStart(13)).join(' ') + '\n');
  const keys = new Set(rows.map((r) => `${r.guestMiB}|${r.workload}|${r.cap}`));
  for (const key of keys) {
    const cell = rows.filter((r) => `${r.guestMiB}|${r.workload}|${r.cap}` === key && !r.error);
    const ad = cell.find((r) => r.codec === 'adaptive');
    if (!ad) continue;
    const singles = cell.filter((r) => r.codec !== 'adaptive');
    const best = singles.reduce<MigrateRow | null>((b, r) => (b === null || r.wireMB < b.wireMB ? r : b), null);
    const lz4 = cell.find((r) => r.codec === 'lz4');
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
    const cells = [`${ad.guestMiB}M`, ad.workload, ad.cap, best?.codec ?? '-', best ? best.wireMB.toFixed(1) : '-', ad.wireMB.toFixed(1),
      best ? pct(ad.wireMB / best.wireMB - 1) : '-', lz4 ? lz4.guestMBps.toFixed(0) : '-', ad.guestMBps.toFixed(0), lz4 ? `${((ad.guestMBps / lz4.guestMBps) * 100).toFixed(0)} %` : '-'];
    process.stdout.write(cells.map((c) => c.padStart(13)).join(' ') + '\n');
  }
}

function printRow(r: MigrateRow, header: boolean): void {
  const cols = ['guest', 'workload', 'cap', 'codec', 'total s', 'downtime ms', 'wire MB', 'wire frac', 'rounds', 'converged', 'verified', 'goodput MB/s', 'guest MB/s', 'runs'];
  const w = [6, 10, 9, 10, 8, 12, 9, 10, 7, 10, 9, 13, 11, 5];
  if (header) process.stdout.write(cols.map((c, i) => c.padStart(w[i])).join(' ') + '\n');
  const cells = r.error
    ? [`${r.guestMiB}M`, r.workload, r.cap, r.codec, `FAILED: ${r.error.slice(0, 80)}`]
    : [`${r.guestMiB}M`, r.workload, r.cap, r.codec, r.totalS.toFixed(2), r.downtimeMs.toFixed(0), r.wireMB.toFixed(1), r.wireFraction.toFixed(3), String(r.rounds), r.converged ? 'yes' : 'no', r.verified && r.selfCheck !== false ? 'yes' : 'NO', r.goodputMBps.toFixed(0), r.guestMBps.toFixed(0), String(r.runs)];
  process.stdout.write(cells.map((c, i) => (i < w.length ? c.padStart(w[i]) : c)).join(' ') + (r.plans ? `  plans: ${r.plans}` : '') + '\n');
}

const list = (s: string | undefined, def: string[]) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : def);

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { workloads: { type: 'string' }, codecs: { type: 'string' }, sizes: { type: 'string' }, caps: { type: 'string' }, reps: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: false,
  });
  await runMigrateBench({
    workloads: list(values.workloads as string | undefined, ['idle', 'hotset', 'memstress']),
    codecs: list(values.codecs as string | undefined, ['none', 'lz4', 'xbzrle', 'lz4-delta', 'zstd', 'zstd-delta', 'adaptive']),
    sizes: list(values.sizes as string | undefined, ['512', '1024', '2048']).map(Number),
    caps: list(values.caps as string | undefined, ['125MB', 'uncapped']),
    reps: Number(values.reps ?? 1),
    json: values.json === true,
    extra: positionals,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
