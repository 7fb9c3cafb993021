/**
 * LZ4 bindings micro-benchmark: livemig's own addon (liblz4 compress + our strict decoder, into
 * caller buffers) against node-lz4 (C lz4 1.9.2 via NAN, unmaintained), lz4-napi (lz4_flex,
 * maintained prebuilt, allocates per call, 4-byte size prefix) and the naive TS reference codec,
 * with a 4 KiB page copy as the floor.
 *
 * | data   | pages                                                                      |
 * |--------|----------------------------------------------------------------------------|
 * | binary | 1024 pages of /usr/bin/node at random page offsets                          |
 * | text   | 1024 consecutive pages of /usr/include headers                             |
 * | delta5 | 1024 binary pages with 5% of bytes rewritten in 1–4 runs, against the old   |
 *
 * For delta5, compress = XOR + LZ4 and decompress = LZ4 + XOR onto the old page: fused in C for
 * livemig, a BigUint64Array XOR in JS for the others. MB/s are page bytes (1 MB = 1e6 B) per second
 * on one thread, the median of the timed repetitions after a warm-up pass. Decompress counts only
 * the pages the implementation's own encoder compressed below 4096 bytes; "ratio" is 4096 / bytes
 * sent, an incompressible page counted as sent raw.
 *
 * Run: `node dist/bench/lz4-bindings.js [--json] [--reps N]` or `livemig bench lz4`.
 */

import { pathToFileURL } from 'node:url';
import { PAGE_SIZE } from '../src/core/units.js';
import { nativeBinding } from '../src/codec/native.js';
import { makePageSet, type PageClass } from './pages.js';
import { asBuffer, lz4Napi, nodeLz4, withSizePrefix } from '../test/helpers/lz4-peers.js';
import { naiveCompress, naiveDecompress } from '../test/reference/lz4-naive.js';

/** One measured (data, implementation, operation). */
export interface Lz4BenchRow {
  data: 'binary' | 'text' | 'delta5';
  impl: 'livemig' | 'node-lz4' | 'lz4-napi' | 'naive-ts' | 'page-copy';
  op: 'compress' | 'decompress' | 'copy';
  /** Page bytes per second / 1e6, median of the timed repetitions. */
  mbPerSec: number;
  /** 4096 / mean bytes sent per page (raw when incompressible); NaN for page-copy. */
  ratio: number;
  /** mbPerSec / node-lz4's for the same data and op (the named baseline); NaN when not comparable. */
  vsNodeLz4: number;
}

/** Options of the benchmark. */
export interface Lz4BenchOptions {
  /** Print JSON instead of a table. @default false */
  json?: boolean;
  /** Timed repetitions per row. @default 5 */
  reps?: number;
  /** Pages per data set. @default 1024 */
  pages?: number;
  /** Print nothing. @default false */
  quiet?: boolean;
}

type Impl = Exclude<Lz4BenchRow['impl'], 'page-copy'>;
const IMPLS: Impl[] = ['livemig', 'node-lz4', 'lz4-napi', 'naive-ts'];
/** Each timed repetition runs whole passes for at least this long. */
const MIN_REP_NS = 150e6;

function timeMbPerSec(bytesPerPass: number, reps: number, pass: () => void): number {
  pass(); // warm-up: JIT and caches
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    let passes = 0;
    const t0 = process.hrtime.bigint();
    let dt = 0;
    do {
      pass();
      passes++;
      dt = Number(process.hrtime.bigint() - t0);
    } while (dt < MIN_REP_NS);
    rates.push((passes * bytesPerPass) / dt * 1e3);
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

function xorInto(out: BigUint64Array, a: BigUint64Array, b: BigUint64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] ^ b[i];
}

function u64(bytes: Uint8Array): BigUint64Array {
  return new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
}

