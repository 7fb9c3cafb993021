/**
 * Real QEMU guests migrated on this host (TCG), QEMU's own migration against livemig as a proxy,
 * with the same guest, workload and QEMU parameters (max-bandwidth unlimited, same downtime-limit).
 * Baseline: QEMU direct over TCP, measured in the same run.
 *
 * | contender             | how                                                        |
 * |-----------------------|------------------------------------------------------------|
 * | qemu-direct           | QEMU → QEMU, tcp:127.0.0.1 (baseline)                      |
 * | qemu-xbzrle           | same, with QEMU's xbzrle capability                        |
 * | qemu-mptcp            | same, `tcp:…,mptcp` sockets on both QEMUs                  |
 * | livemig-lz4d-1path    | through livemig's agents, lz4-delta, tcp channel           |
 * | livemig-lz4d-2paths   | lz4-delta, multipath (strict ordering), two subflows       |
 * | livemig-xbzrle-1path  | xbzrle codec, tcp channel                                  |
 *
 * Per run: QEMU's total time and downtime, the observed downtime (source STOP → destination
 * RESUME), bytes on the wire (QEMU's transferred for direct runs, livemig's frame bytes
 * otherwise), converged or not (within --timeout-s), and the in-guest check.
 *
 * Run: `livemig bench qemu [--guest linux|boot-sector] [--workload idle|hotset] [--downtime-limit-ms N]
 *       [--timeout-s N] [--only a,b] [--json]`. Loopback only (the testbed paths are not used yet).
 */
import { pathToFileURL } from 'node:url';
import { isLivemigError } from '../src/core/errors.js';
import { runQemuDemo, type QemuDemoOptions } from '../src/qemu/proxy/index.js';

/** One measured row. */
export interface QemuBenchRow {
  contender: string;
  converged: boolean;
  totalMs: number | null;
  downtimeMs: number | null;
  observedDowntimeMs: number | null;
  /** Bytes QEMU wrote into its socket. */
  streamBytes: number | null;
  /** Bytes on the wire: QEMU's for direct runs, livemig's channel bytes otherwise. */
  wireBytes: number | null;
  check: string;
  ok: boolean;
  error?: string;
}

const CONTENDERS: Record<string, Partial<QemuDemoOptions>> = {
  'qemu-direct': { via: 'direct' },
  'qemu-xbzrle': { via: 'direct', capabilities: { xbzrle: true } },
  'qemu-mptcp': { via: 'direct-mptcp' },
  'livemig-lz4d-1path': { via: 'livemig', codec: 'lz4-delta', transport: { transport: 'tcp' } },
  'livemig-lz4d-2paths': { via: 'livemig', codec: 'lz4-delta', transport: { transport: 'multipath', subflows: 2 } },
  'livemig-xbzrle-1path': { via: 'livemig', codec: 'xbzrle', transport: { transport: 'tcp' } },
};

function arg(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

export async function main(argv: string[]): Promise<QemuBenchRow[]> {
  const json = argv.includes('--json');
  const guest = (arg(argv, 'guest') ?? 'linux') as 'linux' | 'boot-sector';
  const mode = (arg(argv, 'workload') ?? 'hotset') as 'idle' | 'hotset';
  const downtimeLimitMs = Number(arg(argv, 'downtime-limit-ms') ?? 300);
  const timeoutMs = Number(arg(argv, 'timeout-s') ?? 120) * 1000;
  const only = arg(argv, 'only')?.split(',');
  const rows: QemuBenchRow[] = [];
  for (const [name, c] of Object.entries(CONTENDERS)) {
    if (only && !only.includes(name)) continue;
    try {
      const r = await runQemuDemo({ guest, workload: { mode, mib: 48, hotPercent: 25 }, downtimeLimitMs, timeoutMs, ...c });
      const q = r.report.qemu;
      rows.push({
        contender: name, converged: true, totalMs: q['total-time'], downtimeMs: q.downtime, observedDowntimeMs: r.report.observedDowntimeMs,
        streamBytes: q.transferred, wireBytes: r.report.livemig ? r.report.livemig.wireBytes : q.transferred,
        check: r.check.kind === 'linux' ? `errors=${r.check.errors}` : `bad=${r.check.bad}`, ok: r.ok,
      });
    } catch (err) {
      rows.push({
        contender: name, converged: false, totalMs: null, downtimeMs: null, observedDowntimeMs: null, streamBytes: null,
        wireBytes: null, check: '-', ok: false, error: `${isLivemigError(err) ? err.code : ''} ${(err as Error).message}`.slice(0, 300),
      });
    }
    if (!json) process.stderr.write(`${name}: ${JSON.stringify(rows.at(-1))}\n`);
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    const base = rows.find((r) => r.contender === 'qemu-direct');
    const f = (n: number | null, d = 0): string => (n === null ? '-' : n.toFixed(d));
    const lines = [`guest ${guest}, workload ${mode}, downtime-limit ${downtimeLimitMs} ms, loopback, TCG`,
      `${'contender'.padEnd(22)} ${'conv'.padEnd(5)} ${'total ms'.padStart(9)} ${'down ms'.padStart(8)} ${'obs ms'.padStart(8)} ${'stream MB'.padStart(10)} ${'wire MB'.padStart(9)} ${'wire/base'.padStart(9)}  check`];
    for (const r of rows) {
      const rel = base?.wireBytes && r.wireBytes ? (r.wireBytes / base.wireBytes).toFixed(3) : '-';
      lines.push(`${r.contender.padEnd(22)} ${String(r.converged).padEnd(5)} ${f(r.totalMs).padStart(9)} ${f(r.downtimeMs).padStart(8)} ${f(r.observedDowntimeMs, 1).padStart(8)} ` +
        `${f(r.streamBytes === null ? null : r.streamBytes / 1e6, 1).padStart(10)} ${f(r.wireBytes === null ? null : r.wireBytes / 1e6, 1).padStart(9)} ${rel.padStart(9)}  ${r.check}${r.error ? ` ${r.error}` : ''}`);
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
