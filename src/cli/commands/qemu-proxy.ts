/**
 * `livemig qemu migrate|send|receive|demo`: livemig as the proxy between two live QEMU processes
 * (src/qemu/proxy). Thin: flags in, a report out.
 */
import { LivemigError } from '../../core/errors.js';
import { getCodec } from '../../codec/index.js';
import { QmpClient, QemuMonitor } from '../../qemu/index.js';
import {
  migrateQemuViaLivemig, runQemuDemo, runQemuSender, startQemuReceiver, SWITCHOVER_BANDWIDTH_MODES, type ProxyTransportSpec, type QemuDemoReport, type SwitchoverBandwidthMode,
  type QemuProxyReport,
} from '../../qemu/proxy/index.js';
import { choiceOpt, endpointOpt, intOpt, parseFlags, type Flags } from '../args.js';
import { testbedConfig, testbedPaths } from '../transport-options.js';
import { zstdLevelOpt } from '../options.js';

export const QEMU_PROXY_HELP = `  migrate --source-qmp PATH --dest-qmp PATH [proxy options]
                                      migrate a running QEMU to a QEMU started with -incoming defer on
                                      this host, through livemig's source and destination agents
  send --source-qmp PATH --to HOST:PORT [proxy options]
                                      the source half on the source host (start 'receive' first)
  receive --dest-qmp PATH --listen HOST:PORT [--codec C] [--cache-mib N] [--xbzrle] [--transport T]
                                      the destination half: migrate-incoming on a local socket, then
                                      relay the first livemig channel into it
  demo [--guest boot-sector|linux] [--workload idle|hotset|memstress|text] [--via livemig|direct|direct-mptcp]
       [--testbed [--testbed-name N]] [--dest-ram anonymous|shared-file] [proxy options]
                                      boot two test guests (TCG), migrate one, check its memory; with
                                      --testbed the two sides run in the testbed's namespaces;
                                      shared-file puts the destination's RAM in /dev/shm (direct RAM)

Proxy options:
  --codec C                page codec (default lz4-delta); adaptive: delta blocks of zstd or lz4,
                           the share of zstd following the channel's backlog
  --transport T            tcp | mptcp | multipath (default tcp); multipath runs with strict ordering
  --paths LIST             multipath: LOCAL>REMOTE (or REMOTE) addresses, comma-separated
  --subflows N             multipath: subflows per path (default 1; demo: 2)
  --scheduler S            multipath: round-robin | least-queued | weighted
  --cache-mib N            livemig page cache (default: the guest's RAM, up to 4096; both sides must agree)
  --downtime-limit-ms N    QEMU's downtime-limit (default 300)
  --max-bandwidth B        QEMU's max-bandwidth in bytes/s (default 1e11: livemig sets the pace)
  --xbzrle                 also turn on QEMU's XBZRLE capability (both QEMUs)
  --capture FILE           record the source stream (replay it with 'livemig qemu replay')
  --first-page-codec C     codec for pages without an old version (default zstd for zstd-delta, else
                           lz4; 'none' sends them raw)
  --block-pages N          compress runs of consecutive pages as blocks of up to N pages (default 64;
                           1 = page by page; lz4, zstd, lz4-delta, zstd-delta)
  --compress-threads N     source: blocks compressing at once on libuv's thread pool (default:
                           cores - 2, at least 0 = in the agent's own thread)
  --zstd-level N           source: zstd level, 1..19 or fast -7..-1 (default 1)
  --switchover-bandwidth M source: what QEMU's downtime-limit budget counts: wire (livemig's wire
                           rate, as QEMU's compressed migrations do; default) or qemu (QEMU's own
                           estimate, in uncompressed stream bytes)
  --agent-uri URI          where the source agent listens for QEMU (default: a UNIX socket in a fresh
                           temporary directory; or tcp:HOST:PORT, unix:PATH)
  --no-direct-ram          destination: always write the stream into the destination QEMU's socket.
                           By default, when the destination's guest RAM is a shared file this host
                           can map (-object memory-backend-file,id=pc.ram,mem-path=F,share=on
                           -machine memory-backend=pc.ram), its pages are written into it directly
  --timeout-s N            give up after N seconds (default 300)
  --json                   one JSON report`;

