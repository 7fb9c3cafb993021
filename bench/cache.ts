/**
 * Page cache micro-benchmark: lookup + insert throughput and hit rate of the 2-way and direct caches,
 * against a naive `Map<number, Uint8Array>` LRU cache (the baseline) in the same run.
 *
 * Each access does what XBZRLE does with a dirty page: `lookup(p)`, then `insert(p, page)` (a hit
 * stores the new version, a miss the first one). A `sync()` every 8192 accesses lets the direct
 * cache's age rule act. Two modes:
 *
 * - `incl-4KiB-copy`: 64 MiB of 4 KiB pages; every insert copies 4 KiB (the honest, memory-bound figure).
 * - `bookkeeping`: the same 16384 slots with 64-byte pages, so the copy all but vanishes and what is
 *   left is the set index, tags, LRU/age bits, the subarray view and the counters.
 *
 * A `copy-only` row does just the 4 KiB copy into the same slot (`p & (slots - 1)`), the floor the
 * copy mode cannot beat. Access patterns over a 4 GiB guest (2^20 pages):
 *
 * | pattern  | accesses                                                                       |
 * |----------|--------------------------------------------------------------------------------|
 * | uniform  | uniform over the guest (a cache of 1/64 of the guest: ~1.6% hits at best)       |
 * | hot-set  | 90% in 48 runs of 256 pages (12288 pages, 3/4 of the cache), 10% uniform        |
 * | zipf     | Zipf s = 0.99 over the guest, ranks scattered over pages by an odd multiplier    |
 *
 * Run: `node dist/bench/cache.js [--json] [--accesses N] [--reps N]`. Throughput is the median of the
 * timed repetitions, after one untimed pass that warms the cache and the JIT. Each configuration runs
 * in its own worker thread (a fresh isolate), so the timed loop's call sites stay monomorphic, as they
 * are in the engine, instead of mixing four cache classes' feedback. The map-lru baseline gets one
 * timed repetition: its evictions are slow (see MapLruCache).
 */

import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createPageCache, type PageCache, type PageCacheStats } from '../src/cache/index.js';
import { Prng } from '../test/helpers/prng.js';
import { median } from './common.js';

/** One measured configuration. */
export interface Row {
  pattern: 'uniform' | 'hot-set' | 'zipf';
  mode: 'incl-4KiB-copy' | 'bookkeeping';
  policy: '2way' | 'direct' | 'map-lru' | 'copy-only';
  /** Accesses (one lookup + one insert each) per second, median of the timed repetitions. */
  pagesPerSec: number;
  /** Lookup hit rate in the timed repetitions (steady state); NaN for copy-only. */
  hitRate: number;
  /** pagesPerSec / the map-lru baseline's in the same pattern and mode. */
  vsMap: number;
}

/** Options of the benchmark. */
export interface CacheBenchOptions {
  /** Print JSON instead of a table. @default false */
  json?: boolean;
  /** Accesses per timed repetition. @default 500000 */
  accesses?: number;
  /** Timed repetitions per configuration. @default 3 */
  reps?: number;
  /** Print nothing (for callers that format the rows themselves). @default false */
  quiet?: boolean;
}

const GUEST_PAGES = 1 << 20;
const SLOTS = 16384;
const SYNC_EVERY = 8192;

/** The minimal cache surface the timed loop uses, so the naive baseline runs the same loop. */
interface BenchCache {
  lookup(pageIndex: number): Uint8Array | null;
  insert(pageIndex: number, page: Uint8Array): boolean;
  sync(): void;
  stats(): Pick<PageCacheStats, 'hits' | 'misses'>;
}

/**
 * The baseline: an LRU cache as one would first write it, a Map of page copies in recency order.
 * Its weak spot is eviction: V8's ordered hash map leaves a hole per `delete` until it rehashes, and
 * `keys().next()` walks over them, so the uniform pattern (an eviction per access) is very slow.
 */
