/**
 * Finds and maps the destination QEMU's guest RAM for direct delivery (stream/direct-ram.ts), when
 * QEMU was started with it in a shared file:
 *
 *   -object memory-backend-file,id=pc.ram,size=512M,mem-path=/dev/shm/guest.ram,share=on
 *   -machine memory-backend=pc.ram
 *
 * (`pc.ram` keeps the RAM block's name equal to a source started with plain `-m`.) Everything is
 * asked of QEMU itself over QMP, and then proven: a random probe written through our mapping must
 * read back through QEMU's own view of guest-physical memory (HMP `xp`). A wrong file, a private
 * mapping or another host's QEMU fails the probe, and the stream then goes through QEMU's socket
 * as usual. The probe assumes the x86 PC layout (the block's first bytes at guest-physical 0).
 */
import { randomBytes } from 'node:crypto';
import { nativeBinding } from '../../codec/native.js';
import type { QemuMonitor } from '../qmp/commands.js';
import { DirectRam } from '../stream/direct-ram.js';

/** Where the probe goes: guest-physical (= block offset) 0x1000, ordinary low RAM on a PC. */
const PROBE_OFFSET = 0x1000;
const PROBE_BYTES = 16;

/** The RAM mapped, or why not. */
export type DestinationRam = { ram: DirectRam; path: string } | { ram: null; reason: string };

/** Maps the destination QEMU's RAM file if it has one this process can share; never throws. */
export async function openDestinationRam(monitor: QemuMonitor, pageSize: number): Promise<DestinationRam> {
  try {
    const backendPath = await qomGet(monitor, '/machine', 'memory-backend');
    if (typeof backendPath !== 'string' || backendPath === '') return { ram: null, reason: 'the guest RAM is not a memory backend (-machine memory-backend=ID)' };
    const id = backendPath.slice(backendPath.lastIndexOf('/') + 1);
    const memdevs = await monitor.client.execute<Array<{ id?: string; size: number; share: boolean }>>('query-memdev');
    const dev = memdevs.find((d) => d.id === id);
    if (!dev) return { ram: null, reason: `query-memdev does not list the RAM backend '${id}'` };
    if (!dev.share) return { ram: null, reason: `the RAM backend '${id}' is not shared (share=on)` };
    const path = await qomGet(monitor, backendPath, 'mem-path').catch(() => null);
    if (typeof path !== 'string' || path === '') return { ram: null, reason: `the RAM backend '${id}' has no mem-path (not memory-backend-file)` };
    const memory = new Uint8Array(nativeBinding().mapSharedFile(path, dev.size));
    if (!(await probe(monitor, memory))) {
      return { ram: null, reason: `${path} is not what the destination QEMU reads at guest-physical 0x${PROBE_OFFSET.toString(16)} (another file, another host, or not the PC memory layout)` };
    }
    return { ram: new DirectRam(id, memory, pageSize), path };
  } catch (err) {
    return { ram: null, reason: err instanceof Error ? err.message : String(err) };
  }
}

function qomGet(monitor: QemuMonitor, path: string, property: string): Promise<unknown> {
  return monitor.client.execute('qom-get', { path, property });
}

/** Writes random bytes through `memory`, reads them through QEMU's `xp`, and puts the old bytes back. */
async function probe(monitor: QemuMonitor, memory: Uint8Array): Promise<boolean> {
  const at = memory.subarray(PROBE_OFFSET, PROBE_OFFSET + PROBE_BYTES);
  if (at.length < PROBE_BYTES) return false;
  const saved = Uint8Array.from(at);
  const nonce = randomBytes(PROBE_BYTES);
  at.set(nonce);
  try {
    const out = await monitor.client.execute<string>('human-monitor-command', { 'command-line': `xp /${PROBE_BYTES / 4}wx 0x${PROBE_OFFSET.toString(16)}` });
    // "0000000000001000: 0x33323130 0x37363534 ...": little-endian 32-bit words.
    const words = [...out.matchAll(/0x([0-9a-f]{8})/gi)].map((m) => parseInt(m[1], 16));
    return words.length === PROBE_BYTES / 4 && words.every((w, k) => w === nonce.readUInt32LE(4 * k));
  } finally {
    at.set(saved);
  }
}
