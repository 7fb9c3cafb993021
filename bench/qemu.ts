/**
 * Real QEMU guests migrated on this host (TCG), QEMU's own migration against livemig as a proxy,
 * with the same guest, workload and QEMU parameters (max-bandwidth unlimited, same downtime-limit).
 * Baseline: QEMU direct over TCP, measured in the same run.
 *
 * | contender                 | how                                                          |
 * |---------------------------|--------------------------------------------------------------|
 * | qemu-direct               | QEMU → QEMU over TCP (baseline)                              |
 * | qemu-xbzrle               | same, with QEMU's xbzrle capability                          |
 * | qemu-mptcp                | same, `tcp:…,mptcp` sockets on both QEMUs                    |
 * | qemu-xbzrle-mptcp         | xbzrle over MPTCP                                            |
 * | qemu-multifd4-mptcp       | multifd, 4 channels, no compression, over MPTCP              |
 * | qemu-multifd4-zstd        | multifd, 4 channels, zstd (level 1), TCP                     |
 * | qemu-multifd4-zstd-mptcp  | the same over MPTCP: QEMU's strongest configuration          |
 * | qemu-multifd4-zstd-mptcp-shm | the same, the destination's RAM a shared file in /dev/shm |
 * | livemig-lz4d-1path        | through livemig's agents, lz4-delta, tcp channel             |
 * | livemig-lz4d-2paths       | lz4-delta, multipath (strict ordering), a subflow per path   |
 * | livemig-xbzrle-1path      | xbzrle codec, tcp channel                                    |
 * | livemig-lz4d-raw1st-2paths| lz4-delta, first-pass pages raw (`--first-page-codec none`)  |
 * | livemig-zstdd-1path       | zstd-delta, blocks of 64 pages, tcp channel                  |
 * | livemig-zstdd-2paths      | zstd-delta, multipath, blocks of 64 pages (the default)      |
 * | livemig-zstdd-2paths-shm  | the same, the destination's RAM a shared file the agent writes pages into (direct RAM) |
 * | livemig-zstdd-mptcp       | zstd-delta over kernel MPTCP (a subflow per path)            |
 * | livemig-zstdd-single-2paths| zstd-delta, multipath, page by page (`--block-pages 1`)     |
 * | livemig-zstdd-inline-2paths| zstd-delta, multipath, blocks compressed in the agent's thread (`--compress-threads 0`) |
 * | livemig-adaptive-1path    | adaptive (zstd or lz4 delta blocks, the blend following the link), tcp channel |
 * | livemig-adaptive-2paths   | adaptive, multipath                                          |
 * | livemig-adaptive-2paths-shm | the same, with direct RAM (the destination's RAM a shared file) |
 *
 * Without `--paths` everything runs on loopback (multipath then has 2 subflows on it). With
 * `--paths N --rate R` the bench brings up its own testbed (`lm-bq-src`/`lm-bq-dst`, N veth paths
 * shaped to R each): the source QEMU and agent run in the source namespace, the destination's in
 * the destination namespace, and single-path contenders use path 0.
 *
 * Per run: QEMU's total time and downtime, the observed downtime (source STOP → destination
 * RESUME), bytes on the wire (in the testbed: counted on the source's path interfaces, headers
 * included; on loopback: QEMU's transferred for direct runs, livemig's frame bytes otherwise),
 * converged or not (within --timeout-s), the in-guest check, and the host's busy CPU seconds from the
 * migrate call until the destination ran (every process and the kernel; livemig's agents start
 * within that span) with the mean cores busy over it. Then each QEMU process's CPU over that span,
 * and in the testbed each livemig agent process's own CPU from its start to its end.
 *
 * Run: `livemig bench qemu [--guest linux|boot-sector] [--workload idle|hotset|memstress|text]
 *       [--memory-mib N] [--workload-mib N] [--hot-percent N] [--pages-per-sec N] [--paths N --rate R]
 *       [--downtime-limit-ms N] [--timeout-s N] [--only a,b] [--json]`
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { isLivemigError } from '../src/core/errors.js';
import { runQemuDemo, type BlendSummary, type QemuDemoOptions } from '../src/qemu/proxy/index.js';
import type { MigrationParameters } from '../src/qemu/qmp/commands.js';
import { parseRate, testbedDown, testbedUp, type TestbedConfig } from '../src/testbed/index.js';

/** One measured row. */
export interface QemuBenchRow {
  contender: string;
  converged: boolean;
  totalMs: number | null;
  downtimeMs: number | null;
  observedDowntimeMs: number | null;
  /** Bytes QEMU wrote into its socket(s). */
  streamBytes: number | null;
  /**
   * Bytes on the wire: in the testbed, what the source's path interfaces sent (headers included,
   * the same measure for every contender); on loopback QEMU's transferred for direct runs and
   * livemig's channel bytes otherwise.
   */
  wireBytes: number | null;
  check: string;
  ok: boolean;
  error?: string;
  /** In the testbed: wire bytes per path. */
  wirePerPath?: number[] | null;
  /** QEMU's dirty-bitmap syncs (pre-copy rounds + 1). */
  syncs?: number | null;
  /** livemig rows: the source side of the switchover (ms after STOP, stream bytes after the ram END section). */
  switchover?: unknown;
  /** livemig rows: ms the source agent held QEMU's socket paused because the channel was behind. */
  pausedMs?: number | null;
  /** Host CPU busy from the migrate call until the destination ran (all processes), ms, and its span. */
  hostCpu?: { busyMs: number; wallMs: number } | null;
  /** CPU of each QEMU over the migration, and of each livemig agent process (testbed rows), ms. */
  cpuMs?: { sourceQemu: number | null; destinationQemu: number | null; sourceAgent: number | null; destinationAgent: number | null };
  /** livemig rows: the destination's direct RAM, "BLOCK in FILE" or "off: why". */
  directRam?: string | null;
  /** livemig adaptive rows: the zstd share of the blocks at the end and on average, and its windows. */
  blend?: { zstdShare: number; meanZstdShare: number; windows: number } | null;
}

