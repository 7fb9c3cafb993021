/**
 * Builds the test guests from qemu-guests/ into build/qemu-guests/, cached by a hash of their
 * sources and parameters (a rebuild happens only when a source changes):
 *   - the boot-sector guest: dirty-pages.S assembled with GNU as (binutils) into a 512-byte image;
 *   - the Linux guest's initramfs: busybox-static + /init (init.sh) + the workload program
 *     (workload.c, gcc -O2 -static), written as an uncompressed newc cpio by our own writer
 *     (uncompressed because unpacking is cheaper than gunzip under TCG).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LivemigError } from '../../core/errors.js';
import { buildCpioNewc, type CpioEntry } from './cpio-newc.js';
import { guestBuildDir, guestSourceDir } from './paths.js';

/** The boot-sector guest's disk image and the range it dirties. */
export interface BootSectorGuest {
  /** 512-byte raw disk image (attach with `-drive file=...,format=raw,if=ide`). */
  imagePath: string;
  /** First guest-physical byte the loop writes (1 MiB). */
  startAddr: number;
  /** End (exclusive) of the dirtied range, in bytes. */
  endAddr: number;
}

/** The Linux guest: kernel (see bootableKernel) and initramfs. */
export interface LinuxGuest {
  /** Kernel for `-kernel`: the unpacked PVH vmlinux, or the bzImage if it cannot be unpacked. */
  kernelPath: string;
  initrdPath: string;
  /** The workload binary, also inside the initramfs as /bin/lmw. */
  workloadPath: string;
}

function hashOf(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function run(cmd: string, args: string[], what: string): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `building ${what} failed: ${cmd} ${args.join(' ')}: ${stderr}`, {
      cause: err,
    });
  }
}

/** Writes `out` through a temporary directory so concurrent builders never see a partial file. */
function buildCached(out: string, build: (tmpDir: string) => Buffer): string {
  if (existsSync(out)) return out;
  mkdirSync(guestBuildDir(), { recursive: true });
  const tmp = mkdtempSync(join(guestBuildDir(), '.tmp-'));
  try {
    writeFileSync(join(tmp, 'out'), build(tmp));
    renameSync(join(tmp, 'out'), out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/**
 * Assembles the boot-sector guest that dirties [1 MiB, endMiB MiB).
 * @param opts.endMiB end of the dirtied range in MiB, @default 48. Give the guest well more RAM than this
 *   (e.g. 128 MiB for 48): measured, a 64 MiB guest has pages near 47.9 MiB that something other than the
 *   loop writes, which the checker then reports as bad.
 */
export function buildBootSectorGuest(opts: { endMiB?: number } = {}): BootSectorGuest {
  const endMiB = opts.endMiB ?? 48;
  if (!Number.isInteger(endMiB) || endMiB < 2 || endMiB > 3000) {
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `endMiB must be an integer in [2, 3000], got ${endMiB}`);
  }
  const src = join(guestSourceDir(), 'boot-sector', 'dirty-pages.S');
  const source = readFileSync(src);
  const out = join(guestBuildDir(), `boot-sector-${endMiB}m-${hashOf(source, String(endMiB))}.img`);
  buildCached(out, (tmp) => {
    const obj = join(tmp, 'b.o');
    const bin = join(tmp, 'b.bin');
    run('as', ['--32', '--defsym', `END_MIB=${endMiB}`, '-o', obj, src], 'the boot-sector guest');
    run('ld', ['-m', 'elf_i386', '-Ttext=0x7c00', '-e', '_start', '--oformat', 'binary', '-o', bin, obj], 'the boot-sector guest');
    const image = readFileSync(bin);
    if (image.length !== 512 || image[510] !== 0x55 || image[511] !== 0xaa) {
      throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `boot sector is ${image.length} bytes or lacks the 55 aa signature`);
    }
    return image;
  });
  return { imagePath: out, startAddr: 1 << 20, endAddr: endMiB << 20 };
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * The kernel to boot: the ELF vmlinux unpacked from Debian's xz-compressed bzImage when it has a
 * PVH entry note (QEMU then enters it directly), else the bzImage itself. Why: under TCG the
 * bzImage's own decompressor takes 12-15 s of a 16-20 s boot; the unpacked kernel boots in ~4.5 s.
 * @param bzImagePath e.g. ensureQemu().kernelPath
 */
export function bootableKernel(bzImagePath: string): string {
  const bz = readFileSync(bzImagePath);
  const at = bz.indexOf(XZ_MAGIC);
  if (at < 0) return bzImagePath;
  const out = join(guestBuildDir(), `vmlinux-${hashOf(bz)}`);
  try {
    buildCached(out, () => {
      const elf = execFileSync('xz', ['-dc', '--single-stream'], { input: bz.subarray(at), maxBuffer: 1 << 30, timeout: 120_000 });
      if (!elf.subarray(0, 4).equals(ELF_MAGIC) || !hasPvhNote(elf)) throw new Error('payload is not an ELF kernel with a PVH entry');
      return elf;
    });
    return out;
  } catch {
    return bzImagePath; // no xz, or no PVH entry: the compressed image still boots, only slower
  }
}

/** True when a 64-bit ELF has the XEN_ELFNOTE_PHYS32_ENTRY note (type 18) that QEMU's PVH boot needs. */
function hasPvhNote(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    let off = Number(elf.readBigUInt64LE(ph + 8));
    const end = off + Number(elf.readBigUInt64LE(ph + 32));
    while (off + 12 <= end) {
      const namesz = elf.readUInt32LE(off);
      const descsz = elf.readUInt32LE(off + 4);
      const type = elf.readUInt32LE(off + 8);
      const name = elf.toString('latin1', off + 12, off + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}

/**
 * Compiles the workload, packs the busybox initramfs and unpacks the kernel.
 * @param opts.bzImagePath the Debian kernel, e.g. ensureQemu().kernelPath
 */
export function buildLinuxGuest(opts: { bzImagePath: string }): LinuxGuest {
  const dir = join(guestSourceDir(), 'linux');
  const workloadSrc = readFileSync(join(dir, 'workload.c'));
  const init = readFileSync(join(dir, 'init.sh'));
  const busybox = readFileSync('/bin/busybox');
  const key = hashOf(workloadSrc, init, createHash('sha256').update(busybox).digest('hex'));
  const workloadPath = join(guestBuildDir(), `lmw-${hashOf(workloadSrc)}`);
  buildCached(workloadPath, (tmp) => {
    const exe = join(tmp, 'lmw');
    run('gcc', ['-O2', '-static', '-Wall', '-o', exe, join(dir, 'workload.c')], 'the guest workload');
    return readFileSync(exe);
  });
  const initrdPath = join(guestBuildDir(), `initramfs-${key}.cpio`);
  buildCached(initrdPath, () => {
    const entries: CpioEntry[] = [
      ...['bin', 'dev', 'proc', 'sys', 'tmp'].map((path): CpioEntry => ({ kind: 'dir', path })),
      // The kernel opens /dev/console for init's stdio before anything is mounted.
      { kind: 'char-device', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'file', path: 'bin/lmw', data: readFileSync(workloadPath), mode: 0o755 },
      { kind: 'file', path: 'init', data: init, mode: 0o755 },
    ];
    return buildCpioNewc(entries);
  });
  return { kernelPath: bootableKernel(opts.bzImagePath), initrdPath, workloadPath };
}
