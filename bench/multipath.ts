/**
 * Loopback throughput of the multipath channel with 1, 2, 4, 8 and 16 subflows against the tcp
 * channel (the baseline) in the same run, same message format and sizes.
 *
 * Run: `node dist/bench/multipath.js [--json] [--mib N] [--reps N] [--scheduler NAME] [--ordering strict|barrier]`
 * (default 256 MiB per run, 3 runs, median). Loopback measures the protocol's CPU cost, not path
 * aggregation: every subflow shares the same loopback and the same two cores. Shaped multi-path runs
 * need network namespaces (src/testbed/, not yet landed).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { KiB, MiB } from '../src/core/index.js';
import {
  connectMultipath, connectTcp, listenMultipath, listenTcp, type Channel, type MessageLength, type MultipathOrdering, type SchedulerName,
} from '../src/transport/index.js';
import { median } from './common.js';

const lengthPrefixed: MessageLength = (b) =>
  b.length < 4 ? null : 4 + (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);

interface Options { json: boolean; totalBytes: number; reps: number; scheduler: SchedulerName; ordering: MultipathOrdering }
interface Row { case: string; subflows: number; mbPerSec: number; vsTcp: number; retransmittedBytes: number }

async function pump(a: Channel, b: Channel, messageBytes: number, totalBytes: number): Promise<number> {
  const m = Buffer.alloc(messageBytes, 0xa5);
  m.writeUInt32BE(messageBytes - 4, 0);
  const received = (async () => {
    let got = 0;
    for await (const x of b) got += x.length;
    if (got !== totalBytes) throw new Error(`received ${got} of ${totalBytes} bytes`);
    return performance.now();
  })();
  const start = performance.now();
  for (let sent = 0; sent < totalBytes; sent += messageBytes) await a.send(m);
  await a.close();
  return totalBytes / MiB / (((await received) - start) / 1000);
}

async function tcpRun(messageBytes: number, totalBytes: number): Promise<number> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: lengthPrefixed, idleTimeoutMs: 0 });
  const [a, b] = await Promise.all([connectTcp(listener.address, { messageLength: lengthPrefixed, idleTimeoutMs: 0 }), listener.accept()]);
  try {
    return await pump(a, b, messageBytes, totalBytes);
  } finally {
    a.destroy();
    b.destroy();
    await listener.close();
  }
}

async function multipathRun(subflows: number, messageBytes: number, totalBytes: number, o: Options): Promise<[number, number]> {
  const common = { messageLength: lengthPrefixed, idleTimeoutMs: 0, scheduler: o.scheduler, ordering: o.ordering };
  const listener = await listenMultipath({ ...common, local: { host: '127.0.0.1', port: 0 } });
  const [a, b] = await Promise.all([connectMultipath({ ...common, remote: listener.address, subflows }), listener.accept()]);
  try {
    const rate = await pump(a, b, messageBytes, totalBytes);
    return [rate, a.stats().retransmittedBytes];
  } finally {
    a.destroy();
    b.destroy();
    await listener.close();
  }
}


function parseArgs(argv: string[]): Options {
  const o: Options = { json: false, totalBytes: 256 * MiB, reps: 3, scheduler: 'least-queued', ordering: 'barrier' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') o.json = true;
    else if (arg === '--scheduler') o.scheduler = argv[++i] as SchedulerName;
    else if (arg === '--ordering') o.ordering = argv[++i] as MultipathOrdering;
    else if (arg === '--mib' || arg === '--reps') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Expected ${arg} to be a positive integer, got '${argv[i]}'`);
      if (arg === '--mib') o.totalBytes = n * MiB;
      else o.reps = n;
    } else throw new Error(`Unknown argument '${arg}'; expected --json, --mib N, --reps N, --scheduler NAME or --ordering MODE`);
  }
  return o;
}

/** Runs the benchmark and prints a table (or JSON); returns the rows. */
export async function main(argv: string[] = []): Promise<Row[]> {
  const o = parseArgs(argv);
  const messageBytes = 256 * KiB;
  const total = Math.floor(o.totalBytes / messageBytes) * messageBytes;
  const counts = [1, 2, 4, 8, 16];
  const tcp: number[] = [];
  const mp = counts.map(() => [] as number[]);
  const retx = counts.map(() => 0);
  // Interleaved, so that load from other processes hits every case alike.
  for (let r = 0; r < o.reps; r++) {
    tcp.push(await tcpRun(messageBytes, total));
    for (let k = 0; k < counts.length; k++) {
      const [rate, rb] = await multipathRun(counts[k], messageBytes, total, o);
      mp[k].push(rate);
      retx[k] += rb;
    }
  }
  const base = median(tcp);
  const rows: Row[] = [{ case: 'tcp channel (baseline)', subflows: 1, mbPerSec: base, vsTcp: 1, retransmittedBytes: 0 }];
  counts.forEach((n, k) => rows.push({
    case: `multipath ${o.scheduler} ${o.ordering}`, subflows: n, mbPerSec: median(mp[k]), vsTcp: median(mp[k]) / base, retransmittedBytes: retx[k],
  }));
  if (o.json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.log(`loopback, ${total / MiB} MiB of ${messageBytes / KiB} KiB messages per run, median of ${o.reps} (MB/s = MiB/s)`);
    console.log('case                               subflows     MB/s   vs tcp   retransmitted');
    for (const r of rows) {
      console.log(`${r.case.padEnd(34)} ${String(r.subflows).padStart(8)} ${r.mbPerSec.toFixed(0).padStart(8)} ${r.vsTcp.toFixed(2).padStart(8)} ${String(r.retransmittedBytes).padStart(15)}`);
    }
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
