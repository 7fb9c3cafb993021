/**
 * `livemig qemu demo`: boots two test guests on this host (TCG), migrates the running one through
 * livemig (or directly, QEMU to QEMU, as a baseline), checks the destination's memory and returns
 * the report. The QEMU counterpart of `livemig migrate`.
 *
 * Checks: boot-sector guest → pmemsave of its test range + checkGuestRam (0 bad pages);
 * Linux guest → the in-guest workload's error count stays 0 and its pass count moves on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LivemigError } from '../../core/errors.js';
import { processCpuMs, startHostCpuSpan } from '../../core/host-cpu.js';
import { buildBootSectorGuest, buildLinuxGuest } from '../guests/build.js';
import { checkGuestRam } from '../guests/check-guest-ram.js';
import { ensureQemu } from '../guests/setup.js';
import { linuxGuestAppend, parseWorkloadLines, type WorkloadMode } from '../guests/workload-log.js';
import type { MigrationInfo, MigrationParameters } from '../qmp/commands.js';
import type { TestbedConfig } from '../../testbed/index.js';
import { migrateQemuInTestbed } from './testbed-agents.js';
import { QemuVm, type QemuGuestSpec } from '../vm.js';
import { migrateQemuViaLivemig, type QemuProxyMigrateOptions } from './orchestrator.js';
import { qemuFigures, type QemuFigures, type QemuProxyReport } from './report.js';

/** Options of runQemuDemo. */
export interface QemuDemoOptions extends QemuProxyMigrateOptions {
  /** @default 'boot-sector' */
  guest?: 'boot-sector' | 'linux';
  /** Guest RAM, MiB, @default 128 */
  memoryMiB?: number;
  /** Linux guest workload, @default { mode: 'hotset', mib: 48, hotPercent: 25 } */
  workload?: { mode?: WorkloadMode; mib?: number; hotPercent?: number; pagesPerSec?: number };
  /**
   * 'livemig' (through the agents) or a direct QEMU→QEMU baseline: 'direct' over TCP, 'direct-mptcp'
   * with QEMU's own MPTCP sockets. @default 'livemig'
   */
  via?: 'livemig' | 'direct' | 'direct-mptcp';
  /** Called once the destination QEMU is up and before migrating (tests use it to inject faults). */
  beforeMigrate?: (vms: { src: QemuVm; dst: QemuVm; runDir: string }) => void | Promise<void>;
  /** Keep the run directory (serial logs), @default false */
  keepRunDir?: boolean;
  /**
   * Run in this testbed (`livemig testbed up`): the source QEMU and agent in its source namespace,
   * the destination's in its destination namespace, so every byte crosses the shaped paths.
   * @default none (loopback)
   */
  testbed?: TestbedConfig;
  /** Also set these parameters on the destination QEMU (multifd channels and compression must match). */
  destParameters?: MigrationParameters;
  /**
   * 'shared-file': the destination QEMU's guest RAM is a shared, preallocated file in /dev/shm (the
   * layout livemig's destination agent writes into directly; preallocated so that neither QEMU nor
   * the agent takes its page faults during the migration); 'anonymous': QEMU's own. @default 'anonymous'
   */
  destRam?: 'anonymous' | 'shared-file';
}

/** What the destination's check found. */
export type QemuDemoCheck =
  | { kind: 'boot-sector'; pages: number; bad: number; edges: number; firstBad: number[] }
  | { kind: 'linux'; errors: number; passBefore: number; passAfter: number; lines: number };

/** The demo's result. */
export interface QemuDemoReport {
  guest: 'boot-sector' | 'linux';
  via: 'livemig' | 'direct' | 'direct-mptcp';
  /** Source boot until the guest ran its workload, ms. */
  bootMs: number;
  /** The migration report (for direct runs only `qemu` and `observedDowntimeMs` are filled). */
  report: QemuProxyReport | { status: 'completed'; qemu: QemuFigures; livemig: null; observedDowntimeMs: number | null; destination: { status: string } };
  check: QemuDemoCheck;
  /**
   * CPU the whole host spent busy (every process, kernel included) from the migrate call until the
   * destination ran, and that span's wall time, ms; livemig's agents start within it. Null off Linux.
   */
  hostCpu: { busyMs: number; wallMs: number } | null;
  /**
   * CPU (user + system) of the two QEMU processes over the same span, ms (guest and migration
   * threads together); null where /proc cannot tell.
   */
  qemuCpuMs: { source: number | null; destination: number | null };
  /** True when the destination runs and the check passed. */
  ok: boolean;
  runDir: string | null;
}

