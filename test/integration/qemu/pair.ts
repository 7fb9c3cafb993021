/**
 * Shared set-up of the real-QEMU tests: a source/destination pair of the same guest in a fresh
 * run directory, torn down (processes and files) by `close()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureQemu, QemuVm, type QemuGuestSpec } from '../../../src/qemu/index.js';

export interface VmPair {
  runDir: string;
  src: QemuVm;
  dst: QemuVm;
  /** Milliseconds from launching the source until `bootedPattern` appeared on its serial. */
  bootMs: number;
  close(): Promise<void>;
}

/**
 * Boots the source and waits for `bootedPattern` on its serial console, then starts the destination
 * with `-incoming defer`. Throws (after cleaning up) if QEMU is unavailable or the guest does not boot.
 */
export async function startPair(
  guest: QemuGuestSpec,
  memoryMiB: number,
  bootedPattern: RegExp,
  bootTimeoutMs = 180_000,
): Promise<VmPair> {
  const { qemuBinary } = ensureQemu();
  const runDir = mkdtempSync(join(tmpdir(), 'livemig-qemu-'));
  const vms: QemuVm[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(vms.map((vm) => vm.shutdown().catch(() => undefined)));
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const t0 = Date.now();
    const src = await QemuVm.launch({ guest, memoryMiB, runDir, name: 'src', qemuBinary });
    vms.push(src);
    await src.waitForSerial(bootedPattern, { timeoutMs: bootTimeoutMs });
    const bootMs = Date.now() - t0;
    const dst = await QemuVm.launch({ guest, memoryMiB, runDir, name: 'dst', qemuBinary, incoming: true });
    vms.push(dst);
    return { runDir, src, dst, bootMs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Polls `query-status` until the VM reports `status` (e.g. "running"). */
export async function waitForStatus(vm: QemuVm, status: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await vm.monitor.queryStatus();
    if (s.status === status) return;
    if (Date.now() > deadline) throw new Error(`VM status is ${s.status}, expected ${status} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