const MULTIFD_ZSTD: MigrationParameters = { 'multifd-channels': 4, 'multifd-compression': 'zstd' };
const MULTIFD_NONE: MigrationParameters = { 'multifd-channels': 4, 'multifd-compression': 'none' };

/** Contenders; `paths` = how many of the testbed's paths a livemig multipath channel uses. */
const CONTENDERS: Record<string, Partial<QemuDemoOptions> & { paths?: number }> = {
  'qemu-direct': { via: 'direct' },
  'qemu-xbzrle': { via: 'direct', capabilities: { xbzrle: true } },
  'qemu-mptcp': { via: 'direct-mptcp' },
  'qemu-xbzrle-mptcp': { via: 'direct-mptcp', capabilities: { xbzrle: true } },
  'qemu-multifd4-mptcp': { via: 'direct-mptcp', capabilities: { multifd: true }, parameters: MULTIFD_NONE, destParameters: MULTIFD_NONE },
  'qemu-multifd4-zstd': { via: 'direct', capabilities: { multifd: true }, parameters: MULTIFD_ZSTD, destParameters: MULTIFD_ZSTD },
  'qemu-multifd4-zstd-mptcp': { via: 'direct-mptcp', capabilities: { multifd: true }, parameters: MULTIFD_ZSTD, destParameters: MULTIFD_ZSTD },
  'qemu-multifd4-zstd-mptcp-shm': { via: 'direct-mptcp', capabilities: { multifd: true }, parameters: MULTIFD_ZSTD, destParameters: MULTIFD_ZSTD, destRam: 'shared-file' },
  'livemig-lz4d-1path': { via: 'livemig', codec: 'lz4-delta', transport: { transport: 'tcp' } },
  'livemig-lz4d-2paths': { via: 'livemig', codec: 'lz4-delta', transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-xbzrle-1path': { via: 'livemig', codec: 'xbzrle', transport: { transport: 'tcp' } },
  'livemig-lz4d-raw1st-2paths': { via: 'livemig', codec: 'lz4-delta', firstPageCodec: 'none', transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-zstdd-1path': { via: 'livemig', codec: 'zstd-delta', transport: { transport: 'tcp' } },
  'livemig-zstdd-2paths': { via: 'livemig', codec: 'zstd-delta', transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-zstdd-2paths-shm': { via: 'livemig', codec: 'zstd-delta', transport: { transport: 'multipath', subflows: 1 }, paths: 2, destRam: 'shared-file' },
  'livemig-zstdd-mptcp': { via: 'livemig', codec: 'zstd-delta', transport: { transport: 'mptcp' }, paths: 2 },
  'livemig-zstdd-single-2paths': { via: 'livemig', codec: 'zstd-delta', blockPages: 1, transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-zstdd-inline-2paths': { via: 'livemig', codec: 'zstd-delta', compressThreads: 0, transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-adaptive-1path': { via: 'livemig', codec: 'adaptive', transport: { transport: 'tcp' } },
  'livemig-adaptive-2paths': { via: 'livemig', codec: 'adaptive', transport: { transport: 'multipath', subflows: 1 }, paths: 2 },
  'livemig-adaptive-2paths-shm': { via: 'livemig', codec: 'adaptive', transport: { transport: 'multipath', subflows: 1 }, paths: 2, destRam: 'shared-file' },
};

/** The multipath transport over `n` testbed paths, or two subflows on loopback. */
function placed(c: Partial<QemuDemoOptions> & { paths?: number }, tb: TestbedConfig | undefined): Partial<QemuDemoOptions> {
  const { paths, ...rest } = c;
  if (rest.transport?.transport !== 'multipath') return rest;
  if (!tb) return { ...rest, transport: { ...rest.transport, subflows: 2 } };
  const use = tb.paths.slice(0, paths ?? tb.paths.length).map((p) => ({ local: p.srcAddr, remote: p.dstAddr }));
  return { ...rest, transport: { ...rest.transport, paths: use } };
}

/** `c` with --compress-threads, unless it is not a livemig row or sets its own. */
function withThreads<T extends Partial<QemuDemoOptions>>(c: T, threads: string | undefined): T {
  return threads === undefined || c.via !== 'livemig' || c.compressThreads !== undefined ? c : { ...c, compressThreads: Number(threads) };
}

/** Bytes each of the source namespace's path interfaces has sent (IP headers included): the real wire. */
function pathTxBytes(tb: TestbedConfig): number[] {
  const links = JSON.parse(execFileSync('ip', ['-n', tb.srcNs, '-j', '-s', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; stats64?: { tx?: { bytes?: number } } }>;
  return tb.paths.map((p) => links.find((l) => l.ifname === p.srcDev)?.stats64?.tx?.bytes ?? 0);
}

function blendOf(b: BlendSummary | null | undefined): QemuBenchRow['blend'] {
  return b ? { zstdShare: b.zstdShare, meanZstdShare: b.meanZstdShare, windows: b.windows.length } : null;
}

/** One migration; a failure or a non-converging run is a row too. */
async function runContender(name: string, o: QemuDemoOptions): Promise<QemuBenchRow> {
  try {
    let tx0: number[] = [];
    // The path counters, read just before migrating (the guests' boots send nothing on the paths).
    const r = await runQemuDemo({ ...o, beforeMigrate: () => void (tx0 = o.testbed ? pathTxBytes(o.testbed) : []) });
    const perPath = o.testbed ? pathTxBytes(o.testbed).map((b, i) => b - tx0[i]) : null;
    const onPaths = perPath?.reduce((a, b) => a + b, 0) ?? null;
    const q = r.report.qemu;
    const agents = r.report.livemig === null ? null : r.report.agentsCpuMs ?? null;
    return {
      contender: name, converged: true, totalMs: q['total-time'], downtimeMs: q.downtime, observedDowntimeMs: r.report.observedDowntimeMs,
      streamBytes: q.transferred, wireBytes: onPaths ?? (r.report.livemig ? r.report.livemig.wireBytes : q.transferred),
      check: r.check.kind === 'linux' ? `errors=${r.check.errors}` : `bad=${r.check.bad}`, ok: r.ok,
      wirePerPath: perPath, syncs: q['dirty-sync-count'], switchover: r.report.livemig?.switchover ?? null,
      pausedMs: r.report.livemig?.pausedMs ?? null,
      directRam: r.report.livemig?.directRamNote ?? null,
      blend: blendOf(r.report.livemig?.blend),
      hostCpu: r.hostCpu,
      cpuMs: {
        sourceQemu: r.qemuCpuMs.source, destinationQemu: r.qemuCpuMs.destination,
        sourceAgent: agents?.source ?? null, destinationAgent: agents?.destination ?? null,
      },
    };
  } catch (err) {
    return {
      contender: name, converged: false, totalMs: null, downtimeMs: null, observedDowntimeMs: null, streamBytes: null,
      wireBytes: null, check: '-', ok: false, error: `${isLivemigError(err) ? err.code : ''} ${(err as Error).message}`.slice(0, 300),
    };
  }
}

function arg(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

export async function main(argv: string[]): Promise<QemuBenchRow[]> {
  const json = argv.includes('--json');
  const guest = (arg(argv, 'guest') ?? 'linux') as 'linux' | 'boot-sector';
  const mode = (arg(argv, 'workload') ?? 'hotset') as 'idle' | 'hotset' | 'memstress' | 'text';
  const pagesPerSec = arg(argv, 'pages-per-sec') === undefined ? undefined : Number(arg(argv, 'pages-per-sec'));
  const memoryMiB = Number(arg(argv, 'memory-mib') ?? 128);
  const workloadMiB = Number(arg(argv, 'workload-mib') ?? 48);
  const hotPercent = Number(arg(argv, 'hot-percent') ?? 25);
  const pathCount = arg(argv, 'paths') === undefined ? 0 : Number(arg(argv, 'paths'));
  const rate = arg(argv, 'rate') ?? '1gbit';
  const downtimeLimitMs = Number(arg(argv, 'downtime-limit-ms') ?? 300);
  const timeoutMs = Number(arg(argv, 'timeout-s') ?? 120) * 1000;
  const only = arg(argv, 'only')?.split(',');
  // For every livemig row that does not set its own.
  const threads = arg(argv, 'compress-threads');
  const rows: QemuBenchRow[] = [];
  const tb = pathCount > 0 ? (await testbedUp({ name: 'bq', paths: pathCount, rateBitsPerSec: parseRate(rate, '--rate') })).config : undefined;
  try {
    for (const [name, c] of Object.entries(CONTENDERS)) {
      if (only && !only.includes(name)) continue;
      rows.push(await runContender(name, { guest, memoryMiB, workload: { mode, mib: workloadMiB, hotPercent, pagesPerSec }, downtimeLimitMs, timeoutMs, testbed: tb, ...placed(withThreads(c, threads), tb) }));
      if (!json) process.stderr.write(`${name}: ${JSON.stringify(rows.at(-1))}\n`);
    }
  } finally {
    if (tb) await testbedDown({ name: 'bq' });
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    const base = rows.find((r) => r.contender === 'qemu-direct');
    const f = (n: number | null, d = 0): string => (n === null ? '-' : n.toFixed(d));
    const pair = (a: number | null | undefined, b: number | null | undefined): string => `${f(a == null ? null : a / 1000, 2)}/${f(b == null ? null : b / 1000, 2)}`;
    const where = tb ? `${tb.paths.length} testbed path(s) at ${rate} each` : 'loopback';
    const lines = [`guest ${guest} ${memoryMiB} MiB, workload ${mode} ${workloadMiB} MiB (hot ${hotPercent} %), downtime-limit ${downtimeLimitMs} ms, ${where}, TCG`,
      `${'contender'.padEnd(26)} ${'conv'.padEnd(5)} ${'total ms'.padStart(9)} ${'down ms'.padStart(8)} ${'obs ms'.padStart(8)} ${'stream MB'.padStart(10)} ${'wire MB'.padStart(9)} ${'wire/base'.padStart(9)} ${'cpu s'.padStart(6)} ${'cores'.padStart(5)} ${'qemu s src/dst'.padStart(14)} ${'agent s src/dst'.padStart(15)}  check`];
    for (const r of rows) {
      const rel = base?.wireBytes && r.wireBytes ? (r.wireBytes / base.wireBytes).toFixed(3) : '-';
      lines.push(`${r.contender.padEnd(26)} ${String(r.converged).padEnd(5)} ${f(r.totalMs).padStart(9)} ${f(r.downtimeMs).padStart(8)} ${f(r.observedDowntimeMs, 1).padStart(8)} ` +
        `${f(r.streamBytes === null ? null : r.streamBytes / 1e6, 1).padStart(10)} ${f(r.wireBytes === null ? null : r.wireBytes / 1e6, 1).padStart(9)} ${rel.padStart(9)} ${f(r.hostCpu ? r.hostCpu.busyMs / 1000 : null, 2).padStart(6)} ${f(r.hostCpu ? r.hostCpu.busyMs / r.hostCpu.wallMs : null, 2).padStart(5)} ` +
        `${pair(r.cpuMs?.sourceQemu, r.cpuMs?.destinationQemu).padStart(14)} ${pair(r.cpuMs?.sourceAgent, r.cpuMs?.destinationAgent).padStart(15)}  ${r.check}${r.error ? ` ${r.error}` : ''}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
