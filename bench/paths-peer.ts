/**
 * One end of a bench/paths.ts transfer, started inside a testbed namespace with `ip netns exec`
 * (sockets belong to the namespace of the process that opens them). Takes one JSON argument and
 * prints JSON lines on stdout: `{"event":"listening"}` (server), then one `{"event":"result",...}`.
 *
 *   server: {"role":"server","transport":T,"port":P}
 *           receives one channel, checks every message (sequence number and fill), samples the
 *           bytes received every 50 ms
 *   client: {"role":"client","transport":T,"paths":[{"local","remote"}],"port":P,"seconds":S,
 *            "subflows":N,"scheduler":NAME}
 *           sends 256 KiB messages for S seconds to paths[0] (tcp, mptcp) or over every path
 *           (multipath), samples the per-path bytes every 250 ms
 *
 * Messages: a big-endian u32 payload length, a u32 sequence number, then the payload filled with
 * the sequence number's low byte, so that the receiver can tell lost, duplicated and corrupted ones.
 */
import { KiB } from '../src/core/index.js';
import {
  connectMptcp, connectMultipath, connectTcp, listenMptcp, listenMultipath, listenTcp, type Channel, type ChannelStats,
  type Listener, type MessageLength, type SchedulerName,
} from '../src/transport/index.js';

/** Bytes of one message, header included. */
export const PEER_MESSAGE_BYTES = 256 * KiB;
/** Receiver's sampling period, in ms. */
export const RECEIVER_SAMPLE_MS = 50;
/** Sender's per-path sampling period, in ms. */
export const SENDER_SAMPLE_MS = 250;

export type PeerTransport = 'tcp' | 'mptcp' | 'multipath';

export interface ServerArgs {
  role: 'server';
  transport: PeerTransport;
  port: number;
}

export interface ClientArgs {
  role: 'client';
  transport: PeerTransport;
  /** Source and destination address of each path; tcp and mptcp connect to paths[0].remote. */
  paths: Array<{ local: string; remote: string }>;
  port: number;
  /** How long to send, in seconds. */
  seconds: number;
  /** multipath: subflows per path. @default 1 */
  subflows?: number;
  /** multipath scheduler. @default 'least-queued' */
  scheduler?: SchedulerName;
}

/** CPU time of a process over the transfer, in seconds. */
export interface CpuSeconds {
  user: number;
  system: number;
}

export interface ServerResult {
  event: 'result';
  bytes: number;
  messages: number;
  /** Messages delivered twice (a reinjection that leaked through). */
  duplicates: number;
  /** Messages whose payload did not match their sequence number. */
  corrupt: number;
  /** Highest sequence number seen + 1; `messages` must equal it when nothing was lost. */
  highestSeq: number;
  /** Wall clock (ms since the epoch) of the first and last byte. */
  firstMs: number;
  lastMs: number;
  /** [wall-clock ms, cumulative bytes] every RECEIVER_SAMPLE_MS. */
  timeline: Array<[number, number]>;
  cpu: CpuSeconds;
  stats: ChannelStats;
}

export interface ClientResult {
  event: 'result';
  bytes: number;
  messages: number;
  startMs: number;
  endMs: number;
  /** [wall-clock ms, bytes per path label] every SENDER_SAMPLE_MS (mptcp: kernel-acked bytes per subflow). */
  timeline: Array<[number, Record<string, number>]>;
  cpu: CpuSeconds;
  stats: ChannelStats;
  /** mptcp: subflows open mid-transfer (they close one by one at the end). */
  midwaySubflows?: number;
}

const lengthPrefixed: MessageLength = (b) =>
  b.length < 4 ? null : 4 + (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);

const channelOptions = { messageLength: lengthPrefixed, idleTimeoutMs: 20_000 };

function cpuSince(start: NodeJS.CpuUsage): CpuSeconds {
  const d = process.cpuUsage(start);
  return { user: d.user / 1e6, system: d.system / 1e6 };
}

function emit(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Bytes per path label (kernel-acked bytes for mptcp, message bytes otherwise). Labels, not
 * positions: an mptcp subflow joins after the first reading.
 */
function pathBytes(stats: ChannelStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of stats.paths) out[p.label] = (out[p.label] ?? 0) + (p.subflow?.bytesAcked ?? p.bytesSent);
  return out;
}

