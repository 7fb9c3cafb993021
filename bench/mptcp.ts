/**
 * Loopback throughput of the mptcp Channel (kernel MPTCP, one subflow on loopback) against the tcp
 * Channel as the baseline in the same run: same messages, same channel machinery, only the socket
 * differs. On one path MPTCP can only cost (DSS mapping, the extra socket layer); its gain needs
 * several paths (see test/integration/mptcp-paths.test.ts).
 *
 * Run: `node dist/bench/mptcp.js [--json] [--mib N] [--reps N]` (default 512 MiB per run, 3 runs;
 * the table shows the median).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { KiB, MiB } from '../src/core/index.js';
import {
  connectMptcp, connectTcp, listenMptcp, listenTcp, type Channel, type Listener, type MessageLength,
} from '../src/transport/index.js';
import { median, parseThroughputArgs, timeTransfer } from './common.js';

/** The benchmark's message format: a big-endian u32 payload length, then the payload. */
const lengthPrefixed: MessageLength = (b) =>
  b.length < 4 ? null : 4 + (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);

type Kind = 'tcp' | 'mptcp';

interface Row {
  case: string;
  messageBytes: number;
  mbPerSec: number;
  vsTcp: number;
  /** Subflows the mptcp connection had (1 on loopback); null for tcp. */
  subflows: number | null;
}

function message(totalBytes: number): Buffer {
  const m = Buffer.alloc(totalBytes, 0xa5);
  m.writeUInt32BE(totalBytes - 4, 0);
  return m;
}

/** One run: `totalBytes` in `messageBytes` messages from a to b; MiB/s and the sender's subflow count. */
async function run(kind: Kind, messageBytes: number, totalBytes: number): Promise<{ mbPerSec: number; subflows: number | null }> {
  const options = { messageLength: lengthPrefixed, idleTimeoutMs: 0 };
  const endpoint = { host: '127.0.0.1', port: 0 };
  const listener: Listener = kind === 'tcp' ? await listenTcp(endpoint, options) : await listenMptcp(endpoint, options);
  const connect = kind === 'tcp' ? connectTcp : connectMptcp;
  const [a, b]: Channel[] = await Promise.all([connect(listener.address, options), listener.accept()]);
  const stats = a.stats();
  if (kind === 'mptcp' && stats.fallback !== false) throw new Error('the mptcp channel fell back to TCP: nothing to measure');
  const mbPerSec = await timeTransfer(a, b, message(messageBytes), totalBytes);
  const subflows = kind === 'mptcp' ? a.stats().mptcp?.subflows ?? null : null;
  b.destroy();
  await listener.close();
  return { mbPerSec, subflows };
}



/** Runs the benchmark and prints a table (or JSON); returns the rows. */
export async function main(argv: string[] = []): Promise<Row[]> {
  const opts = parseThroughputArgs(argv);
  const rows: Row[] = [];
  for (const messageBytes of [64 * KiB, 256 * KiB]) {
    const total = Math.floor(opts.totalBytes / messageBytes) * messageBytes;
    const tcp: number[] = [];
    const mptcp: number[] = [];
    let subflows: number | null = null;
    // Interleaved, so that load from other processes hits both alike.
    for (let r = 0; r < opts.reps; r++) {
      tcp.push((await run('tcp', messageBytes, total)).mbPerSec);
      const m = await run('mptcp', messageBytes, total);
      mptcp.push(m.mbPerSec);
      subflows = m.subflows;
    }
    const tcpMBps = median(tcp);
    const mptcpMBps = median(mptcp);
    rows.push({ case: 'tcp Channel (baseline)', messageBytes, mbPerSec: tcpMBps, vsTcp: 1, subflows: null });
    rows.push({ case: 'mptcp Channel', messageBytes, mbPerSec: mptcpMBps, vsTcp: mptcpMBps / tcpMBps, subflows });
  }
  if (opts.json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.log(`loopback, ${opts.totalBytes / MiB} MiB per run, median of ${opts.reps} (MB/s = MiB/s)`);
    console.log('case                        message     MB/s   vs tcp  subflows');
    for (const r of rows) {
      console.log(`${r.case.padEnd(27)} ${`${r.messageBytes / KiB} KiB`.padStart(8)} ${r.mbPerSec.toFixed(0).padStart(8)} ${r.vsTcp.toFixed(2).padStart(8)} ${String(r.subflows ?? '-').padStart(9)}`);
    }
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
