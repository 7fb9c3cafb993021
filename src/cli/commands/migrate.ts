import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LivemigError, stderrLogger } from '../../core/index.js';
import { DEFAULT_BLOCK_PAGES, type MigrationReport } from '../../engine/index.js';
import { COMMON_OPTIONS, SOURCE_OPTIONS, sourceConfig } from '../options.js';
import { buildSourceGuest, migrateOver, printReport } from '../source-side.js';
import { parseFlags } from '../args.js';
import { TRANSPORT_HELP, TRANSPORT_OPTIONS, connectChannel, securityArgs, testbedConfig, testbedPaths, transportConfig, type TransportConfig } from '../transport-options.js';

export const MIGRATE_OPTIONS_HELP = `
Guest:
  --guest-mib N            guest memory in MiB (default 512)
  --workload W             idle | hotset | memstress | qemu-test | zipf (default hotset)
  --hot-percent P          hot set share for hotset (default 10)
  --dirty-rate N           page writes per second (default: per workload)
  --seed N                 content and workload seed (default 1)
  --image FILE             migrate a memory image file instead (no workload)
  --warmup-ms N            let the workload run before migrating (default 1000)
Pre-copy:
  --codec C                none | lz4 | xbzrle | lz4-delta | adaptive | zstd | zstd-delta
                           (adaptive: per round, the codec plan that finishes soonest at the
                           measured link and codec rates; the report says why, per round)
                           (default lz4-delta)
  --zstd-level N           zstd level, 1..19 or fast -7..-1 (default 1)
  --cache-mib N            source page cache size (default 64)
  --cache-policy P         2way | direct (default 2way)
  --downtime-limit-ms N    longest acceptable pause, end to end (default 300)
  --max-bandwidth B        cap the rate, e.g. 125MB (bytes/s; default unlimited)
  --max-rounds N           rounds before --on-limit applies (default 30)
  --max-time-s N           pre-copy seconds before --on-limit applies (default 600)
  --on-limit force|abort   complete with a longer downtime, or give up (default force)
  --no-auto-converge       never throttle the workload
  --compress-threads N     page-encoding worker threads; 1 = inline on the main thread (default 1)
  --block-pages N          compress up to N consecutive pages together (lz4 and zstd families;
                           1 = page by page, max 64; default ${DEFAULT_BLOCK_PAGES})
  --verify pages|full      pages: compare digests of per-page hashes taken as pages are
                           sent and applied; full: also rehash all memory on both sides
                           during the downtime (default pages)
Output:
  --json                   one JSON report on stdout; progress on stderr
  -v, --verbose            per-round log on stderr
${TRANSPORT_HELP}`;

export const MIGRATE_HELP = `livemig migrate [options]

Live-migrates a running synthetic guest between two processes on this machine over TCP loopback:
this process is the source, a child 'livemig receive' the destination. With no options: a 512 MiB
hotset guest, lz4-delta. Downtime is measured end to end, from the source pause to the destination
resume.
${MIGRATE_OPTIONS_HELP}`;

/** `livemig migrate`: source here, destination in a child process, over loopback or the testbed. */
export async function migrateCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON_OPTIONS, ...SOURCE_OPTIONS, ...TRANSPORT_OPTIONS, fault: { type: 'string' } });
  if (values.help) {
    process.stdout.write(MIGRATE_HELP + '\n');
    return 0;
  }
  const cfg = sourceConfig(values);
  const tcfg = transportConfig(values);
  const json = values.json === true;
  const log = stderrLogger(values.verbose === true);
  const tb = tcfg.testbed ? await testbedConfig(tcfg.testbedName) : null;
  // In the testbed this process re-runs itself inside the source namespace: sockets belong to the
  // namespace of the process that opens them.
  if (tb && process.env.LIVEMIG_NETNS !== tb.srcNs) return reexecIn(tb.srcNs, argv);
  if (tb && tcfg.transport === 'multipath' && !tcfg.paths) tcfg.paths = testbedPaths(tb);
  const { child, port, lines } = await startReceiver(values.fault as string | undefined, tcfg, tb?.dstNs);
  let report: MigrationReport | null = null;
  const guest = await buildSourceGuest(cfg, log);
  try {
    const host = tb ? tb.paths[0].dstAddr : '127.0.0.1';
    const channel = await connectChannel(tcfg, { host, port });
    report = await migrateOver(cfg, guest, channel, { json, verbose: values.verbose === true });
  } finally {
    await guest.close();
    const code = await exitOf(child);
    const dest = lines.map((l) => safeJson(l)).find((x) => x !== null) ?? null;
    if (report) {
      report.destination = { 'exit-code': code, ...(dest ?? {}) };
      printReport(report, json);
    }
  }
  return report!.verified && report!['self-check']?.ok !== false ? 0 : 1;
}

/** Runs this same command again inside network namespace `ns` and returns its exit code. */
function reexecIn(ns: string, argv: string[]): Promise<number> {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, main, 'migrate', ...argv], {
    stdio: 'inherit', env: { ...process.env, LIVEMIG_NETNS: ns },
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

/**
 * Starts `livemig receive --once` on an ephemeral port (in namespace `netns` if given) and waits
 * until it listens.
 */
async function startReceiver(fault: string | undefined, t: TransportConfig, netns: string | undefined): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const listen = netns ? '0.0.0.0:0' : '127.0.0.1:0';
  const args = [main, 'receive', '--listen', listen, '--once', '--json', '--transport', t.transport, ...securityArgs(t), ...(fault ? ['--fault', fault] : [])];
  const [cmd, cmdArgs] = netns ? ['ip', ['netns', 'exec', netns, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { listening?: { port: number } }) => (m.listening ? resolve(m.listening.port) : reject(new Error('bad message'))));
    child.once('exit', (code) => reject(new LivemigError('LIVEMIG_E_PEER_CRASHED', `The destination process exited with code ${code} before listening`)));
  });
  return { child, port, lines };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

function safeJson(line: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(line);
    return typeof v === 'object' && v !== null ? v : null;
  } catch {
    return null;
  }
}