/** Encodes `input` with `impl` into a fresh raw block, or null when it is not smaller than a page. */
function encodeOnce(impl: Impl, input: Uint8Array): Uint8Array | null {
  const out = Buffer.alloc(PAGE_SIZE * 2);
  let n = 0;
  if (impl === 'livemig') n = nativeBinding().lz4Compress(input, out, PAGE_SIZE - 1);
  else if (impl === 'node-lz4') n = nodeLz4.encodeBlock(asBuffer(input), out);
  else if (impl === 'lz4-napi') return trimmed(lz4Napi.compressSync(Buffer.from(input)).subarray(4));
  else return trimmed(naiveCompress(input));
  return n > 0 && n < PAGE_SIZE ? out.subarray(0, n) : null;
}

function trimmed(block: Uint8Array): Uint8Array | null {
  return block.length < PAGE_SIZE ? block : null;
}

function measureSet(data: Lz4BenchRow['data'], impl: Impl, pages: Uint8Array[], olds: Uint8Array[] | null, reps: number): Lz4BenchRow[] {
  const nat = nativeBinding();
  const count = pages.length;
  const bytes = count * PAGE_SIZE;
  const out = Buffer.alloc(PAGE_SIZE * 2);
  const tmp = new Uint8Array(PAGE_SIZE);
  const tmp64 = u64(tmp);
  const pages64 = pages.map(u64);
  const olds64 = olds?.map(u64) ?? null;
  // What each implementation compresses: the page, or the XOR for delta data.
  const inputs = olds === null ? pages : pages.map((p, k) => p.map((b, i) => b ^ olds[k][i]));
  const blocks = inputs.map((p) => encodeOnce(impl, p));
  const sent = blocks.reduce((s, b) => s + (b === null ? PAGE_SIZE : b.length), 0);
  const ratio = bytes / sent;
  const coded = blocks.flatMap((b, k) => (b === null ? [] : [{ block: b, k, prefixed: withSizePrefix(b, PAGE_SIZE) }]));
  const work = (olds ?? pages).map((p) => p.slice());
  const work64 = work.map(u64);

  let compress: () => void;
  let decompress: () => void;
  if (olds === null) {
    switch (impl) {
      case 'livemig':
        compress = () => { for (const p of pages) nat.lz4Compress(p, out, PAGE_SIZE - 1); };
        decompress = () => { for (const c of coded) nat.lz4Decompress(c.block, tmp); };
        break;
      case 'node-lz4': {
        const bufs = pages.map(asBuffer);
        const cbufs = coded.map((c) => asBuffer(c.block));
        const dst = asBuffer(tmp);
        compress = () => { for (const p of bufs) nodeLz4.encodeBlock(p, out); };
        decompress = () => { for (const c of cbufs) nodeLz4.decodeBlock(c, dst); };
        break;
      }
      case 'lz4-napi': {
        const bufs = pages.map(asBuffer);
        compress = () => { for (const p of bufs) lz4Napi.compressSync(p); };
        decompress = () => { for (const c of coded) lz4Napi.uncompressSync(c.prefixed); };
        break;
      }
      case 'naive-ts':
        compress = () => { for (const p of pages) naiveCompress(p); };
        decompress = () => { for (const c of coded) naiveDecompress(c.block, tmp); };
        break;
    }
  } else {
    const o64 = olds64!;
    switch (impl) {
      case 'livemig':
        compress = () => { for (let k = 0; k < count; k++) nat.lz4DeltaCompress(olds[k], pages[k], out, PAGE_SIZE - 1); };
        decompress = () => { for (const c of coded) nat.lz4DeltaDecompress(c.block, work[c.k]); };
        break;
      case 'node-lz4': {
        const tmpBuf = asBuffer(tmp);
        const cbufs = coded.map((c) => asBuffer(c.block));
        compress = () => {
          for (let k = 0; k < count; k++) { xorInto(tmp64, o64[k], pages64[k]); nodeLz4.encodeBlock(tmpBuf, out); }
        };
        decompress = () => {
          for (let j = 0; j < coded.length; j++) {
            nodeLz4.decodeBlock(cbufs[j], tmpBuf);
            const w = work64[coded[j].k];
            xorInto(w, w, tmp64);
          }
        };
        break;
      }
      case 'lz4-napi': {
        const tmpBuf = asBuffer(tmp);
        compress = () => {
          for (let k = 0; k < count; k++) { xorInto(tmp64, o64[k], pages64[k]); lz4Napi.compressSync(tmpBuf); }
        };
        decompress = () => {
          for (const c of coded) {
            const x = lz4Napi.uncompressSync(c.prefixed);
            const w = work64[c.k];
            xorInto(w, w, u64(x));
          }
        };
        break;
      }
      case 'naive-ts':
        compress = () => { for (let k = 0; k < count; k++) { xorInto(tmp64, o64[k], pages64[k]); naiveCompress(tmp); } };
        decompress = () => {
          for (const c of coded) {
            naiveDecompress(c.block, tmp);
            const w = work64[c.k];
            xorInto(w, w, tmp64);
          }
        };
        break;
    }
  }
  return [
    { data, impl, op: 'compress', mbPerSec: timeMbPerSec(bytes, reps, compress), ratio, vsNodeLz4: NaN },
    { data, impl, op: 'decompress', mbPerSec: timeMbPerSec(coded.length * PAGE_SIZE, reps, decompress), ratio, vsNodeLz4: NaN },
  ];
}

