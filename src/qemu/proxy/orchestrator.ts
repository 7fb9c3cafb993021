/**
 * Drives a QEMU migration through livemig's two agents over QMP.
 *
 *   receiver (destination host)                       sender (source host)
 *   migrate-incoming tcp:127.0.0.1:0  (dst QEMU)
 *   listen for the livemig channel     <── channel ──  connect
 *   QemuDestinationAgent ─> dst QEMU                   QemuSourceAgent listens for the src QEMU
 *                                                      max-bandwidth, downtime-limit; migrate tcp:127.0.0.1:P
 *                                                      follow query-migrate until completed
 *   query-status == running                            wait for the destination's "all written"
 *
 * `migrateQemuViaLivemig` runs both on one host (the channel over loopback or the given paths).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivemigError, isLivemigError } from '../../core/errors.js';
import { createPageCache } from '../../cache/index.js';
import { getCodec } from '../../codec/index.js';
import type { Endpoint, Listener } from '../../transport/index.js';
import type { MigrationCapability, MigrationInfo, MigrationParameters, QemuMonitor } from '../qmp/commands.js';
import type { StreamPipelineOptions } from '../stream/pipeline.js';
import { QemuDestinationAgent, type QemuDestinationAgentResult } from './destination-agent.js';
import { connectProxyChannel, listenProxyChannel, type ProxyTransportSpec } from './proxy-channel.js';
import { parseQemuAddress, type QemuSocketAddress } from './qemu-address.js';
import { qemuFigures, type LivemigFigures, type QemuProxyReport, type SwitchoverTimeline } from './report.js';
import { openDestinationRam } from './shared-ram.js';
import { QemuSourceAgent, type QemuSourceAgentResult } from './source-agent.js';
import { SwitchoverBandwidth, type SwitchoverBandwidthMode } from './switchover-bandwidth.js';

/** Settings both agents must agree on. */
export interface QemuProxyPipeline {
  /** Page codec name, @default 'lz4-delta' */
  codec?: string;
  /** livemig page cache, bytes, @default the guest's RAM, up to MAX_DEFAULT_CACHE_BYTES (see cacheBytesFor) */
  cacheBytes?: number;
  /**
   * Source side only: codec for a page the cache has no old version of, when `codec` is a delta
   * codec ('none' sends such pages raw). lz4 cut a Linux guest's first pass to 0.70 of the stream
   * for ~25 % more source CPU (bench qemu-stream). @default 'zstd' for zstd-delta, else 'lz4'
   */
  firstPageCodec?: string;
  /**
   * Source side only: runs of consecutive PAGE records are compressed as blocks spanning at most
   * this many pages (1 = page by page; lz4/zstd and their delta codecs). @default 64
   */
  blockPages?: number;
  /**
   * Source side only: blocks compressing at once on libuv's thread pool while the agent parses on
   * (0 = in the agent's thread). @default DEFAULT_COMPRESS_THREADS
   */
  compressThreads?: number;
  /** Source side only: zstd level of zstd, zstd-delta and their blocks (1..19, fast -7..-1). @default 1 */
  zstdLevel?: number;
}

/**
 * A pool thread per core beyond two (the agent's thread and QEMU's migration thread). On this
 * 2-core test machine, where both QEMUs and both agents share the cores, the 512 MiB text guest
 * took 2050-2107 ms inline, 2447-2477 ms with 1 and 2143-2194 ms with 2 (bench qemu, zstd-delta
 * with direct RAM, three rounds); offline, with the cores free, 2 took the encoder from 360 to
 * 450 MB/s of stream for 8 % more CPU.
 */
export const DEFAULT_COMPRESS_THREADS = Math.max(0, availableParallelism() - 2);

/** Options of the receiving (destination) side. */
export interface QemuReceiverOptions extends QemuProxyPipeline {
  /** Where the livemig channel listens (port 0 picks one). */
  listen: Endpoint;
  transport?: ProxyTransportSpec;
  /** Capabilities to set on the destination QEMU (must match the source's, e.g. xbzrle). */
  capabilities?: Partial<Record<MigrationCapability, boolean>>;
  /**
   * The destination QEMU's incoming socket (tcp:HOST:PORT or unix:PATH). @default a UNIX socket in a
   * fresh temporary directory: the whole stream crosses it, and it costs less CPU than loopback TCP.
   */
  incomingUri?: string;
  /** How long the destination may take to run after the stream ends, @default 60000 ms */
  runTimeoutMs?: number;
  /**
   * Write the RAM block's pages straight into the destination QEMU's guest memory when it is a
   * shared file this host can map (shared-ram.ts), instead of through QEMU's socket. @default true
   */
  directRam?: boolean;
}

