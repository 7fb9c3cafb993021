/**
 * The Linux test guest's serial protocol: its kernel command line in, its workload's status lines
 * out (see qemu-guests/linux/workload.c).
 */

/** Workloads of the Linux test guest. */
/** `text`: a paced hotset over compressible text-like and zero-bodied pages (see workload.c). */
export type WorkloadMode = 'idle' | 'hotset' | 'memstress' | 'text';

/** One `LMW t=... mode=... pass=... passes/s=... errors=...` status line. */
export interface WorkloadLine {
  /** Seconds since the workload started (guest clock). */
  t: number;
  mode: string;
  pass: number;
  passesPerSec: number;
  /** Lost or corrupted updates the workload has found so far (0 in a good run). */
  errors: number;
}

const LINE = /^LMW t=(\d+) mode=(\S+) pass=(\d+) passes\/s=([\d.]+) errors=(\d+)\s*$/;

/** Parses every status line in `serial` (other lines, e.g. kernel messages, are ignored). */
export function parseWorkloadLines(serial: string): WorkloadLine[] {
  const out: WorkloadLine[] = [];
  for (const raw of serial.split('\n')) {
    const m = LINE.exec(raw.replace(/\r$/, ''));
    if (m) out.push({ t: Number(m[1]), mode: m[2], pass: Number(m[3]), passesPerSec: Number(m[4]), errors: Number(m[5]) });
  }
  return out;
}

/**
 * The kernel command line for the Linux test guest.
 * @param opts.mode @default 'hotset'
 * @param opts.mib memory the workload fills, MiB (keep well below the guest's RAM), @default 32
 * @param opts.hotPercent share of the pages rewritten each pass (hotset, text), @default 10
 * @param opts.pagesPerSec page writes per second (text only), @default 2000 (in the guest)
 */
export function linuxGuestAppend(opts: { mode?: WorkloadMode; mib?: number; hotPercent?: number; pagesPerSec?: number } = {}): string {
  const spec = `${opts.mode ?? 'hotset'},${opts.mib ?? 32},${opts.hotPercent ?? 10}${opts.pagesPerSec ? `,${opts.pagesPerSec}` : ''}`;
  // quiet: serial printk is slow under TCG; panic=-1 with -no-reboot makes a panic end QEMU.
  return `console=ttyS0 quiet panic=-1 lmw=${spec}`;
}
