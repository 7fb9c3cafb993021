/**
 * Codec micro-benchmark: every registered codec over every page class of bench/pages.ts, with two
 * baselines measured in the same run: a plain 4 KiB page copy (`memcpy`) and the naive
 * byte-at-a-time XBZRLE of test/reference (`xbzrle-naive`).
 *
 *   node dist/bench/codecs.js [--json] [--seconds 0.2]      (or: npx livemig bench codecs)
 *
 * MB/s are 1e6 bytes of uncompressed page per CPU-second of this (single-threaded) process, so
 * that other engineers' load on a shared machine does not count against a codec: encode counts every page
 * offered (a "does not pay" null costs time too), decode counts the pages that encoded. The ratio
 * is page bytes / bytes sent, where a null is sent as a raw page (as the pipeline would); null
 * means every payload was empty (infinite ratio). Delta codecs get the class's old pages; on the
 * full-page classes they encode against a zero page (a page first written since it was zero).
 * Figures are the median of 5 repetitions; on a shared machine expect run-to-run noise.
 *
 * The `×64` rows are the multi-page block codecs, as migrations send by default: 64 consecutive
 * pages of the class (their XORs with the old versions, for delta classes) compressed as one
 * record; a delta block's decode includes applying the XORs onto the pages.
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PAGE_SIZE } from '../src/core/units.js';
import { BLOCK_MASK_BYTES, blockCodecOf, defaultCodecRegistry, xorBytes, type BlockCodec, type PageCodec } from '../src/codec/index.js';
import { naiveDecode, naiveEncode } from '../test/reference/xbzrle-naive.js';
import { PAGE_CLASSES, makePageSet, type PageSet } from './pages.js';

/** One benchmark result. */
export interface Row {
  /** Codec name, or a baseline (`memcpy`, `xbzrle-naive`). */
  codec: string;
  /** Page class (see bench/pages.ts). */
  input: string;
  /** Encode throughput, MB (1e6 B) of page per second. */
  encodeMBps: number;
  /** Decode throughput, MB of page per second; null when no page encoded. */
  decodeMBps: number | null;
  /** Page bytes / bytes sent (a null encoding sent raw); null when every payload was empty. */
  ratio: number | null;
}

/** Options of `runCodecBench`. */
export interface CodecBenchOptions {
  /** Print one JSON array instead of a table. @default false */
  json?: boolean;
  /** Time spent measuring each encode or decode figure, in seconds. @default 0.2 */
  seconds?: number;
  /** Pages per class. @default 1024 */
  pages?: number;
  /** Print nothing, only return the rows (for callers that format themselves). @default false */
  quiet?: boolean;
}

/** What the bench drives: a PageCodec, or a baseline with the same shape. */
interface Subject {
  name: string;
  /** Encodes against an old page, a zero page when the class has none. */
  needsOld: boolean;
  encode(old: Uint8Array | null, page: Uint8Array, out: Uint8Array): number | null;
  decode(payload: Uint8Array, page: Uint8Array): void;
}

const memcpy: Subject = {
  name: 'memcpy',
  needsOld: false,
  encode(_old, page, out) {
    out.set(page);
    return page.length;
  },
  decode(payload, page) {
    page.set(payload);
  },
};

const xbzrleNaive: Subject = {
  name: 'xbzrle-naive',
  needsOld: true,
  encode(old, page, out) {
    const enc = naiveEncode(old!, page, out.length);
    if (enc === null) return null;
    out.set(enc);
    return enc.length;
  },
  decode(payload, page) {
    const got = naiveDecode(payload, page);
    if (got === null) throw new Error('xbzrle-naive: rejected its own encoding');
    page.set(got);
  },
};

/** zstd levels benchmarked; the rows are named `zstd L1`, `zstd-delta L3`, ... */
const ZSTD_LEVELS = [-1, 1, 3];

function subjectOf(c: PageCodec, name: string): Subject {
  return {
    name,
    needsOld: c.name === 'xbzrle' || c.name === 'lz4-delta' || c.name === 'zstd-delta',
    encode: c.encode.bind(c),
    decode: c.decode.bind(c),
  };
}