const PROXY_FLAGS = {
  codec: { type: 'string' }, transport: { type: 'string' }, paths: { type: 'string' }, subflows: { type: 'string' },
  scheduler: { type: 'string' }, 'cache-mib': { type: 'string' }, 'downtime-limit-ms': { type: 'string' },
  'max-bandwidth': { type: 'string' }, xbzrle: { type: 'boolean' }, capture: { type: 'string' }, 'agent-uri': { type: 'string' }, 'first-page-codec': { type: 'string' }, 'block-pages': { type: 'string' }, 'compress-threads': { type: 'string' }, 'zstd-level': { type: 'string' },
  'switchover-bandwidth': { type: 'string' }, 'timeout-s': { type: 'string' }, 'no-direct-ram': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

function bad(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_INVALID_OPTION', message, { phase: 'cli' });
}

function transportSpec(v: Flags, defaultSubflows = 1): ProxyTransportSpec {
  const transport = choiceOpt(v, 'transport', ['tcp', 'mptcp', 'multipath'] as const, 'tcp');
  if (transport !== 'multipath' && (v.paths !== undefined || v.subflows !== undefined || v.scheduler !== undefined)) {
    throw bad(`--paths, --subflows and --scheduler apply to --transport multipath, not ${transport}`);
  }
  const paths = v.paths === undefined ? undefined : String(v.paths).split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const [a, b, extra] = p.split('>');
    if (extra !== undefined || !a || b === '') throw bad(`Expected --paths to be LOCAL>REMOTE or REMOTE addresses, comma-separated, got '${String(v.paths)}'`);
    return b === undefined ? { remote: a } : { local: a, remote: b };
  });
  return {
    transport, paths, subflows: intOpt(v, 'subflows', transport === 'multipath' ? defaultSubflows : 1, 1, 64),
    scheduler: choiceOpt(v, 'scheduler', ['round-robin', 'least-queued', 'weighted'] as const, 'least-queued'),
  };
}

function common(v: Flags): {
  codec: string; cacheBytes: number | undefined; downtimeLimitMs: number; maxBandwidthBytesPerSec: number; capabilities: { xbzrle: true } | undefined;
  capturePath: string | undefined; agentUri: string | undefined; timeoutMs: number; firstPageCodec: string | undefined; blockPages: number | undefined; compressThreads: number | undefined; zstdLevel: number | undefined;
  switchoverBandwidth: SwitchoverBandwidthMode; directRam: boolean;
} {
  const codec = typeof v.codec === 'string' ? v.codec : 'lz4-delta';
  getCodec(codec); // unknown names fail here, before QEMU is touched
  const bw = v['max-bandwidth'] === undefined ? 100_000_000_000 : Number(v['max-bandwidth']);
  if (!Number.isSafeInteger(bw) || bw < 1) throw bad(`Expected --max-bandwidth to be a positive integer number of bytes/s, got '${String(v['max-bandwidth'])}'`);
  return {
    codec,
    // Unset: each agent sizes its cache from its own QEMU's RAM (both sides have the same).
    cacheBytes: v['cache-mib'] === undefined ? undefined : intOpt(v, 'cache-mib', 64, 1, 65536) * 1024 * 1024,
    downtimeLimitMs: intOpt(v, 'downtime-limit-ms', 300, 1, 2_000_000),
    maxBandwidthBytesPerSec: bw,
    capabilities: v.xbzrle === true ? { xbzrle: true } : undefined,
    capturePath: typeof v.capture === 'string' ? v.capture : undefined,
    agentUri: typeof v['agent-uri'] === 'string' ? v['agent-uri'] : undefined,
    firstPageCodec: typeof v['first-page-codec'] === 'string' ? v['first-page-codec'] : undefined,
    blockPages: v['block-pages'] === undefined ? undefined : intOpt(v, 'block-pages', 64, 1, 64),
    compressThreads: v['compress-threads'] === undefined ? undefined : intOpt(v, 'compress-threads', 1, 0, 64),
    zstdLevel: v['zstd-level'] === undefined ? undefined : zstdLevelOpt(v),
    switchoverBandwidth: choiceOpt(v, 'switchover-bandwidth', SWITCHOVER_BANDWIDTH_MODES, 'wire'),
    timeoutMs: intOpt(v, 'timeout-s', 300, 1, 86_400) * 1000,
    directRam: v['no-direct-ram'] !== true,
  };
}

function requireString(v: Flags, flag: string): string {
  const s = v[flag];
  if (typeof s !== 'string' || s === '') throw bad(`Expected --${flag} PATH`);
  return s;
}

async function monitorAt(path: string): Promise<QemuMonitor> {
  return new QemuMonitor(await QmpClient.connect(path, { timeoutMs: 10_000 }));
}

