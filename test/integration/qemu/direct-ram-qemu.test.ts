/**
 * Direct RAM with real QEMU: a destination whose guest RAM is a shared file in /dev/shm gets the
 * RAM block's pages written straight into that file, and the guest still arrives intact; and the
 * receiver only does so when QEMU itself proves the file is its RAM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildBootSectorGuest, ensureQemu, QemuVm } from '../../../src/qemu/index.js';
import { openDestinationRam } from '../../../src/qemu/proxy/shared-ram.js';
import { runQemuDemo } from '../../../src/qemu/proxy/index.js';

test('the boot-sector guest migrated into a shared-file destination RAM (zstd-delta blocks on the thread pool, direct RAM) keeps every page update', { timeout: 400_000 }, async (t) => {
  // Two pool threads, as a 4-core host gets by default (cores - 2): the path this 2-core machine's default skips.
  const r = await runQemuDemo({ guest: 'boot-sector', codec: 'zstd-delta', destRam: 'shared-file', downtimeLimitMs: 3000, compressThreads: 2 });
  const l = r.report.livemig!;
  t.diagnostic(`total ${r.report.qemu['total-time']} ms, stream ${l.streamBytes} B, through QEMU's socket ${l.destinationStreamBytes} B, direct ${JSON.stringify(l.directRam)}; ${l.directRamNote}`);
  assert.equal(r.report.destination.status, 'running');
  assert.equal(r.check.kind, 'boot-sector');
  if (r.check.kind === 'boot-sector') assert.equal(r.check.bad, 0, `pages whose update was lost: ${r.check.firstBad.join(', ')}`);
  assert.match(l.directRamNote ?? '', /^pc\.ram in \/dev\/shm\//);
  const d = l.directRam!;
  // The guest rewrites its 47 MiB test range every pass: every one of those pages went direct.
  assert.ok(d.pages >= 47 * 256, `pages written directly: ${d.pages}`);
  assert.equal(l.destinationStreamBytes! + d.bytes, l.streamBytes, 'socket bytes + direct bytes = the source stream');
  assert.ok(l.destinationStreamBytes! < l.streamBytes / 10, 'most of the stream skipped QEMU\'s socket');
  assert.ok(l.encoder.pooledBlocks > 0, 'no block was compressed on the thread pool');
  assert.ok(r.ok);
});

test('the receiver maps a destination RAM file only when QEMU proves it is its RAM', { timeout: 120_000 }, async () => {
  const { qemuBinary } = ensureQemu();
  const guest = { kind: 'boot-sector' as const, imagePath: buildBootSectorGuest({ endMiB: 48 }).imagePath };
  const runDir = mkdtempSync(join(tmpdir(), 'livemig-direct-ram-'));
  const file = join('/dev/shm', `${basename(runDir)}.ram`);
  const launch = (name: string, extraArgs: string[]) => QemuVm.launch({ guest, memoryMiB: 64, runDir, name, qemuBinary, incoming: true, extraArgs });
  const backend = (share: 'on' | 'off') => ['-object', `memory-backend-file,id=pc.ram,size=64M,mem-path=${file},share=${share}`, '-machine', 'memory-backend=pc.ram'];
  try {
    const anon = await launch('anon', []);
    const a = await openDestinationRam(anon.monitor, 4096);
    await anon.shutdown();
    assert.equal(a.ram, null);
    assert.match(a.ram === null ? a.reason : '', /not shared|not a memory backend/);

    const priv = await launch('private', backend('off'));
    const p = await openDestinationRam(priv.monitor, 4096);
    await priv.shutdown();
    assert.equal(p.ram, null);
    assert.match(p.ram === null ? p.reason : '', /'pc\.ram' is not shared/);

    const shared = await launch('shared', backend('on'));
    const ok = await openDestinationRam(shared.monitor, 4096);
    assert.ok(ok.ram !== null, ok.ram === null ? ok.reason : '');
    assert.equal(ok.ram.block, 'pc.ram');
    // Another file now answers to QEMU's mem-path (QEMU keeps the old one mapped): the probe must catch it.
    renameSync(file, `${file}.old`);
    writeFileSync(file, Buffer.alloc(64 * 1024 * 1024));
    const swapped = await openDestinationRam(shared.monitor, 4096);
    await shared.shutdown();
    assert.equal(swapped.ram, null);
    assert.match(swapped.ram === null ? swapped.reason : '', /is not what the destination QEMU reads at guest-physical 0x1000/);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
    rmSync(file, { force: true });
    rmSync(`${file}.old`, { force: true });
  }
});
