/**
 * QEMU stream layer benchmark: every stage of driver B's per-byte work, on the captured fixtures or
 * on a stream captured with `livemig qemu migrate --capture FILE`, against a plain copy of the same
 * chunks (the baseline) in the same run.
 *
 * | impl          | what runs per 64 KiB chunk of QEMU stream                                  |
 * |---------------|----------------------------------------------------------------------------|
 * | copy          | baseline: the chunk copied into an output buffer                           |
 * | parse         | QemuStreamParser.push (events only)                                        |
 * | parse+rewrite | push, then QemuStreamWriter into the same kind of output buffer             |
 * | encode        | the source agent's work: push, StreamSourceEncoder (cache, codec), frames  |
 * | decode        | the destination agent's: frame check, StreamDestinationDecoder.rebuild     |
 * | pipeline      | encode and decode in one thread (what the one-host demo runs)              |
 *
 * `decode` runs over frames encoded beforehand (not timed). Every rebuilt stream is compared with
 * the input, so a figure is only printed for a byte-identical pipeline.
 *
 * Run: `node dist/bench/qemu-stream.js [--stream FILE[.gz]] [--codec C] [--mirror-mib N]
 *       [--first-page-codec C|none] [--block-pages N] [--cache-mib N] [--compress-threads N] [--reps N] [--json]`. Defaults: the four fixtures, lz4-delta,
 * mirror 0 (the proxy's setting without QEMU's xbzrle capability), raw first pages, blocks of 64, a 64 MiB cache, compression in the caller's thread, 20 passes per
 * repetition on fixtures and 1 on a --stream. Figures are the median of 3 timed repetitions after
 * one warm-up, in MB (10^6 bytes) of QEMU stream per second.
 */

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { getCodec } from '../src/codec/index.js';
import {
  QemuStreamParser, QemuStreamWriter, StreamDestinationDecoder, StreamSourceEncoder, type StreamPipelineOptions,
} from '../src/qemu/stream/index.js';
import { decodeFrame } from '../src/wire/index.js';
import { QEMU_FIXTURES, loadQemuFixture } from '../test/helpers/qemu-fixtures.js';
import { median } from './common.js';

const IMPLS = ['copy', 'parse', 'parse+rewrite', 'encode', 'decode', 'pipeline'] as const;
type Impl = (typeof IMPLS)[number];

/** One measured row. */
export interface QemuStreamRow {
  fixture: string;
  impl: Impl;
  /** Megabytes (10^6 bytes) of stream per second. */
  mbPerSec: number;
  /** Speed relative to the copy baseline of the same fixture. */
  vsBaseline: number;
  /** Frame bytes / stream bytes (encode, decode, pipeline rows; else null). */
  wireRatio: number | null;
}

const CHUNK = 64 * 1024;

function chunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) out.push(bytes.subarray(at, at + CHUNK));
  return out;
}

async function encodeAll(parts: Uint8Array[], options: StreamPipelineOptions, onFrame: (f: Uint8Array) => void): Promise<void> {
  const parser = new QemuStreamParser();
  const encoder = new StreamSourceEncoder(options, onFrame);
  try {
    for (const p of parts) {
      for (const e of parser.push(p)) encoder.write(e);
      // The source agent flushes per socket chunk, so do the same.
      encoder.flush({ keepBlockOpen: true });
    }
    parser.end();
    encoder.flush();
    await encoder.settled();
  } finally {
    await encoder.close();
  }
}

/** One pass of `impl`; returns the rebuilt bytes' length (checked against the input by the caller). */
async function run(impl: Impl, parts: Uint8Array[], frames: Uint8Array[], out: Uint8Array, options: StreamPipelineOptions): Promise<number> {
  let at = 0;
  const sink = (b: Uint8Array): void => {
    out.set(b, at);
    at += b.length;
  };
  switch (impl) {
    case 'copy':
      for (const p of parts) sink(p);
      return at;
    case 'parse':
    case 'parse+rewrite': {
      const parser = new QemuStreamParser();
      const writer = new QemuStreamWriter(sink);
      for (const p of parts) {
        const events = parser.push(p);
        if (impl === 'parse+rewrite') writer.writeAll(events);
      }
      parser.end();
      return impl === 'parse' ? out.length : at;
    }
    case 'encode':
      await encodeAll(parts, options, () => undefined);
      return out.length;
    case 'decode': {
      const decoder = new StreamDestinationDecoder(options);
      for (const f of frames) sink(decoder.rebuild(decodeFrame(f)));
      return at;
    }
    case 'pipeline': {
      const decoder = new StreamDestinationDecoder(options);
      await encodeAll(parts, options, (f) => sink(decoder.rebuild(decodeFrame(f))));
      return at;
    }
  }
}