/** What the receiving side saw. */
export interface QemuReceiverResult {
  agent: QemuDestinationAgentResult;
  /** The destination's `query-status` after the stream. */
  status: string;
  /** Host time (µs) of the destination's RESUME event, or null. */
  resumeUs: number | null;
  /** The RAM file written directly, or why the stream went through QEMU's socket instead. */
  directRamNote: string;
}

/** A receiver waiting for the sender. */
export interface QemuReceiver {
  /** The address the livemig channel listens on. */
  readonly address: Endpoint;
  /** Resolves when the destination QEMU runs the migrated guest. */
  readonly done: Promise<QemuReceiverResult>;
  /** Stops listening and tears everything down. */
  close(): Promise<void>;
}

/** Options of the sending (source) side. */
export interface QemuSenderOptions extends QemuProxyPipeline {
  /** The receiver's channel address. */
  to: Endpoint;
  transport?: ProxyTransportSpec;
  capabilities?: Partial<Record<MigrationCapability, boolean>>;
  /** Extra `migrate-set-parameters` for the source QEMU. */
  parameters?: MigrationParameters;
  /** QEMU's downtime-limit, ms, @default 300 */
  downtimeLimitMs?: number;
  /**
   * QEMU's max-bandwidth in bytes/s. Set very high by default so that livemig's backpressure,
   * not QEMU's own limit, sets the rate. @default 100000000000
   */
  maxBandwidthBytesPerSec?: number;
  /**
   * What QEMU's downtime-limit budget counts: 'wire' sets avail-switchover-bandwidth to the
   * channel's wire rate, as QEMU's compressed migrations count compressed bytes; 'qemu' keeps QEMU's
   * own estimate in stream bytes (switchover-bandwidth.ts). @default 'wire'
   */
  switchoverBandwidth?: SwitchoverBandwidthMode;
  /**
   * Where the source agent listens for QEMU (tcp:HOST:PORT or unix:PATH). @default a UNIX socket in a
   * fresh temporary directory: its kernel buffer is ~200 KB where loopback TCP grows to several MB,
   * and whatever QEMU has written but the agent not yet read when the guest stops is added downtime.
   */
  agentUri?: string;
  /** Record the raw source stream here. */
  capturePath?: string;
  /** Frame bytes the source agent holds before pausing QEMU's socket, @default 1048576 */
  maxBufferedBytes?: number;
  /** Give up after this long, @default 300000 ms */
  timeoutMs?: number;
  /** Called with every query-migrate poll. */
  onProgress?: (info: MigrationInfo) => void | Promise<void>;
}

/** What the sending side saw. */
export interface QemuSenderResult {
  info: MigrationInfo;
  livemig: LivemigFigures;
  /** Host time (µs) of the source's STOP event, or null. */
  stopUs: number | null;
  /** The source agent's switchover times (host ms since the epoch). */
  times: QemuSourceAgentResult['times'];
  /** Stream bytes from the ram END section to QEMU's end of stream. */
  switchoverBytes: number | null;
}

/** The page cache's size when none is given: the guest's RAM, up to this. */
export const MAX_DEFAULT_CACHE_BYTES = 4 * 1024 ** 3;

/**
 * The cache size both agents use: `--cache-mib` when given, else the guest's RAM (each side asks its
 * own QEMU; the two have the same RAM, so they agree). A cache smaller than what QEMU's first pass
 * sends after the hot pages loses them all before they are re-sent: measured on a 1 GiB guest with a
 * 51 MiB hot set at 1 Gbit/s, 64 MiB gave 438 ms of downtime, 1 GiB 125 ms. It costs that much host
 * memory on each side for the migration's length.
 */
async function cacheBytesFor(monitor: QemuMonitor, o: QemuProxyPipeline): Promise<number> {
  if (o.cacheBytes !== undefined) return o.cacheBytes;
  const ram = (await monitor.queryMemorySizeSummary())['base-memory'];
  // An even number of pages, as the 2-way cache needs.
  return Math.max(2 * 4096, Math.floor(Math.min(ram, MAX_DEFAULT_CACHE_BYTES) / 8192) * 8192);
}

