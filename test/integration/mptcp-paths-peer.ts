/**
 * A peer for mptcp-paths.test.ts, started inside a testbed namespace with `ip netns exec`, that
 * moves bytes over livemig's own mptcp Channel and prints what its stats() say, as JSON lines.
 *
 *   node mptcp-paths-peer.js server PORT          listens on 0.0.0.0:PORT, prints bytes received
 *   node mptcp-paths-peer.js client HOST PORT MIB sends MIB MiB in 256 KiB messages, prints stats
 */
import { performance } from 'node:perf_hooks';
import { KiB, MiB } from '../../src/core/index.js';
import { connectMptcp, listenMptcp, type ChannelStats } from '../../src/transport/index.js';
import { frame, lengthPrefixed } from '../transport/helpers.js';

const MESSAGE_BYTES = 256 * KiB;
const options = { messageLength: lengthPrefixed, requireMptcp: true, idleTimeoutMs: 20_000 };

function print(event: string, fields: Record<string, unknown>, stats: ChannelStats): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields, stats })}\n`);
}

async function server(port: number): Promise<void> {
  // The wildcard address: joins arrive at the announced addresses, not at path 0's.
  const listener = await listenMptcp({ host: '0.0.0.0', port }, options);
  process.stdout.write(`${JSON.stringify({ event: 'listening' })}\n`);
  const channel = await listener.accept();
  await listener.close();
  let bytes = 0;
  for await (const m of channel) bytes += m.length;
  await channel.close();
  print('received', { bytes }, channel.stats());
}

async function client(host: string, port: number, mib: number): Promise<void> {
  const channel = await connectMptcp({ host, port }, { ...options, connectTimeoutMs: 5000 });
  const m = frame(MESSAGE_BYTES);
  const total = Math.floor((mib * MiB) / MESSAGE_BYTES) * MESSAGE_BYTES;
  const peerDone = (async () => {
    for await (const _ of channel) { /* the server only closes */ }
  })();
  const start = performance.now();
  let midway: ChannelStats | undefined;
  for (let sent = 0, i = 0; sent < total; sent += MESSAGE_BYTES, i++) {
    await channel.send(m, { barrier: i % 16 === 15 });
    // Mid-transfer, while every subflow is up (they close one by one at the end).
    if (midway === undefined && sent >= total / 2) midway = channel.stats();
  }
  await channel.close();
  await peerDone;
  const seconds = (performance.now() - start) / 1000;
  print('sent', { bytes: total, seconds, midwaySubflows: midway?.mptcp?.subflows }, channel.stats());
}

const [role, a, b, c] = process.argv.slice(2);
setTimeout(() => process.exit(3), 60_000).unref();
if (role === 'server') await server(Number(a));
else if (role === 'client') await client(a, Number(b), Number(c));
else process.exit(2);