function subjects(): Subject[] {
  const codecs: Subject[] = defaultCodecRegistry.list().flatMap((c) =>
    c.configure === undefined
      ? [subjectOf(c, c.name)]
      : ZSTD_LEVELS.map((level) => subjectOf(c.configure!({ zstdLevel: level }), `${c.name} L${level}`)));
  return [memcpy, ...codecs, xbzrleNaive];
}

/** CPU time of this process so far, in ns (user + system). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/**
 * Median MB/s of `work` (which processes `bytesPerCall` page bytes) over 5 timed slices. Time is
 * this process's CPU time, so other load on a shared machine does not count against the codec.
 */
function measure(seconds: number, bytesPerCall: number, work: () => void): number {
  work(); // warm-up: let the JIT settle on this codec and page class
  const rates: number[] = [];
  const sliceNs = (seconds / 5) * 1e9;
  for (let rep = 0; rep < 5; rep++) {
    let calls = 0;
    const t0 = cpuNs();
    let elapsed = 0;
    do {
      work();
      calls++;
      elapsed = cpuNs() - t0;
    } while (elapsed < sliceNs);
    rates.push((calls * bytesPerCall) / (elapsed / 1e9) / 1e6);
  }
  rates.sort((a, b) => a - b);
  return rates[2];
}

function benchOne(subject: Subject, set: PageSet, seconds: number): Row {
  const zero = new Uint8Array(PAGE_SIZE);
  const pages = set.pages;
  const olds = pages.map((_, k) => (set.olds ? set.olds[k] : subject.needsOld ? zero : null));
  const out = new Uint8Array(PAGE_SIZE + 64);

  const payloads: Array<Uint8Array | null> = pages.map((page, k) => {
    const n = subject.encode(olds[k], page, out);
    return n === null ? null : out.slice(0, n);
  });
  const sent = payloads.reduce((sum, p) => sum + (p === null ? PAGE_SIZE : p.length), 0);
  const pageBytes = pages.length * PAGE_SIZE;

  const encodeMBps = measure(seconds, pageBytes, () => {
    for (let k = 0; k < pages.length; k++) subject.encode(olds[k], pages[k], out);
  });

  const decodable = payloads.flatMap((p, k) => (p === null ? [] : [k]));
  let decodeMBps: number | null = null;
  if (decodable.length > 0) {
    // Each page decodes onto its own target holding the old version; re-applying a delta does
    // the same work, so the targets are not reset between calls.
    const targets = decodable.map((k) => (olds[k] ?? new Uint8Array(PAGE_SIZE)).slice());
    const inputs = decodable.map((k) => payloads[k]!);
    decodeMBps = measure(seconds, decodable.length * PAGE_SIZE, () => {
      for (let j = 0; j < inputs.length; j++) subject.decode(inputs[j], targets[j]);
    });
  }
  return { codec: subject.name, input: set.kind, encodeMBps, decodeMBps, ratio: sent === 0 ? null : pageBytes / sent };
}

/** Pages per block in the `×64` rows (--block-pages' default). */
const BLOCK_SPAN = 64;

/** The block codecs for a class: XOR-delta blocks where the class has old pages, full-page blocks otherwise. */
function blockSubjects(delta: boolean): Array<{ name: string; codec: BlockCodec }> {
  return [
    { name: `${delta ? 'lz4-delta-block' : 'lz4-block'} ×64`, codec: blockCodecOf('lz4', delta) },
    ...ZSTD_LEVELS.map((level) => ({ name: `${delta ? 'zstd-delta-block' : 'zstd-block'} L${level} ×64`, codec: blockCodecOf('zstd', delta, { zstdLevel: level }) })),
  ];
}

