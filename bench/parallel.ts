/**
 * Parallel encoding: how far worker threads lift the source's encode rate.
 *
 * Part 1 (encode): round 0 of a paused hotset guest (every page) through the InlineRoundEncoder
 * (the baseline) and WorkerRoundEncoders of 1, 2 and 4 threads, into a sink that takes each frame
 * at once; raw MB/s and the main thread's event-loop utilisation (its share of busy time).
 * Part 2 (migrate): whole `livemig migrate --json` runs, uncapped, --compress-threads 1 (baseline)
 * vs 2: round-0 raw MB/s, goodput, total time, and the destination's decode time.
 *
 *     livemig bench parallel [--guest-mib 512] [--codecs none,lz4-delta,xbzrle] [--threads 1,2,4]
 *                            [--repeat 3] [--migrate-threads 1,2] [--no-migrate] [--no-encode] [--json]
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { MiB } from '../src/core/index.js';
import { createSyntheticGuest, PageHashTable, type Guest } from '../src/guest/index.js';
import { createPageCache } from '../src/cache/index.js';
import { InlineRoundEncoder, WorkerRoundEncoder, type MigrationCodec, type RoundEncoder } from '../src/engine/index.js';
import { getCodec, getCodecById } from '../src/codec/index.js';
import { decodeFrame, forEachPageRecord } from '../src/wire/index.js';
import { runMigration } from './migrate.js';

export interface EncodeRow {
  codec: string;
  encoder: string;
  /** Median over the repeats, MB/s of raw guest memory. */
  rawMBps: number;
  /** Main thread's busy share during the round (event-loop utilisation), 0..1. */
  mainBusy: number;
  /** Encoder time per page (summed over threads, wall clock around each page), µs. */
  encodeUsPerPage: number;
  /** Process CPU time per page (every thread: main, workers, GC), µs; steadier than MB/s on a shared machine. */
  cpuUsPerPage: number;
  /** CPU time of the main thread alone per page, µs: what bounds the rate once encoding is off it. */
  mainUsPerPage: number;
  speedup: number;
  /** The destination's decode work per page for this codec (inline rows only), µs. */
  decodeUsPerPage: number | null;
}

export interface MigrateParallelRow {
  workload: string;
  codec: string;
  threads: number;
  round0MBps: number;
  goodputMBps: number;
  totalS: number;
  downtimeMs: number;
  destDecodeMs: number | null;
  round0Ms: number;
  verified: boolean;
  error?: string;
}

const header = { flags: 0, nextSeq: () => 0 };

/** CPU time of this process's main thread so far, in µs (Linux /proc; 10 ms resolution), or NaN elsewhere. */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (USER_HZ = 100 on Linux).
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function encodeOnce(guest: Guest, codec: MigrationCodec, threads: number): Promise<{ mbps: number; busy: number; usPerPage: number; cpuUsPerPage: number; mainUsPerPage: number }> {
  const table = new PageHashTable(guest.pageCount, { shared: true });
  const cache = codec === 'none' || codec === 'lz4' ? null : createPageCache('2way', { capacityBytes: 64 * MiB });
  const o = { guest, codec, cache, table, batchBytes: 256 * 1024 };
  const enc: RoundEncoder = threads === 0 ? new InlineRoundEncoder(o) : new WorkerRoundEncoder(o, { threads });
  try {
    const pages = new Uint32Array(guest.pageCount).map((_, i) => i);
    // Workers start asynchronously: a tiny round first, so start-up is not timed.
    await enc.encodeRound(0, pages.slice(0, 1), header, async (_f, onSent) => onSent());
    const before = { ...enc.counters };
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuUs();
    const t0 = performance.now();
    await enc.encodeRound(0, pages, header, async (_f, onSent) => onSent());
    const cpu = process.cpuUsage(cpu0);
    const mainUs = mainThreadCpuUs() - main0;
    const ms = performance.now() - t0;
    const elu = performance.eventLoopUtilization(elu0);
    return { mbps: (pages.length * guest.pageSize) / 1e6 / (ms / 1000), busy: elu.utilization, usPerPage: ((enc.counters.encodeMs - before.encodeMs) * 1000) / pages.length, cpuUsPerPage: (cpu.user + cpu.system) / pages.length, mainUsPerPage: mainUs / pages.length };
  } finally {
    await enc.close();
  }
}