/** Runs one of migrate/send/receive/demo; returns the exit code. */
export async function qemuProxyCommand(sub: 'migrate' | 'send' | 'receive' | 'demo', argv: string[], help: string): Promise<number> {
  const extra = sub === 'demo'
    ? { guest: { type: 'string' }, workload: { type: 'string' }, via: { type: 'string' }, testbed: { type: 'boolean' }, 'testbed-name': { type: 'string' }, 'dest-ram': { type: 'string' } }
    : sub === 'migrate' ? { 'source-qmp': { type: 'string' }, 'dest-qmp': { type: 'string' } }
      : sub === 'send' ? { 'source-qmp': { type: 'string' }, to: { type: 'string' } }
        : { 'dest-qmp': { type: 'string' }, listen: { type: 'string' } };
  const v = parseFlags(argv, { ...PROXY_FLAGS, ...extra } as unknown as Parameters<typeof parseFlags>[1]);
  if (v.help) {
    process.stdout.write(help + '\n');
    return 0;
  }
  const json = v.json === true;
  const c = common(v);
  if (sub === 'demo') {
    const tb = v.testbed === true ? await testbedConfig(v['testbed-name'] as string | undefined) : undefined;
    const transport = transportSpec(v, 2);
    // In the testbed, multipath uses one subflow per testbed path unless --paths says otherwise.
    if (tb && transport.transport === 'multipath' && !transport.paths) {
      transport.paths = testbedPaths(tb);
      if (v.subflows === undefined) transport.subflows = 1;
    }
    const r = await runQemuDemo({
      ...c, transport, testbed: tb,
      guest: choiceOpt(v, 'guest', ['boot-sector', 'linux'] as const, 'boot-sector'),
      workload: { mode: choiceOpt(v, 'workload', ['idle', 'hotset', 'memstress', 'text'] as const, 'hotset') },
      via: choiceOpt(v, 'via', ['livemig', 'direct', 'direct-mptcp'] as const, 'livemig'),
      destRam: choiceOpt(v, 'dest-ram', ['anonymous', 'shared-file'] as const, 'anonymous'),
    });
    process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n' : formatDemo(r));
    return r.ok ? 0 : 1;
  }
  if (sub === 'migrate') {
    const [src, dst] = await Promise.all([monitorAt(requireString(v, 'source-qmp')), monitorAt(requireString(v, 'dest-qmp'))]);
    try {
      const r = await migrateQemuViaLivemig(src, dst, { ...c, transport: transportSpec(v) });
      process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n' : formatReport(r));
      return 0;
    } finally {
      src.client.close();
      dst.client.close();
    }
  }
  if (sub === 'send') {
    if (v['no-direct-ram'] === true) throw bad('--no-direct-ram is a destination option (receive, migrate, demo), not one of send');
    const to = endpointOpt(v.to as string | undefined, 'to', true)!;
    const src = await monitorAt(requireString(v, 'source-qmp'));
    try {
      const r = await runQemuSender(src, { ...c, to, transport: transportSpec(v) });
      const out = { status: 'completed', qemu: r.info, livemig: r.livemig, stopUs: r.stopUs, processCpuMs: ownCpuMs() };
      process.stdout.write(json ? JSON.stringify(out, null, 2) + '\n'
        : `source QEMU: migration completed, total ${r.info['total-time']} ms, downtime ${r.info.downtime} ms; ` +
          `livemig sent ${r.livemig.wireBytes} wire bytes for ${r.livemig.streamBytes} stream bytes (${r.livemig.wireRatio.toFixed(3)}); ` +
          `this agent used ${(out.processCpuMs / 1000).toFixed(2)} CPU-s\n`);
      return 0;
    } finally {
      src.client.close();
    }
  }
  const listen = endpointOpt(v.listen as string | undefined, 'listen', true)!;
  const dst = await monitorAt(requireString(v, 'dest-qmp'));
  try {
    const receiver = await startQemuReceiver(dst, { listen, transport: transportSpec(v), codec: c.codec, cacheBytes: c.cacheBytes, capabilities: c.capabilities, directRam: c.directRam });
    process.stderr.write(`livemig: listening on ${receiver.address.host}:${receiver.address.port}\n`);
    const r = await receiver.done;
    const cpuMs = ownCpuMs();
    process.stdout.write(json ? JSON.stringify({ ...r, status: 'completed', destinationStatus: r.status, processCpuMs: cpuMs }, null, 2) + '\n'
      : `destination QEMU: ${r.status}; wrote ${r.agent.streamBytes} stream bytes from ${r.agent.frames} frames (${r.agent.frameBytes} bytes); ` +
        `direct RAM: ${r.agent.directRam ? `${r.agent.directRam.pages + r.agent.directRam.zeroPages + r.agent.directRam.xbzrlePages} pages (${r.agent.directRam.bytes} bytes), ` : ''}${r.directRamNote}; ` +
        `this agent used ${(cpuMs / 1000).toFixed(2)} CPU-s\n`);
    return 0;
  } finally {
    dst.client.close();
  }
}

