/**
 * Wire micro-benchmark: building and parsing PAGES frames, against a plain Buffer.concat builder
 * and a naive Buffer-reading parser (the baselines) in the same run, plus raw zlib.crc32 speed
 * (the checksum's floor) and the FrameDecoder on a stream cut into 64 KiB chunks.
 *
 * | payload  | records                                                         |
 * |----------|-----------------------------------------------------------------|
 * | 4KiB     | full raw pages: the copy and the checksum dominate               |
 * | 256B     | small deltas: per-record bookkeeping dominates                   |
 *
 * Run: `node dist/bench/wire.js [--json] [--mib N]` (N MiB of payload per repetition, default 64).
 * Figures are the median of 3 timed repetitions after one untimed warm-up.
 */

import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { Prng } from '../test/helpers/prng.js';
import { FrameDecoder, PageBatchBuilder, decodeFrame, forEachPageRecord } from '../src/wire/index.js';
import { median } from './common.js';

/** One measured configuration. */
export interface WireRow {
  op: string;
  payload: string;
  impl: string;
  framesPerSec: number;
  recordsPerSec: number;
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSec: number;
  /** Speed relative to the baseline of the same op and payload (1 for the baseline). */
  vsBaseline: number;
}

const MAX_FRAME = 4 * 1024 * 1024;


/** Times `fn` (which returns how many frames and records it handled): median seconds of 3 reps. */
function time(fn: () => { frames: number; records: number }): { secs: number; frames: number; records: number } {
  let out = fn(); // warm-up
  const secs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    out = fn();
    secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { secs: median(secs), ...out };
}

/** The baseline builder: one small Buffer per record header, Buffer.concat per frame. */
function buildConcat(pages: Uint8Array[], payloadBytes: number, round: number, seq: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let parts: Buffer[] = [];
  let size = 28;
  const flush = () => {
    const count = Buffer.alloc(4);
    count.writeUInt32LE(parts.length / 2);
    const body = Buffer.concat([count, ...parts]);
    const header = Buffer.alloc(24);
    header.write('LMIG', 0, 'latin1');
    header[4] = 1;
    header[5] = 4;
    header.writeUInt32LE(body.length, 8);
    header.writeUInt32LE(round, 12);
    header.writeUInt32LE(seq, 16);
    header.writeUInt32LE(crc32(body, crc32(header.subarray(0, 20))), 20);
    frames.push(Buffer.concat([header, body]));
    parts = [];
    size = 28;
  };
  for (let i = 0; i < pages.length; i++) {
    if (size + 8 + payloadBytes > MAX_FRAME) flush();
    const h = Buffer.alloc(8);
    h.writeUInt32LE(i, 0);
    h.writeUInt32LE(1 | (payloadBytes << 8), 4);
    parts.push(h, Buffer.from(pages[i].buffer, pages[i].byteOffset, payloadBytes));
    size += 8 + payloadBytes;
  }
  if (parts.length) flush();
  return frames;
}

/** The baseline parser: Buffer reads, one crc32 call over a copied header-less concatenation. */
function parseNaive(frame: Uint8Array, visit: (i: number, c: number, p: Uint8Array) => void): number {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  if (b.toString('latin1', 0, 4) !== 'LMIG') throw new Error('magic');
  const len = b.readUInt32LE(8);
  const crc = crc32(b.subarray(24, 24 + len), crc32(b.subarray(0, 20)));
  if (crc !== b.readUInt32LE(20)) throw new Error('crc');
  const count = b.readUInt32LE(24);
  let at = 28;
  for (let i = 0; i < count; i++) {
    const word = b.readUInt32LE(at + 4);
    const n = word >>> 8;
    visit(b.readUInt32LE(at), word & 0xff, b.subarray(at + 8, at + 8 + n));
    at += 8 + n;
  }
  return count;
}

