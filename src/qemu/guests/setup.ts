/**
 * Finds the QEMU and kernel that the real-guest tests need, running scripts/setup-qemu.sh (once per
 * process; the script itself is idempotent and caches with a marker file) when something is
 * missing. Never skips: when QEMU cannot be had, it throws LIVEMIG_E_QEMU_UNAVAILABLE with the
 * script's own message.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LivemigError } from '../../core/errors.js';
import { repoRoot } from './paths.js';

/** What a test needs to launch QEMU. */
export interface QemuSetup {
  /** Path (or name on $PATH) of qemu-system-x86_64. */
  qemuBinary: string;
  /** e.g. "10.0.2". */
  version: string;
  /** Major version (>= 9: older TCG builds lose dirty pages). */
  major: number;
  /** The Debian kernel image extracted by the setup script. */
  kernelPath: string;
}

/** Lowest QEMU major version whose TCG dirty tracking is correct (upstream fix 03bfc2188f). */
export const MIN_QEMU_MAJOR = 9;

/** Where setup-qemu.sh keeps the kernel; override with LIVEMIG_QEMU_DIR. */
export function qemuStateDir(): string {
  return process.env.LIVEMIG_QEMU_DIR ?? '/var/lib/livemig/qemu';
}

let cached: QemuSetup | undefined;

function probe(binary: string): { version: string; major: number } | undefined {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    const m = /version (\d+)\.(\d+)\.(\d+)/.exec(out);
    return m ? { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the QEMU setup, installing it first if needed.
 * @param opts.install run scripts/setup-qemu.sh when something is missing, @default true
 */
export function ensureQemu(opts: { install?: boolean } = {}): QemuSetup {
  if (cached) return cached;
  const binary = process.env.LIVEMIG_QEMU_BINARY ?? 'qemu-system-x86_64';
  const kernelPath = process.env.LIVEMIG_QEMU_KERNEL ?? join(qemuStateDir(), 'vmlinuz');
  const ready = (): QemuSetup | undefined => {
    const v = probe(binary);
    // The marker is written by setup-qemu.sh only when the build tools (gcc, as, ld, xz) are there too.
    const marker = process.env.LIVEMIG_QEMU_KERNEL !== undefined || existsSync(join(qemuStateDir(), 'setup.done'));
    return v && v.major >= MIN_QEMU_MAJOR && marker && existsSync(kernelPath) && existsSync('/bin/busybox')
      ? { qemuBinary: binary, ...v, kernelPath }
      : undefined;
  };
  let setup = ready();
  if (!setup && opts.install !== false) {
    const script = join(repoRoot(), 'scripts', 'setup-qemu.sh');
    // Installing packages can take minutes on a fresh machine.
    const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000 });
    if (r.status !== 0) {
      throw new LivemigError(
        'LIVEMIG_E_QEMU_UNAVAILABLE',
        `QEMU >= ${MIN_QEMU_MAJOR} and the guest kernel are needed and ${script} failed ` +
          `(exit ${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
    setup = ready();
  }
  if (!setup) {
    const v = probe(binary);
    throw new LivemigError(
      'LIVEMIG_E_QEMU_UNAVAILABLE',
      `need ${binary} >= ${MIN_QEMU_MAJOR}.0 (found ${v?.version ?? 'none'}), ${kernelPath} and /bin/busybox: ` +
        `run scripts/setup-qemu.sh as root`,
    );
  }
  cached = setup;
  return setup;
}
