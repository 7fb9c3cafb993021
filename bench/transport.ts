/**
 * Loopback TCP throughput of the tcp Channel (length-prefixed messages, backpressure, splitting)
 * against a baseline in the same run: a raw net.Socket pipe moving the same bytes with write()/'drain'
 * and no message splitting.
 *
 * Run: `node dist/bench/transport.js [--json] [--mib N] [--reps N]` (default 512 MiB per run, 3 runs;
 * the table shows the median). Also `livemig bench transport`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { KiB, MiB } from '../src/core/index.js';
import { connectTcp, listenTcp, type MessageLength } from '../src/transport/index.js';
import { median, parseThroughputArgs, timeTransfer } from './common.js';

/** The benchmark's message format: a big-endian u32 payload length, then the payload. */
const lengthPrefixed: MessageLength = (b) =>
  b.length < 4 ? null : 4 + (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);

interface Row {
  case: string;
  messageBytes: number;
  mbPerSec: number;
  vsRaw: number;
}

function message(totalBytes: number): Buffer {
  const m = Buffer.alloc(totalBytes, 0xa5);
  m.writeUInt32BE(totalBytes - 4, 0);
  return m;
}

/** Raw baseline: a socket pair, the writer honours write()'s return value, the reader counts bytes. */
async function rawPipe(messageBytes: number, totalBytes: number): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const received = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      socket.setNoDelay(true);
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= totalBytes) {
          resolve(performance.now());
          socket.destroy();
        }
      });
    });
  });
  const client = net.connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const m = message(messageBytes);
  const start = performance.now();
  for (let sent = 0; sent < totalBytes; sent += messageBytes) {
    if (!client.write(m)) await new Promise((resolve) => client.once('drain', resolve));
  }
  const end = await received;
  client.destroy();
  server.close();
  return totalBytes / MiB / ((end - start) / 1000);
}

/** The tcp Channel: send() with its backpressure, the receiver iterates whole messages. */
async function channel(messageBytes: number, totalBytes: number): Promise<number> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: lengthPrefixed, idleTimeoutMs: 0 });
  const [a, b] = await Promise.all([
    connectTcp(listener.address, { messageLength: lengthPrefixed, idleTimeoutMs: 0 }),
    listener.accept(),
  ]);
  const mbPerSec = await timeTransfer(a, b, message(messageBytes), totalBytes);
  b.destroy();
  await listener.close();
  return mbPerSec;
}

/** Runs the benchmark and prints a table (or JSON); returns the rows. */
export async function main(argv: string[] = []): Promise<Row[]> {
  const opts = parseThroughputArgs(argv);
  const rows: Row[] = [];
  for (const messageBytes of [64 * KiB, 256 * KiB]) {
    const total = Math.floor(opts.totalBytes / messageBytes) * messageBytes;
    const raw: number[] = [];
    const chan: number[] = [];
    // Interleaved, so that load from other processes hits both alike.
    for (let r = 0; r < opts.reps; r++) {
      raw.push(await rawPipe(messageBytes, total));
      chan.push(await channel(messageBytes, total));
    }
    const rawMBps = median(raw);
    const chanMBps = median(chan);
    rows.push({ case: 'raw net.Socket pipe (baseline)', messageBytes, mbPerSec: rawMBps, vsRaw: 1 });
    rows.push({ case: 'tcp Channel', messageBytes, mbPerSec: chanMBps, vsRaw: chanMBps / rawMBps });
  }
  if (opts.json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.log(`loopback TCP, ${opts.totalBytes / MiB} MiB per run, median of ${opts.reps} (MB/s = MiB/s)`);
    console.log('case                              message     MB/s   vs raw');
    for (const r of rows) {
      console.log(`${r.case.padEnd(33)} ${`${r.messageBytes / KiB} KiB`.padStart(8)} ${r.mbPerSec.toFixed(0).padStart(8)} ${r.vsRaw.toFixed(2).padStart(8)}`);
    }
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