function arg(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** Runs the benchmark, prints a table (or JSON with --json) and returns the rows. */
export async function main(argv: string[]): Promise<QemuStreamRow[]> {
  const json = argv.includes('--json');
  const streamPath = arg(argv, 'stream');
  const reps = Math.max(1, Number(arg(argv, 'reps')) || (streamPath ? 1 : 20));
  const first = arg(argv, 'first-page-codec') ?? 'none';
  const options: StreamPipelineOptions = {
    codec: getCodec(arg(argv, 'codec') ?? 'lz4-delta'),
    mirrorBytes: Number(arg(argv, 'mirror-mib') ?? 0) * 1024 * 1024,
    firstPageCodec: first === 'none' ? null : getCodec(first),
    pageSize: 4096,
    blockPages: Number(arg(argv, 'block-pages') ?? 64),
    cacheBytes: Number(arg(argv, 'cache-mib') ?? 64) * 1024 * 1024,
    compressThreads: Number(arg(argv, 'compress-threads') ?? 0),
  };
  const inputs: Array<[string, Uint8Array]> = streamPath
    ? [[basename(streamPath), (() => {
      const raw = readFileSync(streamPath);
      return new Uint8Array(streamPath.endsWith('.gz') ? gunzipSync(raw) : raw);
    })()]]
    : QEMU_FIXTURES.map((f) => [f, loadQemuFixture(f)]);
  const rows: QemuStreamRow[] = [];
  for (const [fixture, bytes] of inputs) {
    const parts = chunks(bytes);
    const frames: Uint8Array[] = [];
    await encodeAll(parts, options, (f) => frames.push(f));
    const wireRatio = frames.reduce((n, f) => n + f.length, 0) / bytes.length;
    const out = new Uint8Array(bytes.length);
    const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    let baseline = 0;
    for (const impl of IMPLS) {
      const times: number[] = [];
      for (let rep = 0; rep < 4; rep++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) {
          const n = await run(impl, parts, frames, out, options);
          if (n !== bytes.length) throw new Error(`${fixture} ${impl}: produced ${n} of ${bytes.length} bytes`);
        }
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (rep > 0) times.push(s);
      }
      if (impl !== 'parse' && impl !== 'encode' && !Buffer.from(out.buffer).equals(input)) {
        throw new Error(`${fixture} ${impl}: the rebuilt stream is not byte-identical`);
      }
      const mbPerSec = (bytes.length * reps) / median(times) / 1e6;
      if (impl === 'copy') baseline = mbPerSec;
      const ratio = impl === 'encode' || impl === 'decode' || impl === 'pipeline' ? wireRatio : null;
      rows.push({ fixture, impl, mbPerSec, vsBaseline: mbPerSec / baseline, wireRatio: ratio });
    }
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    const lines = [
      `codec ${options.codec.name}, mirror ${(options.mirrorBytes ?? 0) / 1048576} MiB, first pages ${first}, blocks of ${options.blockPages}, ${options.compressThreads} compress threads, load ${loadavg()[0].toFixed(1)}`,
      `${'fixture'.padEnd(16)} ${'impl'.padEnd(14)} ${'MB/s'.padStart(9)} ${'vs copy'.padStart(8)} ${'wire/stream'.padStart(12)}`,
    ];
    for (const r of rows) {
      lines.push(`${r.fixture.padEnd(16)} ${r.impl.padEnd(14)} ${r.mbPerSec.toFixed(0).padStart(9)} ${r.vsBaseline.toFixed(3).padStart(8)} ` +
        `${r.wireRatio === null ? '-'.padStart(12) : r.wireRatio.toFixed(3).padStart(12)}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