function benchBlock(name: string, codec: BlockCodec, set: PageSet, seconds: number): Row {
  const P = PAGE_SIZE;
  const groups: Array<{ data: Uint8Array; targets: Uint8Array }> = [];
  for (let k = 0; k + BLOCK_SPAN <= set.pages.length; k += BLOCK_SPAN) {
    const data = new Uint8Array(BLOCK_SPAN * P);
    const targets = new Uint8Array(BLOCK_SPAN * P);
    for (let j = 0; j < BLOCK_SPAN; j++) {
      const slot = data.subarray(j * P, (j + 1) * P);
      if (codec.delta) xorBytes(slot, set.olds![k + j], set.pages[k + j]);
      else slot.set(set.pages[k + j]);
      if (codec.delta) targets.set(set.olds![k + j], j * P);
    }
    groups.push({ data, targets });
  }
  const out = new Uint8Array(BLOCK_MASK_BYTES + BLOCK_SPAN * P);
  // All 64 mask bits: pages first .. first + 63.
  const payloads = groups.map((g) => {
    const n = codec.encode(-1, -1, g.data, out);
    return n === null ? null : out.slice(0, n);
  });
  const blockBytes = BLOCK_SPAN * P;
  const sent = payloads.reduce((sum, p) => sum + (p === null ? blockBytes : p.length), 0);
  const encodeMBps = measure(seconds, groups.length * blockBytes, () => {
    for (const g of groups) codec.encode(-1, -1, g.data, out);
  });
  const decodable = payloads.flatMap((p, k) => (p === null ? [] : [k]));
  const scratch = new Uint8Array(blockBytes);
  const decodeMBps = decodable.length === 0 ? null : measure(seconds, decodable.length * blockBytes, () => {
    for (const k of decodable) {
      const d = codec.decode(payloads[k]!, 0, BLOCK_SPAN, P, scratch);
      // A full block's pages are copied out as the destination would; a delta block's XORs are applied.
      if (codec.delta) xorBytes(groups[k].targets, groups[k].targets, d.data);
      else groups[k].targets.set(d.data);
    }
  });
  return { codec: name, input: set.kind, encodeMBps, decodeMBps, ratio: sent === 0 ? null : (groups.length * blockBytes) / sent };
}

function formatTable(rows: Row[]): string {
  const header = ['input', 'codec', 'encode MB/s', 'decode MB/s', 'ratio'];
  const body = rows.map((r) => [
    r.input,
    r.codec,
    r.encodeMBps.toFixed(0),
    r.decodeMBps === null ? '-' : r.decodeMBps.toFixed(0),
    r.ratio === null ? '∞' : r.ratio.toFixed(2),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]): string => cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let last = '';
  for (const b of body) {
    if (last !== '' && b[0] !== last) out.push('');
    out.push(line(b));
    last = b[0];
  }
  return out.join('\n');
}

/**
 * Runs the codec benchmark and prints it (a table, or one JSON array with `json`).
 * Returns the rows, input by input, baselines included.
 */
export async function runCodecBench(opts: CodecBenchOptions = {}): Promise<Row[]> {
  const seconds = opts.seconds ?? 0.2;
  const count = opts.pages ?? 1024;
  if (!(seconds > 0)) throw new Error(`Expected seconds to be a positive number, got ${seconds}`);
  const sets = PAGE_CLASSES.map((kind) => makePageSet(kind, count, 1));
  const rows: Row[] = [];
  for (const set of sets) {
    for (const subject of subjects()) {
      rows.push(benchOne(subject, set, seconds));
      // Let a caller's timers and I/O run between measurements.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const b of blockSubjects(set.olds !== null)) {
      rows.push(benchBlock(b.name, b.codec, set, seconds));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (!opts.quiet) {
    if (opts.json) {
      process.stdout.write(JSON.stringify(rows) + '\n');
    } else {
      process.stdout.write(`codecs: ${count} pages of ${PAGE_SIZE} B per class, single thread, MB = 1e6 B of page per CPU-second, median of 5\n\n`);
      process.stdout.write(formatTable(rows) + '\n');
    }
  }
  return rows;
}

/** CLI entry (`livemig bench codecs [--json] [--seconds S] [--pages N]`). */
export async function main(argv: string[]): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      pages: { type: 'string' },
    },
  });
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  const pages = values.pages === undefined ? undefined : Number(values.pages);
  if (seconds !== undefined && !(seconds > 0)) throw new Error(`Expected --seconds to be a positive number, got '${values.seconds}'`);
  if (pages !== undefined && !(Number.isInteger(pages) && pages > 0)) throw new Error(`Expected --pages to be a positive integer, got '${values.pages}'`);
  return runCodecBench({ json: values.json, seconds, pages });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
