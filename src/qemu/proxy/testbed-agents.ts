/**
 * Runs livemig's two agents in the testbed's namespaces, as the two-host form would on two hosts:
 * `livemig qemu receive` in the destination namespace and `livemig qemu send` in the source one,
 * each a child process, so that the channel crosses the shaped veth paths. Sockets belong to the
 * namespace of the process that opens them, which is why this cannot run in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LivemigError } from '../../core/errors.js';
import type { TestbedConfig } from '../../testbed/index.js';
import type { MigrationInfo } from '../qmp/commands.js';
import type { DirectRamStats } from '../stream/direct-ram.js';
import type { QemuProxyMigrateOptions } from './orchestrator.js';
import { qemuFigures, type LivemigFigures, type QemuProxyReport } from './report.js';

/** One agent child: its exit, its stdout, and the tail of its stderr. */
interface AgentChild {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startAgent(ns: string, args: string[]): AgentChild {
  const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, main, 'qemu', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8192)));
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', () => resolve(-1));
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** The CLI flags both agents must agree on, from the migrate options. */
function pipelineArgs(o: QemuProxyMigrateOptions): string[] {
  const t = o.transport ?? {};
  return [
    '--codec', o.codec ?? 'lz4-delta',
    ...(o.cacheBytes === undefined ? [] : ['--cache-mib', String(Math.round(o.cacheBytes / (1024 * 1024)))]),
    '--transport', t.transport ?? 'tcp',
    ...(o.capabilities?.xbzrle ? ['--xbzrle'] : []),
  ];
}

function parseJson(text: string, who: string): Record<string, unknown> {
  const start = text.indexOf('{');
  try {
    return JSON.parse(text.slice(start)) as Record<string, unknown>;
  } catch {
    throw new LivemigError('LIVEMIG_E_PEER_CRASHED', `${who} printed no JSON report: ${JSON.stringify(text.slice(-300))}`, { phase: 'precopy' });
  }
}

/**
 * Migrates the QEMU behind `sourceQmp` (running in the testbed's source namespace) to the one behind
 * `destQmp` (destination namespace, `-incoming defer`) through agents in those namespaces. The QMP
 * paths must be free sockets: QEMU serves one client per socket, so give each VM a second `-qmp`.
 */
export async function migrateQemuInTestbed(sourceQmp: string, destQmp: string, tb: TestbedConfig, opts: QemuProxyMigrateOptions = {}): Promise<QemuProxyReport> {
  const t = opts.transport ?? {};
  const recv = startAgent(tb.dstNs, ['receive', '--dest-qmp', destQmp, '--listen', '0.0.0.0:0', '--json', ...pipelineArgs(opts), ...(opts.directRam === false ? ['--no-direct-ram'] : [])]);
  let send: AgentChild | null = null;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on [^\s]+:(\d+)/.exec(recv.stderr());
        if (m) {
          clearInterval(timer);
          resolve(Number(m[1]));
        }
      }, 20);
      void recv.exited.then((code) => {
        clearInterval(timer);
        reject(new LivemigError('LIVEMIG_E_PEER_CRASHED', `livemig qemu receive exited (${code}) before listening: ${recv.stderr().trim()}`, { phase: 'precopy' }));
      });
    });
    const multipath = t.transport === 'multipath'
      ? ['--paths', (t.paths ?? tb.paths.map((p) => ({ local: p.srcAddr, remote: p.dstAddr }))).map((p) => (p.local ? `${p.local}>${p.remote}` : p.remote)).join(','),
        '--subflows', String(t.subflows ?? 1), '--scheduler', t.scheduler ?? 'least-queued']
      : [];
    send = startAgent(tb.srcNs, [
      'send', '--source-qmp', sourceQmp, '--to', `${tb.paths[0].dstAddr}:${port}`, '--json', ...pipelineArgs(opts), ...multipath,
      '--downtime-limit-ms', String(opts.downtimeLimitMs ?? 300),
      '--max-bandwidth', String(opts.maxBandwidthBytesPerSec ?? 100_000_000_000),
      '--timeout-s', String(Math.ceil((opts.timeoutMs ?? 300_000) / 1000)),
      ...(opts.firstPageCodec ? ['--first-page-codec', opts.firstPageCodec] : []),
      ...(opts.blockPages !== undefined ? ['--block-pages', String(opts.blockPages)] : []),
      ...(opts.compressThreads !== undefined ? ['--compress-threads', String(opts.compressThreads)] : []),
      ...(opts.zstdLevel !== undefined ? ['--zstd-level', String(opts.zstdLevel)] : []),
      '--switchover-bandwidth', opts.switchoverBandwidth ?? 'wire',
    ]);
    const [sendCode, recvCode] = await Promise.all([send.exited, recv.exited]);
    if (sendCode !== 0) throw new LivemigError('LIVEMIG_E_PEER_CRASHED', `livemig qemu send exited ${sendCode}: ${send.stderr().trim().slice(-600)}`, { phase: 'precopy' });
    if (recvCode !== 0) throw new LivemigError('LIVEMIG_E_PEER_CRASHED', `livemig qemu receive exited ${recvCode}: ${recv.stderr().trim().slice(-600)}`, { phase: 'precopy' });
    const sent = parseJson(send.stdout(), 'livemig qemu send') as { qemu: MigrationInfo; livemig: LivemigFigures; stopUs: number | null; processCpuMs?: number };
    const got = parseJson(recv.stdout(), 'livemig qemu receive') as {
      agent: { streamBytes: number; directRam: DirectRamStats | null }; directRamNote: string; destinationStatus: string; resumeUs: number | null; processCpuMs?: number;
    };
    return {
      status: 'completed',
      qemu: qemuFigures(sent.qemu),
      livemig: { ...sent.livemig, destinationStreamBytes: got.agent.streamBytes, directRam: got.agent.directRam, directRamNote: got.directRamNote },
      // Both timestamps are QMP host times on this one host.
      observedDowntimeMs: sent.stopUs !== null && got.resumeUs !== null ? (got.resumeUs - sent.stopUs) / 1000 : null,
      destination: { status: got.destinationStatus },
      agentsCpuMs: { source: sent.processCpuMs ?? null, destination: got.processCpuMs ?? null },
    };
  } finally {
    for (const c of [send, recv]) if (c && c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
}