/** Boots the pair, migrates, checks, tears everything down (also on failure). */
export async function runQemuDemo(opts: QemuDemoOptions = {}): Promise<QemuDemoReport> {
  const kind = opts.guest ?? 'boot-sector';
  const via = opts.via ?? 'livemig';
  const memoryMiB = opts.memoryMiB ?? 128;
  const { qemuBinary, kernelPath } = ensureQemu();
  let guest: QemuGuestSpec;
  let range: { start: number; end: number } | null = null;
  if (kind === 'boot-sector') {
    const g = buildBootSectorGuest({ endMiB: 48 });
    guest = { kind: 'boot-sector', imagePath: g.imagePath };
    range = { start: g.startAddr, end: g.endAddr };
  } else {
    const g = buildLinuxGuest({ bzImagePath: kernelPath });
    const w = opts.workload ?? {};
    guest = { kind: 'linux', kernelPath: g.kernelPath, initrdPath: g.initrdPath, append: linuxGuestAppend({ mode: w.mode ?? 'hotset', mib: w.mib ?? 48, hotPercent: w.hotPercent ?? 25, pagesPerSec: w.pagesPerSec }) };
  }
  const runDir = mkdtempSync(join(tmpdir(), 'livemig-qemu-demo-'));
  const vms: QemuVm[] = [];
  let ramFile: string | null = null;
  try {
    const t0 = Date.now();
    const tb = opts.testbed;
    // In the testbed the agents are child processes with their own QMP sessions: a second socket each.
    const agentQmp = (name: string) => (tb && via === 'livemig' ? ['-qmp', `unix:${join(runDir, `${name}-agent.qmp`)},server=on,wait=off`] : []);
    const src = await QemuVm.launch({ guest, memoryMiB, runDir, name: 'src', qemuBinary, netns: tb?.srcNs, extraArgs: agentQmp('src') });
    vms.push(src);
    // Any status line from t=2 on (under load the guest may skip a second).
    await src.waitForSerial(kind === 'boot-sector' ? /AB/ : /LMW t=([2-9]|\d{2,}) /, { timeoutMs: 180_000 });
    const bootMs = Date.now() - t0;
    const ramArgs = opts.destRam === 'shared-file' ? sharedRamArgs(memoryMiB, (ramFile = join('/dev/shm', `${basename(runDir)}-dst.ram`))) : [];
    const dst = await QemuVm.launch({ guest, memoryMiB, runDir, name: 'dst', qemuBinary, incoming: true, netns: tb?.dstNs, extraArgs: [...agentQmp('dst'), ...ramArgs] });
    vms.push(dst);
    await opts.beforeMigrate?.({ src, dst, runDir });
    const before = kind === 'linux' ? parseWorkloadLines(src.readSerial()).at(-1) : undefined;

    let report: QemuDemoReport['report'];
    const cpu = startHostCpuSpan();
    const qemuCpu = (vm: QemuVm): number | null => (vm.pid === undefined ? null : processCpuMs(vm.pid));
    const qemuCpu0 = [src, dst].map(qemuCpu);
    if (via === 'livemig' && tb) {
      report = await migrateQemuInTestbed(join(runDir, 'src-agent.qmp'), join(runDir, 'dst-agent.qmp'), tb, opts);
    } else if (via === 'livemig') {
      report = await migrateQemuViaLivemig(src.monitor, dst.monitor, opts);
    } else {
      report = await migrateDirect(src, dst, via === 'direct-mptcp', opts);
    }
    const hostCpu = cpu.end();
    const [srcCpu, dstCpu] = [src, dst].map((vm, i) => {
      const now = qemuCpu(vm);
      const before = qemuCpu0[i];
      return now === null || before === null ? null : now - before;
    });
    const check = await checkDestination(dst, kind, range, runDir, before?.pass ?? 0);
    const ok = report.destination.status === 'running' && (check.kind === 'boot-sector' ? check.bad === 0 && check.edges <= 1 : check.errors === 0 && check.passAfter > check.passBefore);
    return { guest: kind, via, bootMs, report, check, hostCpu, qemuCpuMs: { source: srcCpu, destination: dstCpu }, ok, runDir: opts.keepRunDir ? runDir : null };
  } finally {
    await Promise.all(vms.map((vm) => vm.shutdown().catch(() => undefined)));
    if (!opts.keepRunDir) rmSync(runDir, { recursive: true, force: true });
    if (ramFile) rmSync(ramFile, { force: true });
  }
}