function pipelineOf(o: QemuProxyPipeline & { capabilities?: Partial<Record<MigrationCapability, boolean>> }): StreamPipelineOptions {
  const level = o.zstdLevel === undefined ? undefined : { zstdLevel: o.zstdLevel };
  const codec = getCodec(o.codec ?? 'lz4-delta', level);
  // zstd-delta pairs with zstd; everything else with lz4.
  const first = o.firstPageCodec ?? (codec.name === 'zstd-delta' ? 'zstd' : 'lz4');
  const firstCodec = first === 'none' ? null : getCodec(first, level);
  if (firstCodec?.delta) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a full-page codec (or 'none') for pages without an old version, got the delta codec '${first}'`, { phase: 'setup' });
  }
  return {
    codec, cacheBytes: o.cacheBytes, pageSize: 4096,
    // Made before QEMU's `migrate`, so its page faults are paid then (only delta codecs use it).
    cache: codec.delta ? createPageCache('2way', { capacityBytes: o.cacheBytes, pageSize: 4096, prefault: true }) : undefined,
    firstPageCodec: codec.delta ? firstCodec : null,
    blockPages: o.blockPages,
    compressThreads: o.compressThreads ?? DEFAULT_COMPRESS_THREADS,
    // The PageMirror only serves XBZRLE records, which QEMU sends only with its xbzrle capability;
    // both sides see the same capabilities (they must match), so both agree on turning it off.
    mirrorBytes: o.capabilities?.xbzrle === true ? undefined : 0,
  };
}

async function pollStatus(m: QemuMonitor, want: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await m.queryStatus();
    if (s.status === want || Date.now() > deadline) return s.status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Prepares the destination QEMU (`-incoming defer`): capabilities, `migrate-incoming`, and the
 * livemig listener. The returned receiver relays the first channel that connects.
 */
export async function startQemuReceiver(destination: QemuMonitor, opts: QemuReceiverOptions): Promise<QemuReceiver> {
  const dir = opts.incomingUri === undefined ? mkdtempSync(join(tmpdir(), 'livemig-incoming-')) : null;
  const removeDir = (): void => void (dir && rmSync(dir, { recursive: true, force: true }));
  const uri = opts.incomingUri ?? `unix:${join(dir!, 'dst.sock')}`;
  let listener: Listener;
  let incoming: QemuSocketAddress;
  let pipeline: StreamPipelineOptions;
  let directRamNote: string;
  try {
    if (opts.capabilities) await destination.migrateSetCapabilities(opts.capabilities);
    await destination.migrateIncoming(uri);
    incoming = await incomingAddress(destination, uri);
    // Before the sender can connect: the cache is ready when the stream starts.
    pipeline = pipelineOf({ ...opts, cacheBytes: await cacheBytesFor(destination, opts) });
    const ram = opts.directRam === false ? { ram: null, reason: 'turned off' } : await openDestinationRam(destination, pipeline.pageSize ?? 4096);
    directRamNote = ram.ram ? `${ram.ram.block} in ${ram.path}` : `off: ${ram.reason}`;
    if (ram.ram) pipeline.directRam = ram.ram;
    listener = await listenProxyChannel(opts.transport ?? {}, opts.listen);
  } catch (err) {
    removeDir();
    throw err;
  }
  let agent: QemuDestinationAgent | undefined;
  const done = (async (): Promise<QemuReceiverResult> => {
    const channel = await listener.accept();
    await listener.close();
    agent = await QemuDestinationAgent.start(channel, incoming, pipeline);
    const result = await agent.done;
    const status = await pollStatus(destination, 'running', opts.runTimeoutMs ?? 60_000);
    if (status !== 'running') {
      throw new LivemigError('LIVEMIG_E_QEMU_MIGRATION_FAILED', `the destination QEMU received the whole stream but is '${status}', not running`, { phase: 'resume' });
    }
    const resume = destination.client.events.find((e) => e.event === 'RESUME');
    return { agent: result, status, resumeUs: resume?.timestampUs ?? null, directRamNote };
  })();
  done.then(removeDir, removeDir);
  return {
    address: listener.address,
    done,
    close: async () => {
      await listener.close().catch(() => undefined);
      removeDir();
    },
  };
}

/** The address a destination QEMU actually listens on (port 0 resolved through query-migrate). */
async function incomingAddress(destination: QemuMonitor, uri: string): Promise<QemuSocketAddress> {
  const a = parseQemuAddress(uri);
  if (a.kind === 'unix' || a.port !== 0) return a;
  const sa = (await destination.queryMigrate())['socket-address']?.find((x) => x.type === 'inet');
  if (!sa?.port) throw new LivemigError('LIVEMIG_E_QMP_PROTOCOL', 'the destination QEMU does not report its incoming port (query-migrate socket-address)', { phase: 'qmp' });
  return { kind: 'tcp', host: sa.host ?? a.host, port: Number(sa.port) };
}

/**
 * Migrates the source QEMU through livemig to a receiver: source agent, QEMU parameters, `migrate`,
 * then follows query-migrate. On any failure the source QEMU's migration fails and its guest keeps
 * running; the error says why (e.g. LIVEMIG_E_QEMU_EXITED when the destination QEMU died).
 */
export async function runQemuSender(source: QemuMonitor, opts: QemuSenderOptions): Promise<QemuSenderResult> {
  if (opts.agentUri !== undefined) return runSender(source, opts, opts.agentUri);
  const dir = mkdtempSync(join(tmpdir(), 'livemig-agent-'));
  try {
    return await runSender(source, opts, `unix:${join(dir, 'src.sock')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runSender(source: QemuMonitor, opts: QemuSenderOptions, agentUri: string): Promise<QemuSenderResult> {
  const spec = opts.transport ?? {};
  const channel = await connectProxyChannel(spec, opts.to);
  let agent: QemuSourceAgent;
  try {
    agent = await QemuSourceAgent.listen(parseQemuAddress(agentUri), channel, {
      pipeline: pipelineOf({ ...opts, cacheBytes: await cacheBytesFor(source, opts) }), capturePath: opts.capturePath, maxBufferedBytes: opts.maxBufferedBytes,
    });
  } catch (err) {
    channel.destroy();
    throw err;
  }
  let info: MigrationInfo;
  const wire = (opts.switchoverBandwidth ?? 'wire') === 'wire' ? new SwitchoverBandwidth(() => channel.stats().bytesSent) : null;
  let toldBandwidth = null as number | null;
  try {
    if (opts.capabilities) await source.migrateSetCapabilities(opts.capabilities);
    await source.migrateSetParameters({
      'max-bandwidth': opts.maxBandwidthBytesPerSec ?? 100_000_000_000,
      'downtime-limit': opts.downtimeLimitMs ?? 300,
      ...opts.parameters,
    });
    await source.migrate(agent.qemuUri);
    info = await source.waitForMigration({
      timeoutMs: opts.timeoutMs ?? 300_000,
      onProgress: async (i) => {
        const bw = i.status === 'active' && i.ram ? wire?.poll(i.ram['dirty-sync-count'], (i.ram.mbps * 1e6) / 8) : null;
        if (bw !== null && bw !== undefined) await source.migrateSetParameters({ 'avail-switchover-bandwidth': (toldBandwidth = bw) });
        await opts.onProgress?.(i);
      },
    });
  } catch (err) {
    // Prefer the agents' account (it names the side that failed) over QEMU's "socket error".
    const agentErr = await Promise.race([agent.done.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 3000))]);
    if (isLivemigError(err) && err.code === 'LIVEMIG_E_QMP_TIMEOUT') await source.migrateCancel().catch(() => undefined);
    agent.abort(isLivemigError(err) ? err : new LivemigError('LIVEMIG_E_INTERNAL', String(err)));
    const status = await source.queryStatus().then((s) => s.status, () => 'unknown');
    const qemuSays = isLivemigError(err) ? err.message : String(err);
    if (isLivemigError(agentErr)) {
      throw new LivemigError(agentErr.code, `${agentErr.message} (source QEMU: ${qemuSays}; its guest is ${status})`, { phase: agentErr.phase, cause: agentErr });
    }
    if (isLivemigError(err)) throw new LivemigError(err.code, `${err.message} (source QEMU's guest is ${status})`, { phase: err.phase, cause: err });
    throw err;
  }
  const result = await agent.done;
  const stats = channel.stats();
  const stop = source.client.events.find((e) => e.event === 'STOP');
  return {
    info,
    stopUs: stop?.timestampUs ?? null,
    times: result.times,
    switchoverBytes: result.switchoverBytes,
    livemig: {
      codec: opts.codec ?? 'lz4-delta',
      transport: spec.transport ?? 'tcp',
      streamBytes: result.streamBytes,
      wireBytes: stats.bytesSent,
      wireRatio: stats.bytesSent / Math.max(1, result.streamBytes),
      encoder: result.encoder,
      passthroughReason: result.passthroughReason,
      pauses: result.pauses,
      pausedMs: result.pausedMs,
      blend: result.blend,
      peakBufferedBytes: result.peakBufferedBytes,
      paths: stats.paths,
      capturePath: result.capturePath,
      destinationStreamBytes: null,
      directRam: null,
      directRamNote: null,
      switchover: stop === undefined ? null : {
        bytes: result.switchoverBytes,
        endSectionMs: msAfter(result.times.endSectionAtMs, stop.timestampUs),
        qemuEofMs: msAfter(result.times.qemuEofAtMs, stop.timestampUs),
        lastFrameSentMs: msAfter(result.times.lastFrameSentAtMs, stop.timestampUs),
        bandwidthBytesPerSec: toldBandwidth,
      },
    },
  };
}