class MapLruCache implements BenchCache {
  #map = new Map<number, Uint8Array>();
  #slots: number;
  #hits = 0;
  #misses = 0;
  constructor(slots: number) {
    this.#slots = slots;
  }
  lookup(pageIndex: number): Uint8Array | null {
    const page = this.#map.get(pageIndex);
    if (page === undefined) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    this.#map.delete(pageIndex);
    this.#map.set(pageIndex, page);
    return page;
  }
  insert(pageIndex: number, page: Uint8Array): boolean {
    const old = this.#map.get(pageIndex);
    if (old !== undefined) {
      old.set(page);
      this.#map.delete(pageIndex);
      this.#map.set(pageIndex, old);
      return true;
    }
    if (this.#map.size >= this.#slots) this.#map.delete(this.#map.keys().next().value as number);
    this.#map.set(pageIndex, page.slice());
    return true;
  }
  sync(): void {}
  stats(): Pick<PageCacheStats, 'hits' | 'misses'> {
    return { hits: this.#hits, misses: this.#misses };
  }
}

/** Only the copy an insert does, into the slot a direct cache would use. */
class CopyOnly implements BenchCache {
  #buf: Uint8Array;
  #pageSize: number;
  constructor(slots: number, pageSize: number) {
    this.#buf = new Uint8Array(slots * pageSize);
    this.#pageSize = pageSize;
  }
  lookup(): Uint8Array | null {
    return null;
  }
  insert(pageIndex: number, page: Uint8Array): boolean {
    this.#buf.set(page, (pageIndex & (SLOTS - 1)) * this.#pageSize);
    return true;
  }
  sync(): void {}
  stats(): Pick<PageCacheStats, 'hits' | 'misses'> {
    return { hits: 0, misses: 0 };
  }
}

function uniformTrace(n: number, rand: Prng): Int32Array {
  const trace = new Int32Array(n);
  for (let i = 0; i < n; i++) trace[i] = rand.int(0, GUEST_PAGES);
  return trace;
}

function hotSetTrace(n: number, rand: Prng): Int32Array {
  const runStarts = Array.from({ length: 48 }, () => rand.int(0, GUEST_PAGES / 256) * 256);
  const trace = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    trace[i] = rand.chance(0.9) ? runStarts[rand.int(0, 48)] + rand.int(0, 256) : rand.int(0, GUEST_PAGES);
  }
  return trace;
}

function zipfTrace(n: number, rand: Prng, s = 0.99): Int32Array {
  const cdf = new Float64Array(GUEST_PAGES);
  let sum = 0;
  for (let r = 0; r < GUEST_PAGES; r++) cdf[r] = sum += 1 / Math.pow(r + 1, s);
  const trace = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand.float() * sum;
    let lo = 0;
    let hi = GUEST_PAGES - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    // An odd multiplier is a bijection mod 2^20: hot ranks scatter over the guest.
    trace[i] = Math.imul(lo, 0x9e3779b1) & (GUEST_PAGES - 1);
  }
  return trace;
}

/** The timed loop: one lookup and one insert per access, a sync every SYNC_EVERY accesses. */
function runTrace(cache: BenchCache, trace: Int32Array, sources: Uint8Array[]): number {
  let sink = 0;
  const nSources = sources.length;
  for (let i = 0; i < trace.length; i++) {
    const p = trace[i];
    const old = cache.lookup(p);
    if (old !== null) sink += old[0];
    cache.insert(p, sources[i % nSources]);
    if (i % SYNC_EVERY === SYNC_EVERY - 1) cache.sync();
  }
  return sink;
}


interface Job {
  kind: 'livemig-cache-bench';
  trace: Int32Array;
  mode: Row['mode'];
  policy: Row['policy'];
  reps: number;
}

interface JobResult {
  rates: number[];
  hitRate: number;
}