async function server(a: ServerArgs): Promise<void> {
  const at = { host: '0.0.0.0', port: a.port };
  // Wildcard address: kernel MPTCP joins and livemig multipath subflows arrive on every path's address.
  let listener: Listener;
  if (a.transport === 'tcp') listener = await listenTcp(at, channelOptions);
  else if (a.transport === 'mptcp') listener = await listenMptcp(at, { ...channelOptions, requireMptcp: true });
  else listener = await listenMultipath({ ...channelOptions, local: at });
  emit({ event: 'listening' });
  const channel = await listener.accept();
  const seen = new Uint8Array(1 << 20);
  let bytes = 0;
  let messages = 0;
  let duplicates = 0;
  let corrupt = 0;
  let highestSeq = 0;
  let firstMs = 0;
  const timeline: Array<[number, number]> = [];
  const sampler = setInterval(() => timeline.push([Date.now(), bytes]), RECEIVER_SAMPLE_MS);
  const cpu0 = process.cpuUsage();
  for await (const m of channel) {
    if (firstMs === 0) {
      firstMs = Date.now();
      // The orchestrator times its path events from here.
      emit({ event: 'first', ms: firstMs });
    }
    const seq = ((m[4] << 24) | (m[5] << 16) | (m[6] << 8) | m[7]) >>> 0;
    const fill = seq & 0xff;
    if (m.length < 9 || m[8] !== fill || m[m.length - 1] !== fill || m[(m.length >> 1) | 0] !== fill) corrupt++;
    if (seq < seen.length && seen[seq] === 1) duplicates++;
    else if (seq < seen.length) seen[seq] = 1;
    highestSeq = Math.max(highestSeq, seq + 1);
    bytes += m.length;
    messages++;
  }
  const lastMs = Date.now();
  const cpu = cpuSince(cpu0);
  clearInterval(sampler);
  timeline.push([lastMs, bytes]);
  await channel.close();
  await listener.close();
  const result: ServerResult = {
    event: 'result', bytes, messages, duplicates, corrupt, highestSeq, firstMs, lastMs, timeline, cpu, stats: channel.stats(),
  };
  emit(result);
}

async function client(a: ClientArgs): Promise<void> {
  const first = { host: a.paths[0].remote, port: a.port };
  let channel: Channel;
  if (a.transport === 'tcp') {
    channel = await connectTcp(first, { ...channelOptions, connectTimeoutMs: 10_000 });
  } else if (a.transport === 'mptcp') {
    channel = await connectMptcp(first, { ...channelOptions, requireMptcp: true, connectTimeoutMs: 10_000 });
  } else {
    channel = await connectMultipath({
      ...channelOptions,
      connectTimeoutMs: 10_000,
      paths: a.paths.map((p) => ({ local: p.local, remote: { host: p.remote, port: a.port } })),
      subflows: a.subflows ?? 1,
      scheduler: a.scheduler ?? 'least-queued',
    });
  }
  const peerDone = (async () => {
    for await (const _ of channel) { /* the server only closes */ }
  })();
  const timeline: Array<[number, Record<string, number>]> = [];
  let midwaySubflows: number | undefined;
  const sampler = setInterval(() => {
    const s = channel.stats();
    timeline.push([Date.now(), pathBytes(s)]);
    if (s.mptcp) midwaySubflows = Math.max(midwaySubflows ?? 0, s.mptcp.subflows);
  }, SENDER_SAMPLE_MS);
  const cpu0 = process.cpuUsage();
  const startMs = Date.now();
  const untilMs = startMs + a.seconds * 1000;
  let messages = 0;
  let bytes = 0;
  // Wall time, not a byte count: every case runs for the same seconds whatever its rate.
  while (Date.now() < untilMs) {
    const m = Buffer.allocUnsafe(PEER_MESSAGE_BYTES);
    m.writeUInt32BE(PEER_MESSAGE_BYTES - 4, 0);
    m.writeUInt32BE(messages, 4);
    m.fill(messages & 0xff, 8);
    await channel.send(m, { barrier: messages % 64 === 63 });
    messages++;
    bytes += m.length;
  }
  await channel.close();
  await peerDone;
  const endMs = Date.now();
  const cpu = cpuSince(cpu0);
  clearInterval(sampler);
  const stats = channel.stats();
  timeline.push([endMs, pathBytes(stats)]);
  const result: ClientResult = {
    event: 'result', bytes, messages, startMs, endMs, timeline, cpu, stats, midwaySubflows,
  };
  emit(result);
}

/** Entry point when run as a program: one JSON argument (see the file comment). */
export async function peerMain(arg: string): Promise<void> {
  const a = JSON.parse(arg) as ServerArgs | ClientArgs;
  // A stuck peer must not outlive the benchmark.
  setTimeout(() => process.exit(3), 180_000).unref();
  if (a.role === 'server') await server(a);
  else await client(a);
  // Lingering sockets (a stale subflow, a listener kept for rejoins) must not keep it alive.
  process.exit(0);
}

if (process.argv[1]?.endsWith('paths-peer.js') && process.argv[2] !== undefined) {
  await peerMain(process.argv[2]);
}