/** Options of migrateQemuViaLivemig (one host: both agents in this process). */
export interface QemuProxyMigrateOptions extends Omit<QemuSenderOptions, 'to'> {
  /** Where the channel listens, @default { host: '127.0.0.1', port: 0 } */
  listen?: Endpoint;
  incomingUri?: string;
  /** See QemuReceiverOptions.directRam. @default true */
  directRam?: boolean;
}

/** Migrates `source` to `destination` (started with `-incoming defer`) through livemig on this host. */
export async function migrateQemuViaLivemig(source: QemuMonitor, destination: QemuMonitor, opts: QemuProxyMigrateOptions = {}): Promise<QemuProxyReport> {
  const receiver = await startQemuReceiver(destination, {
    listen: opts.listen ?? { host: '127.0.0.1', port: 0 }, transport: opts.transport, capabilities: opts.capabilities,
    codec: opts.codec, cacheBytes: opts.cacheBytes, incomingUri: opts.incomingUri, directRam: opts.directRam,
  });
  try {
    let sent: QemuSenderResult;
    try {
      sent = await runQemuSender(source, { ...opts, to: { host: receiver.address.host === '0.0.0.0' ? '127.0.0.1' : receiver.address.host, port: receiver.address.port } });
    } catch (err) {
      // The receiver's reason is the more precise one when the destination side failed.
      const recvErr = await Promise.race([receiver.done.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 1000))]);
      if (isLivemigError(err) && isLivemigError(recvErr) && !err.message.includes(recvErr.message)) {
        // A dead destination QEMU is the cause; the broken channel or QEMU's socket error only follow from it.
        const first = recvErr.code === 'LIVEMIG_E_QEMU_EXITED' ? recvErr : err;
        const second = first === err ? recvErr : err;
        throw new LivemigError(first.code, `${first.message}; ${first === err ? 'destination side' : 'source side'}: ${second.message}`, { phase: first.phase, cause: err });
      }
      throw err;
    }
    const received = await receiver.done;
    return {
      status: 'completed',
      qemu: qemuFigures(sent.info),
      livemig: { ...sent.livemig, destinationStreamBytes: received.agent.streamBytes, directRam: received.agent.directRam, directRamNote: received.directRamNote },
      observedDowntimeMs: sent.stopUs !== null && received.resumeUs !== null ? (received.resumeUs - sent.stopUs) / 1000 : null,
      destination: { status: received.status },
      switchover: switchoverTimeline(sent, received),
    };
  } finally {
    await receiver.close();
  }
}

function msAfter(atMs: number | null, stopUs: number): number | null {
  return atMs === null ? null : Math.round((atMs - stopUs / 1000) * 10) / 10;
}

function switchoverTimeline(sent: QemuSenderResult, received: QemuReceiverResult): SwitchoverTimeline | null {
  if (sent.stopUs === null) return null;
  const stopMs = sent.stopUs / 1000;
  const rel = (t: number | null): number | null => (t === null ? null : Math.round((t - stopMs) * 10) / 10);
  return {
    switchoverBytes: sent.switchoverBytes,
    endSectionMs: rel(sent.times.endSectionAtMs),
    qemuEofMs: rel(sent.times.qemuEofAtMs),
    lastFrameSentMs: rel(sent.times.lastFrameSentAtMs),
    lastWriteMs: rel(received.agent.lastWriteAtMs),
    resumeMs: rel(received.resumeUs === null ? null : received.resumeUs / 1000),
  };
}