/** Measures one configuration (in a worker thread): an untimed pass, then `reps` timed ones. */
function measure(job: Job): JobResult {
  const { trace, mode, policy, reps } = job;
  const pageSize = mode === 'bookkeeping' ? 64 : 4096;
  const rand = new Prng(0x5eed);
  // 256 source pages (1 MiB at 4 KiB), so the source of the copy is not always in L1.
  const sources = Array.from({ length: 256 }, () => rand.fill(new Uint8Array(pageSize)));
  const cache: BenchCache =
    policy === 'map-lru' ? new MapLruCache(SLOTS)
    : policy === 'copy-only' ? new CopyOnly(SLOTS, pageSize)
    : (createPageCache(policy, { capacityBytes: SLOTS * pageSize, pageSize }) satisfies PageCache);
  let sink = runTrace(cache, trace, sources); // untimed: warms the cache and the JIT
  const before = cache.stats();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    sink += runTrace(cache, trace, sources);
    const ns = Number(process.hrtime.bigint() - t0);
    rates.push(trace.length / (ns / 1e9));
  }
  const after = cache.stats();
  const lookups = after.hits + after.misses - before.hits - before.misses;
  if (sink === -1) console.log('unreachable'); // keeps the looked-up bytes observable
  return { rates, hitRate: policy === 'copy-only' ? Number.NaN : (after.hits - before.hits) / lookups };
}

function runInWorker(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once('message', (result: JobResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`cache bench worker (${job.policy}, ${job.mode}) exited with code ${code}`));
    });
  });
}

/** A trace in shared memory, so that workers read it without a copy. */
function shared(trace: Int32Array): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(trace.byteLength));
  out.set(trace);
  return out;
}

/** Runs the benchmark and returns its rows (printing a table, or JSON, unless `quiet`). */
export async function runCacheBench(opts: CacheBenchOptions = {}): Promise<Row[]> {
  const accesses = opts.accesses ?? 500_000;
  const reps = opts.reps ?? 3;
  const rand = new Prng(0xcac4e);
  const traces: Record<Row['pattern'], Int32Array> = {
    uniform: shared(uniformTrace(accesses, rand)),
    'hot-set': shared(hotSetTrace(accesses, rand)),
    zipf: shared(zipfTrace(accesses, rand)),
  };
  const rows: Row[] = [];
  for (const mode of ['incl-4KiB-copy', 'bookkeeping'] as const) {
    for (const pattern of ['uniform', 'hot-set', 'zipf'] as const) {
      const policies: Row['policy'][] = mode === 'bookkeeping' ? ['map-lru', '2way', 'direct'] : ['map-lru', '2way', 'direct', 'copy-only'];
      const patternRows: Row[] = [];
      for (const policy of policies) {
        const job: Job = { kind: 'livemig-cache-bench', trace: traces[pattern], mode, policy, reps: policy === 'map-lru' ? 1 : reps };
        const { rates, hitRate } = await runInWorker(job);
        patternRows.push({ pattern, mode, policy, pagesPerSec: median(rates), hitRate, vsMap: 0 });
      }
      const base = patternRows.find((r) => r.policy === 'map-lru')!.pagesPerSec;
      for (const row of patternRows) row.vsMap = row.pagesPerSec / base;
      rows.push(...patternRows);
    }
  }
  if (!opts.quiet) {
    if (opts.json) console.log(JSON.stringify(rows, null, 2));
    else printTable(rows);
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const header = ['pattern', 'mode', 'policy', 'M pages/s', 'hit rate', 'x map-lru'];
  const body = rows.map((r) => [
    r.pattern, r.mode, r.policy, (r.pagesPerSec / 1e6).toFixed(2),
    Number.isNaN(r.hitRate) ? '-' : `${(r.hitRate * 100).toFixed(1)}%`, r.vsMap.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log('page cache: one lookup + one insert per access, 16384 slots, 2^20-page guest, median of reps');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

/** Entry point of `livemig bench cache [--json] [--accesses N] [--reps N]`. */
export async function main(argv: string[]): Promise<Row[]> {
  return runCacheBench(parseArgs(argv));
}

function parseArgs(argv: string[]): CacheBenchOptions {
  const opts: CacheBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--accesses' || arg === '--reps') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Expected ${arg} to be a positive integer, got '${argv[i]}'`);
      if (arg === '--accesses') opts.accesses = n;
      else opts.reps = n;
    } else throw new Error(`Unknown argument '${arg}'; expected --json, --accesses N or --reps N`);
  }
  return opts;
}

if (!isMainThread && (workerData as Job | undefined)?.kind === 'livemig-cache-bench') {
  parentPort!.postMessage(measure(workerData as Job));
} else if (isMainThread && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
