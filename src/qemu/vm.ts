/**
 * Launches one QEMU process for the real-guest tests (TCG: /dev/kvm here is PVM and hangs stock
 * kernels) with a QMP socket and the serial console in a file, and tears it down.
 *
 * A migration pair is two of these with the same guest and memory size, the destination with
 * `incoming: true` (`-incoming defer`, then `monitor.migrateIncoming(uri)`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LivemigError } from '../core/errors.js';
import { QmpClient } from './qmp/client.js';
import { QemuMonitor } from './qmp/commands.js';

/** What the VM boots. */
export type QemuGuestSpec =
  /** The boot-sector guest (buildBootSectorGuest().imagePath), as an IDE disk. */
  | { kind: 'boot-sector'; imagePath: string }
  /** A kernel + initramfs (ensureQemu().kernelPath, buildLinuxGuest().initrdPath). */
  | { kind: 'linux'; kernelPath: string; initrdPath: string; append: string };

/** Options of QemuVm.launch. */
export interface QemuVmOptions {
  guest: QemuGuestSpec;
  /** Directory for the QMP socket, serial file and stderr; created if missing. */
  runDir: string;
  /** File-name prefix inside runDir, e.g. "src" / "dst". */
  name: string;
  /** Guest RAM in MiB, @default 128 */
  memoryMiB?: number;
  /** Start as a migration destination (`-incoming defer`), @default false */
  incoming?: boolean;
  /** @default "qemu-system-x86_64" */
  qemuBinary?: string;
  /** Appended to the command line. */
  extraArgs?: string[];
  /** Timeout for the QMP socket to appear and negotiate, @default 30000 ms */
  startTimeoutMs?: number;
  /**
   * Network namespace to run QEMU in (`ip netns exec NS`), so that its migration sockets use the
   * testbed's shaped paths; QMP is a UNIX socket and works from any namespace. @default none
   */
  netns?: string;
}

/** The command line QemuVm.launch uses (exported so a pair can be started by hand the same way). */
export function qemuArgs(opts: QemuVmOptions): string[] {
  const args = [
    '-machine', 'pc', '-accel', 'tcg', '-m', String(opts.memoryMiB ?? 128), '-smp', '1',
    '-display', 'none', '-nodefaults', '-monitor', 'none', '-no-reboot',
    '-qmp', `unix:${join(opts.runDir, `${opts.name}.qmp`)},server=on,wait=off`,
    '-serial', `file:${join(opts.runDir, `${opts.name}.serial`)}`,
  ];
  const g = opts.guest;
  if (g.kind === 'boot-sector') args.push('-drive', `file=${g.imagePath},format=raw,if=ide`);
  else args.push('-kernel', g.kernelPath, '-initrd', g.initrdPath, '-append', g.append);
  if (opts.incoming) args.push('-incoming', 'defer');
  return [...args, ...(opts.extraArgs ?? [])];
}

/** A running QEMU process with its QMP session. */
export class QemuVm {
  readonly monitor: QemuMonitor;
  readonly serialPath: string;
  readonly qmpPath: string;
  readonly args: readonly string[];
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #proc: ChildProcess;
  #stderr = '';
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(proc: ChildProcess, monitor: QemuMonitor, opts: QemuVmOptions, args: string[], exited: QemuVm['exited']) {
    this.#proc = proc;
    this.monitor = monitor;
    this.args = args;
    this.serialPath = join(opts.runDir, `${opts.name}.serial`);
    this.qmpPath = join(opts.runDir, `${opts.name}.qmp`);
    this.exited = exited;
  }