/**
 * The destination's per-page work on round 0's frames (checksum, records, codec decode, page hash),
 * on this thread, in µs of this thread's CPU time per page (first-touch page faults of the fresh
 * memory included, as at a real destination): what one destination thread costs per page.
 */
async function decodeUsPerPage(guest: Guest, codec: MigrationCodec): Promise<number> {
  const table = new PageHashTable(guest.pageCount);
  const cache = codec === 'none' || codec === 'lz4' ? null : createPageCache('2way', { capacityBytes: 64 * MiB });
  const enc = new InlineRoundEncoder({ guest, codec, cache, table, batchBytes: 256 * 1024 });
  const frames: Uint8Array[] = [];
  await enc.encodeRound(0, new Uint32Array(guest.pageCount).map((_, i) => i), header, async (f) => void frames.push(f.slice()));
  const dest = new Uint8Array(guest.memory.length);
  const hashes = new PageHashTable(guest.pageCount);
  const ps = guest.pageSize;
  const zeroId = getCodec('zero').id;
  const t0 = mainThreadCpuUs();
  for (const f of frames) {
    forEachPageRecord(decodeFrame(f).body, (index, codecId, payload) => {
      if (codecId === zeroId) return hashes.setZero(index, ps);
      const page = dest.subarray(index * ps, (index + 1) * ps);
      getCodecById(codecId).decode(payload, page);
      hashes.set(index, page);
    });
  }
  return (mainThreadCpuUs() - t0) / guest.pageCount;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function runEncodeBench(o: { guestMiB: number; codecs: MigrationCodec[]; threads: number[]; repeat: number; json: boolean }): Promise<EncodeRow[]> {
  const guest = await createSyntheticGuest({ memoryBytes: o.guestMiB * MiB, workload: 'hotset', seed: 1, running: true });
  // Let the workload leave its mark, then hold it still: every encoder reads the same memory.
  await new Promise((r) => setTimeout(r, 500));
  await guest.pause();
  const rows: EncodeRow[] = [];
  if (!o.json) process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} CPUs\n`);
  try {
    for (const codec of o.codecs) {
      let base = 0;
      for (const threads of [0, ...o.threads]) {
        const runs = [];
        for (let i = 0; i < o.repeat; i++) runs.push(await encodeOnce(guest, codec, threads));
        const rawMBps = median(runs.map((r) => r.mbps));
        if (threads === 0) base = rawMBps;
        const decode = threads === 0 ? median([await decodeUsPerPage(guest, codec), await decodeUsPerPage(guest, codec)]) : null;
        const row: EncodeRow = {
          codec, encoder: threads === 0 ? 'inline' : `${threads} worker${threads > 1 ? 's' : ''}`,
          rawMBps, mainBusy: median(runs.map((r) => r.busy)), encodeUsPerPage: median(runs.map((r) => r.usPerPage)), cpuUsPerPage: median(runs.map((r) => r.cpuUsPerPage)), mainUsPerPage: median(runs.map((r) => r.mainUsPerPage)), speedup: rawMBps / base, decodeUsPerPage: decode,
        };
        rows.push(row);
        if (!o.json) printEncode(row, rows.length === 1);
      }
    }
  } finally {
    await guest.close();
  }
  return rows;
}

function printEncode(r: EncodeRow, first: boolean): void {
  const w = [10, 10, 10, 10, 12, 13, 13, 14, 15];
  if (first) {
    process.stdout.write('encode: round 0 of a paused hotset guest, frames taken at once (baseline: inline)\n');
    process.stdout.write(['codec', 'encoder', 'raw MB/s', 'vs inline', 'main busy %', 'encode us/pg', 'CPU us/page', 'main us/page', 'dest CPU us/pg'].map((c, i) => c.padStart(w[i])).join(' ') + '\n');
  }
  const cells = [r.codec, r.encoder, r.rawMBps.toFixed(0), `${r.speedup.toFixed(2)}x`, (r.mainBusy * 100).toFixed(0), r.encodeUsPerPage.toFixed(2), r.cpuUsPerPage.toFixed(2), r.mainUsPerPage.toFixed(2), r.decodeUsPerPage === null ? '' : r.decodeUsPerPage.toFixed(2)];
  process.stdout.write(cells.map((c, i) => c.padStart(w[i])).join(' ') + '\n');
}

export async function runMigrateParallelBench(o: { guestMiB: number; threads: number[]; json: boolean; extra: string[] }): Promise<MigrateParallelRow[]> {
  const rows: MigrateParallelRow[] = [];
  const cells: Array<[string, string]> = [['idle', 'none'], ['hotset', 'lz4-delta']];
  for (const [workload, codec] of cells) {
    for (const threads of o.threads) {
      const { report: r, error } = await runMigration(['--guest-mib', String(o.guestMiB), '--workload', workload, '--codec', codec, '--compress-threads', String(threads), ...o.extra]);
      const dest = (r?.destination ?? {}) as Record<string, unknown>;
      const row: MigrateParallelRow = r
        ? {
            workload, codec, threads,
            round0MBps: r.rounds[0]['raw-bytes'] / 1e6 / (r.rounds[0]['duration-ms'] / 1000),
            round0Ms: r.rounds[0]['duration-ms'],
            goodputMBps: r.rounds.reduce((s, x) => s + x['raw-bytes'], 0) / 1e6 / (r.rounds.reduce((s, x) => s + x['duration-ms'], 0) / 1000),
            totalS: r['total-time'] / 1000,
            downtimeMs: r.downtime,
            destDecodeMs: typeof dest['decode-ms'] === 'number' ? (dest['decode-ms'] as number) : null,
            verified: r.verified && r['self-check']?.ok !== false,
          }
        : { workload, codec, threads, round0MBps: NaN, round0Ms: NaN, goodputMBps: NaN, totalS: NaN, downtimeMs: NaN, destDecodeMs: null, verified: false, error };
      rows.push(row);
      if (!o.json) printMigrate(row, rows.length === 1);
    }
  }
  return rows;
}

function printMigrate(r: MigrateParallelRow, first: boolean): void {
  const w = [9, 10, 8, 13, 10, 13, 8, 12, 15, 9];
  if (first) {
    process.stdout.write('\nmigrate: livemig migrate --json, uncapped loopback (baseline: --compress-threads 1)\n');
    process.stdout.write(['workload', 'codec', 'threads', 'round0 MB/s', 'round0 ms', 'goodput MB/s', 'total s', 'downtime ms', 'dest decode ms', 'verified'].map((c, i) => c.padStart(w[i])).join(' ') + '\n');
  }
  const cells = r.error
    ? [r.workload, r.codec, String(r.threads), `FAILED: ${r.error.slice(0, 100)}`]
    : [r.workload, r.codec, String(r.threads), r.round0MBps.toFixed(0), r.round0Ms.toFixed(0), r.goodputMBps.toFixed(0), r.totalS.toFixed(2), r.downtimeMs.toFixed(0), r.destDecodeMs === null ? '-' : r.destDecodeMs.toFixed(0), r.verified ? 'yes' : 'NO'];
  process.stdout.write(cells.map((c, i) => (i < w.length ? c.padStart(w[i]) : c)).join(' ') + '\n');
}

const list = (s: unknown, def: string[]) => (typeof s === 'string' ? s.split(',').map((x) => x.trim()).filter(Boolean) : def);

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'guest-mib': { type: 'string' }, codecs: { type: 'string' }, threads: { type: 'string' }, repeat: { type: 'string' },
      'migrate-threads': { type: 'string' }, 'no-migrate': { type: 'boolean' }, 'no-encode': { type: 'boolean' }, json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: false,
  });
  const guestMiB = Number(values['guest-mib'] ?? 512);
  const json = values.json === true;
  const out: Record<string, unknown> = {};
  if (values['no-encode'] !== true) {
    out.encode = await runEncodeBench({
      guestMiB, json,
      codecs: list(values.codecs, ['none', 'lz4-delta', 'xbzrle']) as MigrationCodec[],
      threads: list(values.threads, ['1', '2', '4']).map(Number),
      repeat: Number(values.repeat ?? 3),
    });
  }
  if (values['no-migrate'] !== true) {
    out.migrate = await runMigrateParallelBench({ guestMiB, json, threads: list(values['migrate-threads'], ['1', '2']).map(Number), extra: positionals });
  }
  if (json) process.stdout.write(JSON.stringify(out) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
