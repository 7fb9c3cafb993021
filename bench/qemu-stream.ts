/**
 * QEMU stream layer benchmark: parse + rewrite throughput on the captured fixtures, against a
 * plain copy of the same chunks (the baseline) in the same run.
 *
 * | impl          | what runs per 64 KiB chunk                                       |
 * |---------------|------------------------------------------------------------------|
 * | copy          | baseline: the chunk copied into an output buffer                 |
 * | parse         | QemuStreamParser.push (events only)                              |
 * | parse+rewrite | push, then QemuStreamWriter into the same kind of output buffer  |
 *
 * Run: `node dist/bench/qemu-stream.js [--json] [--reps N]` (each fixture parsed N times per
 * repetition, default 20). Figures are the median of 3 timed repetitions after one warm-up.
 */

import { pathToFileURL } from 'node:url';
import { QemuStreamParser, QemuStreamWriter } from '../src/qemu/stream/index.js';
import { QEMU_FIXTURES, loadQemuFixture } from '../test/helpers/qemu-fixtures.js';
import { median } from './common.js';

/** One measured row. */
export interface QemuStreamRow {
  fixture: string;
  impl: 'copy' | 'parse' | 'parse+rewrite';
  /** Megabytes (10^6 bytes) of stream per second. */
  mbPerSec: number;
  /** Speed relative to the copy baseline of the same fixture. */
  vsBaseline: number;
}

const CHUNK = 64 * 1024;


function chunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) out.push(bytes.subarray(at, at + CHUNK));
  return out;
}

function run(impl: QemuStreamRow['impl'], parts: Uint8Array[], total: number): void {
  const out = new Uint8Array(total);
  let at = 0;
  const sink = (b: Uint8Array): void => {
    out.set(b, at);
    at += b.length;
  };
  if (impl === 'copy') {
    for (const p of parts) sink(p);
    return;
  }
  const parser = new QemuStreamParser();
  const writer = new QemuStreamWriter(sink);
  for (const p of parts) {
    const events = parser.push(p);
    if (impl === 'parse+rewrite') writer.writeAll(events);
  }
  parser.end();
  if (impl === 'parse+rewrite' && at !== total) throw new Error(`rewrote ${at} of ${total} bytes`);
}

/** Runs the benchmark, prints a table (or JSON with --json) and returns the rows. */
export async function main(argv: string[]): Promise<QemuStreamRow[]> {
  const json = argv.includes('--json');
  const repsAt = argv.indexOf('--reps');
  const reps = repsAt >= 0 ? Math.max(1, Number(argv[repsAt + 1]) || 20) : 20;
  const rows: QemuStreamRow[] = [];
  for (const fixture of QEMU_FIXTURES) {
    const bytes = loadQemuFixture(fixture);
    const parts = chunks(bytes);
    let baseline = 0;
    for (const impl of ['copy', 'parse', 'parse+rewrite'] as const) {
      const times: number[] = [];
      for (let rep = 0; rep < 4; rep++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) run(impl, parts, bytes.length);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (rep > 0) times.push(s);
      }
      const mbPerSec = (bytes.length * reps) / median(times) / 1e6;
      if (impl === 'copy') baseline = mbPerSec;
      rows.push({ fixture, impl, mbPerSec, vsBaseline: mbPerSec / baseline });
    }
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write(`${'fixture'.padEnd(10)} ${'impl'.padEnd(14)} ${'MB/s'.padStart(9)} ${'vs copy'.padStart(8)}\n`);
    for (const r of rows) {
      process.stdout.write(`${r.fixture.padEnd(10)} ${r.impl.padEnd(14)} ${r.mbPerSec.toFixed(0).padStart(9)} ${r.vsBaseline.toFixed(3).padStart(8)}\n`);
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