/** This agent process's CPU (user + system) from its start, ms: what one side of a migration cost. */
function ownCpuMs(): number {
  const u = process.cpuUsage();
  return Math.round((u.user + u.system) / 1000);
}

function formatReport(r: QemuProxyReport): string {
  const q = r.qemu;
  const l = r.livemig;
  const rows: Array<[string, string, string]> = [
    ['total time', `${q['total-time']} ms`, `${l.encoder.frames} frames`],
    ['downtime', `${q.downtime} ms`, `observed (STOP→RESUME) ${r.observedDowntimeMs?.toFixed(1) ?? '?'} ms`],
    ['bytes', `${q.transferred} stream`, `${l.wireBytes} wire (${l.wireRatio.toFixed(3)} of the stream)`],
    ['pages', `${q.normal} normal / ${q.duplicate} zero`, `${l.encoder.pages} via ${l.codec}, ${l.encoder.verbatim} verbatim`],
    ['dirty syncs / rate', `${q['dirty-sync-count']} / ${q.mbps?.toFixed(0)} Mbit/s`, `${l.pauses} pauses (${l.pausedMs} ms), peak ${l.peakBufferedBytes} B buffered`],
    ['paths', '', l.paths.map((p) => `${p.label} ${p.bytesSent} B`).join('; ')],
    ['direct RAM', '', l.directRam ? `${l.directRam.pages} pages, ${l.directRam.zeroPages} zero (${l.directRam.bytes} stream bytes), ${l.directRamNote}` : (l.directRamNote ?? '')],
  ];
  const lines = [`migration ${r.status}; destination ${r.destination.status}; transport ${l.transport}`, `${''.padEnd(20)} ${'QEMU'.padEnd(34)} livemig`];
  for (const [a, b, c] of rows) lines.push(`${a.padEnd(20)} ${b.padEnd(34)} ${c}`);
  if (l.blend) lines.push(`adaptive: zstd for ${(l.blend.zstdShare * 100).toFixed(0)} % of the blocks at the end (mean ${(l.blend.meanZstdShare * 100).toFixed(0)} %, ${l.encoder.zstdBlocks} zstd / ${l.encoder.lz4Blocks} lz4 blocks), following the channel's backlog`);
  if (l.passthroughReason) lines.push(`pass-through after the RAM sections: ${l.passthroughReason}`);
  if (l.capturePath) lines.push(`capture: ${l.capturePath}`);
  return lines.join('\n') + '\n';
}

function formatDemo(r: QemuDemoReport): string {
  const check = r.check.kind === 'boot-sector'
    ? `guest RAM check: ${r.check.pages} pages, ${r.check.bad} bad, ${r.check.edges} edge`
    : `in-guest workload: errors ${r.check.errors}, pass ${r.check.passBefore} → ${r.check.passAfter}`;
  const body = r.report.livemig
    ? formatReport(r.report as QemuProxyReport)
    : `direct QEMU migration: total ${r.report.qemu['total-time']} ms, downtime ${r.report.qemu.downtime} ms ` +
      `(observed ${r.report.observedDowntimeMs?.toFixed(1) ?? '?'} ms), ${r.report.qemu.transferred} bytes\n`;
  const s = (ms: number | null | undefined): string => (ms == null ? '?' : `${(ms / 1000).toFixed(2)} s`);
  const agents = r.report.livemig ? (r.report as QemuProxyReport).agentsCpuMs : null;
  const cpu = `CPU during the migration: host ${s(r.hostCpu?.busyMs)}, source QEMU ${s(r.qemuCpuMs.source)}, destination QEMU ${s(r.qemuCpuMs.destination)}` +
    (agents ? `; agent processes (start to end) source ${s(agents.source)}, destination ${s(agents.destination)}` : '');
  return `${r.guest} guest booted in ${r.bootMs} ms, migrated ${r.via}\n${body}${check}\n${cpu}\n${r.ok ? 'OK' : 'FAILED'}\n`;
}