/** Runs the benchmark and returns its rows (printing a table, or JSON, unless `quiet`). */
export async function runLz4BindingsBench(opts: Lz4BenchOptions = {}): Promise<Lz4BenchRow[]> {
  const reps = opts.reps ?? 5;
  const count = opts.pages ?? 1024;
  const rows: Lz4BenchRow[] = [];
  const sets: Array<[Lz4BenchRow['data'], PageClass]> = [['binary', 'binary'], ['text', 'text'], ['delta5', 'delta5']];
  for (const [data, kind] of sets) {
    const set = makePageSet(kind, count, 1);
    for (const impl of IMPLS) rows.push(...measureSet(data, impl, set.pages, set.olds, reps));
    if (data === 'binary') {
      const dst = new Uint8Array(PAGE_SIZE);
      const copy = () => { for (const p of set.pages) dst.set(p); };
      rows.push({ data, impl: 'page-copy', op: 'copy', mbPerSec: timeMbPerSec(count * PAGE_SIZE, reps, copy), ratio: NaN, vsNodeLz4: NaN });
    }
  }
  for (const row of rows) {
    const base = rows.find((r) => r.data === row.data && r.op === row.op && r.impl === 'node-lz4');
    if (base) row.vsNodeLz4 = row.mbPerSec / base.mbPerSec;
  }
  if (!opts.quiet) {
    if (opts.json) console.log(JSON.stringify(rows, null, 2));
    else printTable(rows, nativeBinding().LZ4_VERSION_NUMBER);
  }
  return rows;
}

function printTable(rows: Lz4BenchRow[], version: number): void {
  const header = ['data', 'impl', 'op', 'MB/s', 'µs/page', 'ratio', 'x node-lz4'];
  const body = rows.map((r) => [
    r.data, r.impl, r.op, r.mbPerSec.toFixed(0), (PAGE_SIZE / r.mbPerSec).toFixed(2),
    Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2), Number.isNaN(r.vsNodeLz4) ? '-' : r.vsNodeLz4.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  console.log(`LZ4 bindings, 4 KiB pages, one thread, median of reps (livemig links liblz4 ${Math.floor(version / 10000)}.${Math.floor(version / 100) % 100}.${version % 100})`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

/** Entry point of `livemig bench lz4 [--json] [--reps N] [--pages N]`. */
export async function main(argv: string[]): Promise<Lz4BenchRow[]> {
  const opts: Lz4BenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--reps' || arg === '--pages') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Expected ${arg} to be a positive integer, got '${argv[i]}'`);
      if (arg === '--reps') opts.reps = n;
      else opts.pages = n;
    } else throw new Error(`Unknown argument '${arg}'; expected --json, --reps N or --pages N`);
  }
  return runLz4BindingsBench(opts);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
