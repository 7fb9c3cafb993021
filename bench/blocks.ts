/**
 * Multi-page blocks (`--block-pages`): whole loopback migrations, workloads × codecs × caps × block
 * spans, each one `livemig migrate --json` run in its own processes (interleaved over `--reps`,
 * medians reported). The baseline is `--block-pages 1` (page by page) of the same workload, codec
 * and cap, measured in the same run.
 *
 *     livemig bench blocks [--mib 512] [--reps 1] [--workloads hotset,memstress,idle]
 *                          [--codecs lz4-delta,zstd-delta] [--blocks 1,16,64] [--caps 125MB,none]
 *                          [--threads 1] [--json]
 */
import { parseArgs } from 'node:util';
import { median } from './common.js';
import { runMigration } from './migrate.js';

interface Cell {
  workload: string;
  codec: string;
  cap: string;
  blocks: number;
  totalS: number[];
  downtimeMs: number[];
  wireMB: number[];
  verified: boolean;
  errors: string[];
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mib: { type: 'string', default: '512' },
      reps: { type: 'string', default: '1' },
      workloads: { type: 'string', default: 'hotset,memstress,idle' },
      codecs: { type: 'string', default: 'lz4-delta,zstd-delta' },
      blocks: { type: 'string', default: '1,16,64' },
      caps: { type: 'string', default: '125MB,none' },
      threads: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const reps = Number(values.reps);
  if (!Number.isSafeInteger(reps) || reps < 1) throw new Error(`Expected --reps to be a positive integer, got '${values.reps}'`);
  const blocks = list(values.blocks!).map(Number);
  if (blocks.some((b) => !Number.isInteger(b) || b < 1 || b > 64)) throw new Error(`Expected --blocks to list integers 1..64, got '${values.blocks}'`);
  if (!blocks.includes(1)) blocks.unshift(1);
  const cells: Cell[] = [];
  for (const workload of list(values.workloads!)) {
    for (const codec of list(values.codecs!)) {
      for (const cap of list(values.caps!)) {
        for (const b of blocks) cells.push({ workload, codec, cap, blocks: b, totalS: [], downtimeMs: [], wireMB: [], verified: true, errors: [] });
      }
    }
  }
  // Interleaved repetitions: a slow spell on the shared machine spreads over every cell.
  for (let rep = 0; rep < reps; rep++) {
    for (const cell of cells) {
      const args = ['--guest-mib', values.mib!, '--workload', cell.workload, '--codec', cell.codec, '--block-pages', String(cell.blocks), '--compress-threads', values.threads!];
      if (cell.cap !== 'none') args.push('--max-bandwidth', cell.cap);
      const { report, error } = await runMigration(args);
      if (!report) {
        cell.errors.push(error ?? 'failed');
        continue;
      }
      cell.totalS.push(report['total-time'] / 1000);
      cell.downtimeMs.push(report.downtime);
      cell.wireMB.push(report['wire-bytes'] / 1e6);
      cell.verified &&= report.verified && report['self-check']?.ok !== false;
      if (!values.json) process.stderr.write(`rep ${rep + 1}/${reps} ${cell.workload} ${cell.codec} cap=${cell.cap} blocks=${cell.blocks}: ${(report['wire-bytes'] / 1e6).toFixed(1)} MB in ${(report['total-time'] / 1000).toFixed(2)} s\n`);
    }
  }
  const rows = cells.map((c) => {
    const base = cells.find((x) => x.workload === c.workload && x.codec === c.codec && x.cap === c.cap && x.blocks === 1)!;
    const m = (xs: number[]) => (xs.length ? median(xs) : NaN);
    return {
      workload: c.workload, codec: c.codec, cap: c.cap, blocks: c.blocks, runs: c.totalS.length,
      totalS: m(c.totalS), downtimeMs: m(c.downtimeMs), wireMB: m(c.wireMB),
      wireVsBaseline: m(c.wireMB) / m(base.wireMB) - 1, timeVsBaseline: m(c.totalS) / m(base.totalS) - 1,
      verified: c.verified && c.errors.length === 0, errors: c.errors,
    };
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : '—');
  const lines = [
    `Multi-page blocks, ${values.mib} MiB guests, ${values.threads} encode thread(s), medians of ${reps} run(s); baseline: --block-pages 1`,
    '',
    '| workload | codec | cap | block pages | total s | downtime ms | wire MB | wire vs 1 | time vs 1 | verified |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.workload} | ${r.codec} | ${r.cap} | ${r.blocks} | ${r.totalS.toFixed(2)} | ${r.downtimeMs.toFixed(0)} | ${r.wireMB.toFixed(1)} | ${r.blocks === 1 ? 'baseline' : pct(r.wireVsBaseline)} | ${r.blocks === 1 ? 'baseline' : pct(r.timeVsBaseline)} | ${r.verified ? 'yes' : `NO ${r.errors[0] ?? ''}`} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