/** Guest RAM in a shared, preallocated file, named `pc.ram` as the RAM of a QEMU started with plain `-m` is. */
function sharedRamArgs(memoryMiB: number, file: string): string[] {
  return ['-object', `memory-backend-file,id=pc.ram,size=${memoryMiB}M,mem-path=${file},share=on,prealloc=on`, '-machine', 'memory-backend=pc.ram'];
}

/**
 * The baseline: QEMU to QEMU over TCP (or QEMU's MPTCP), same parameters; on loopback, or across
 * the testbed's first path (MPTCP adds subflows over the others through the testbed's endpoints).
 */
async function migrateDirect(src: QemuVm, dst: QemuVm, mptcp: boolean, opts: QemuDemoOptions): Promise<QemuDemoReport['report']> {
  if (opts.capabilities) {
    await src.monitor.migrateSetCapabilities(opts.capabilities);
    await dst.monitor.migrateSetCapabilities(opts.capabilities);
  }
  if (opts.destParameters) await dst.monitor.migrateSetParameters(opts.destParameters);
  const suffix = mptcp ? ',mptcp' : '';
  const host = opts.testbed ? opts.testbed.paths[0].dstAddr : '127.0.0.1';
  await dst.monitor.migrateIncoming(`tcp:${opts.testbed ? '0.0.0.0' : host}:0${suffix}`);
  const port = (await dst.monitor.queryMigrate())['socket-address']?.find((a) => a.type === 'inet')?.port;
  if (!port) throw new LivemigError('LIVEMIG_E_QMP_PROTOCOL', 'the destination QEMU does not report its incoming port', { phase: 'qmp' });
  await src.monitor.migrateSetParameters({
    'max-bandwidth': opts.maxBandwidthBytesPerSec ?? 100_000_000_000, 'downtime-limit': opts.downtimeLimitMs ?? 300, ...opts.parameters,
  });
  await src.monitor.migrate(`tcp:${host}:${port}${suffix}`);
  const info: MigrationInfo = await src.monitor.waitForMigration({ timeoutMs: opts.timeoutMs ?? 300_000, onProgress: opts.onProgress });
  const deadline = Date.now() + 60_000;
  let status = (await dst.monitor.queryStatus()).status;
  while (status !== 'running' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    status = (await dst.monitor.queryStatus()).status;
  }
  const stop = src.monitor.client.events.find((e) => e.event === 'STOP');
  const resume = dst.monitor.client.events.find((e) => e.event === 'RESUME');
  return {
    status: 'completed', qemu: qemuFigures(info), livemig: null, destination: { status },
    observedDowntimeMs: stop && resume ? (resume.timestampUs - stop.timestampUs) / 1000 : null,
  };
}

async function checkDestination(dst: QemuVm, kind: 'boot-sector' | 'linux', range: { start: number; end: number } | null, runDir: string, passBefore: number): Promise<QemuDemoCheck> {
  if (kind === 'boot-sector') {
    // The guest runs on: new pass markers on the destination's serial.
    const mark = dst.serialSize();
    await dst.waitForSerial(/B{2}/, { from: mark, timeoutMs: 60_000 });
    await dst.monitor.stop();
    const dump = join(runDir, 'dst-ram.bin');
    await dst.monitor.pmemsave(range!.start, range!.end - range!.start, dump);
    const c = checkGuestRam(readFileSync(dump));
    rmSync(dump, { force: true });
    return { kind, pages: c.pages, bad: c.bad, edges: c.edges, firstBad: c.firstBad };
  }
  // The destination's serial starts empty: every status line there was printed after migration.
  const { end } = await dst.waitForSerial(/LMW t=\d+ [^\n]*\n/, { timeoutMs: 120_000 });
  await dst.waitForSerial(/LMW t=\d+ [^\n]*\n/, { from: end, timeoutMs: 120_000 });
  const lines = parseWorkloadLines(dst.readSerial());
  const last = lines.at(-1)!;
  return { kind, errors: Math.max(...lines.map((l) => l.errors)), passBefore, passAfter: last.pass, lines: lines.length };
}