  /** Starts QEMU and connects QMP. On failure the process is killed and the error says why. */
  static async launch(opts: QemuVmOptions): Promise<QemuVm> {
    mkdirSync(opts.runDir, { recursive: true });
    const qmpPath = join(opts.runDir, `${opts.name}.qmp`);
    rmSync(qmpPath, { force: true });
    rmSync(join(opts.runDir, `${opts.name}.serial`), { force: true });
    const args = qemuArgs(opts);
    const binary = opts.qemuBinary ?? 'qemu-system-x86_64';
    // `ip netns exec` execs QEMU in place, so the pid (and its signals) stay QEMU's.
    const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, binary, ...args]] : [binary, args];
    const proc = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc.once('exit', (code, signal) => resolve((exitInfo = { code, signal })));
      proc.once('error', () => resolve((exitInfo = { code: -1, signal: null })));
    });
    const spawnError = new Promise<never>((_, reject) => {
      proc.once('error', (err) =>
        reject(new LivemigError('LIVEMIG_E_QEMU_EXITED', `cannot start ${binary}: ${err.message}`, { cause: err })),
      );
      void exited.then((e) =>
        reject(new LivemigError('LIVEMIG_E_QEMU_EXITED', `${binary} exited during start-up (${e.code ?? e.signal}): ${stderr.trim()}`)),
      );
    });
    spawnError.catch(() => undefined);
    let client: QmpClient;
    try {
      client = await Promise.race([QmpClient.connect(qmpPath, { timeoutMs: opts.startTimeoutMs ?? 30_000 }), spawnError]);
    } catch (err) {
      proc.kill('SIGKILL');
      await exited;
      throw err;
    }
    const vm = new QemuVm(proc, new QemuMonitor(client), opts, args, exited);
    proc.stderr?.on('data', (d: string) => (vm.#stderr = (vm.#stderr + d).slice(-4096)));
    vm.#stderr = stderr;
    void exited.then((e) => (vm.#exit = e));
    if (exitInfo) vm.#exit = exitInfo;
    return vm;
  }

  /** The QEMU process id. */
  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** The last 4 KiB QEMU wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Bytes written to the serial console so far. */
  serialSize(): number {
    return existsSync(this.serialPath) ? statSync(this.serialPath).size : 0;
  }

  /** The serial console output from byte `from` on (latin1, so offsets are byte offsets). */
  readSerial(from = 0): string {
    if (!existsSync(this.serialPath)) return '';
    const fd = openSync(this.serialPath, 'r');
    try {
      const size = statSync(this.serialPath).size;
      if (size <= from) return '';
      const buf = Buffer.alloc(size - from);
      const n = readSync(fd, buf, 0, buf.length, from);
      return buf.subarray(0, n).toString('latin1');
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Waits until the serial output after byte `from` matches `pattern`; returns the match and the
   * byte offset just after it.
   * @param opts.timeoutMs @default 60000
   * @throws LIVEMIG_E_QEMU_EXITED if QEMU exits first, LIVEMIG_E_QMP_TIMEOUT on timeout
   */
  async waitForSerial(
    pattern: RegExp,
    opts: { timeoutMs?: number; from?: number } = {},
  ): Promise<{ match: RegExpExecArray; end: number }> {
    const from = opts.from ?? 0;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    for (;;) {
      const text = this.readSerial(from);
      const m = re.exec(text);
      if (m) return { match: m, end: from + m.index + m[0].length };
      if (this.#exit) {
        throw new LivemigError(
          'LIVEMIG_E_QEMU_EXITED',
          `QEMU exited (${this.#exit.code ?? this.#exit.signal}) before its serial matched ${pattern}: ` +
            `${this.#stderr.trim()} | serial tail: ${JSON.stringify(text.slice(-300))}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new LivemigError(
          'LIVEMIG_E_QMP_TIMEOUT',
          `serial ${this.serialPath} did not match ${pattern} within ${timeoutMs} ms; tail: ${JSON.stringify(text.slice(-300))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends QEMU: `quit` over QMP, then SIGKILL if it is still there after `graceMs` (@default 5000). */
  async shutdown(graceMs = 5000): Promise<void> {
    if (!this.#exit && !this.monitor.client.closed) {
      await Promise.race([this.monitor.quit().catch(() => undefined), new Promise((r) => setTimeout(r, graceMs))]);
    }
    this.monitor.client.close();
    if (!this.#exit) {
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