/** Runs the benchmark and returns its rows. */
export function runWireBench(options: { mib?: number } = {}): WireRow[] {
  const totalBytes = (options.mib ?? 64) * 1024 * 1024;
  const rng = new Prng(7);
  const rows: WireRow[] = [];
  const add = (op: string, payload: string, impl: string, r: { secs: number; frames: number; records: number }, bytes: number) => {
    rows.push({ op, payload, impl, framesPerSec: r.frames / r.secs, recordsPerSec: r.records / r.secs, mbPerSec: bytes / r.secs / 1e6, vsBaseline: 1 });
  };

  // Checksum floor: zlib.crc32 over 4 MiB frames.
  const big = rng.bytes(MAX_FRAME);
  const crcTimes = time(() => {
    let c = 0;
    for (let done = 0; done < totalBytes; done += big.length) c = crc32(big, c);
    return { frames: totalBytes / big.length, records: 0 };
  });
  add('crc32', '4MiB', 'zlib.crc32', crcTimes, totalBytes);

  for (const payloadBytes of [4096, 256]) {
    const label = payloadBytes === 4096 ? '4KiB' : '256B';
    const count = Math.floor(totalBytes / payloadBytes);
    const source = rng.bytes(1 << 20); // pages are views into 1 MiB of random memory
    const pages = Array.from({ length: count }, (_, i) => source.subarray((i * 4096) % (1 << 20), (i * 4096) % (1 << 20) + payloadBytes));
    const bytes = count * payloadBytes;

    const builder = new PageBatchBuilder(MAX_FRAME);
    let built: Uint8Array[] = [];
    const mine = time(() => {
      built = [];
      for (let i = 0; i < count; i++) {
        let out = builder.reserve(payloadBytes);
        if (out === null) {
          built.push(builder.finish({ round: 1, seq: built.length }));
          out = builder.reserve(payloadBytes) as Uint8Array;
        }
        out.set(pages[i]); // stands in for a codec encoding straight into the batch
        builder.commit(i, 1, payloadBytes);
      }
      built.push(builder.finish({ round: 1, seq: built.length }));
      return { frames: built.length, records: count };
    });
    const base = time(() => {
      const frames = buildConcat(pages, payloadBytes, 1, 0);
      return { frames: frames.length, records: count };
    });
    add('build', label, 'PageBatchBuilder', mine, bytes);
    add('build', label, 'Buffer.concat (baseline)', base, bytes);
    rows[rows.length - 2].vsBaseline = base.secs / mine.secs;

    let sink = 0;
    const visit = (i: number, c: number, p: Uint8Array) => { sink += i + c + p.length; };
    const parse = time(() => {
      let records = 0;
      for (const f of built) records += forEachPageRecord(decodeFrame(f, { maxFrameBytes: MAX_FRAME }).body, visit);
      return { frames: built.length, records };
    });
    const naive = time(() => {
      let records = 0;
      for (const f of built) records += parseNaive(f, visit);
      return { frames: built.length, records };
    });
    const stream = time(() => {
      const d = new FrameDecoder({ maxFrameBytes: MAX_FRAME });
      let records = 0;
      for (const f of built) {
        for (let at = 0; at < f.length; at += 65536) {
          d.push(f.subarray(at, at + 65536));
          for (let fr = d.next(); fr !== null; fr = d.next()) records += forEachPageRecord(fr.body, visit);
        }
      }
      return { frames: built.length, records };
    });
    add('parse', label, 'decodeFrame+forEachPageRecord', parse, bytes);
    add('parse', label, 'FrameDecoder 64KiB chunks', stream, bytes);
    add('parse', label, 'naive Buffer reads (baseline)', naive, bytes);
    rows[rows.length - 3].vsBaseline = naive.secs / parse.secs;
    rows[rows.length - 2].vsBaseline = naive.secs / stream.secs;
    if (sink === -1) console.log(sink);
  }
  return rows;
}

function printTable(rows: WireRow[]): void {
  const head = ['op', 'payload', 'impl', 'frames/s', 'records/s', 'MB/s', 'vs baseline'];
  const body = rows.map((r) => [r.op, r.payload, r.impl, r.framesPerSec.toFixed(0), r.recordsPerSec.toExponential(2), r.mbPerSec.toFixed(0), `${r.vsBaseline.toFixed(2)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

/** CLI entry (`livemig bench wire`): `[--json] [--mib N]`. */
export async function main(argv: string[]): Promise<WireRow[]> {
  const mibAt = argv.indexOf('--mib');
  const mib = mibAt >= 0 ? Number(argv[mibAt + 1]) : 64;
  if (!Number.isFinite(mib) || mib <= 0) throw new Error(`Expected --mib to be a positive number, got '${argv[mibAt + 1]}'`);
  const rows = runWireBench({ mib });
  if (argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else printTable(rows);
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
