/**
 * Driver B end to end: two real QEMU processes (TCG) with livemig's source and destination agents
 * between them. Each test checks what the guest itself can tell: its memory (boot-sector guest),
 * its in-guest error count (Linux hotset guest), or that it kept running on the source when the
 * destination QEMU died.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLivemigError } from '../../../src/core/errors.js';
import { getCodec } from '../../../src/codec/index.js';
import { replayStream } from '../../../src/cli/commands/qemu.js';
import { buildBootSectorGuest } from '../../../src/qemu/index.js';
import { migrateQemuViaLivemig, runQemuDemo } from '../../../src/qemu/proxy/index.js';
import { startPair, waitForStatus } from './pair.js';

test('the boot-sector guest live-migrated through livemig (lz4-delta, multipath with two subflows) keeps every page update', { timeout: 400_000 }, async (t) => {
  const r = await runQemuDemo({
    guest: 'boot-sector', codec: 'lz4-delta', transport: { transport: 'multipath', subflows: 2 },
    // Generous: on a loaded 2-core machine the proxy is CPU-bound and the guest rewrites all 47 MiB each pass.
    downtimeLimitMs: 3000,
  });
  const l = r.report.livemig!;
  t.diagnostic(`total ${r.report.qemu['total-time']} ms, downtime ${r.report.qemu.downtime} ms (observed ${r.report.observedDowntimeMs} ms), ` +
    `stream ${l.streamBytes} B, wire ${l.wireBytes} B, paths ${l.paths.map((p) => `${p.label}=${p.bytesSent}`).join(' ')}`);
  assert.equal(r.report.destination.status, 'running');
  assert.equal(r.check.kind, 'boot-sector');
  if (r.check.kind === 'boot-sector') {
    assert.equal(r.check.pages, 47 * 256);
    assert.equal(r.check.bad, 0, `pages whose update was lost: ${r.check.firstBad.join(', ')}`);
  }
  assert.equal(l.destinationStreamBytes, l.streamBytes, 'the destination QEMU got every stream byte');
  assert.equal(l.paths.length, 2);
  assert.ok(l.paths.every((p) => p.bytesSent > 0), 'both subflows carried frames');
  assert.ok(l.encoder.pages > 12_000, 'pages went through the codec');
  assert.ok(r.ok);
});

test('the Linux hotset guest live-migrated through livemig keeps its in-guest error count at 0, and its capture replays byte-identical', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-qemu-capture-'));
  try {
    const capture = join(dir, 'stream.bin');
    const r = await runQemuDemo({
      guest: 'linux', workload: { mode: 'hotset', mib: 32, hotPercent: 10 }, codec: 'lz4-delta', capturePath: capture, downtimeLimitMs: 2000,
    });
    const l = r.report.livemig!;
    t.diagnostic(`total ${r.report.qemu['total-time']} ms, downtime ${r.report.qemu.downtime} ms (observed ${r.report.observedDowntimeMs} ms), ` +
      `stream ${l.streamBytes} B, wire ${l.wireBytes} B, check ${JSON.stringify(r.check)}`);
    assert.equal(r.report.destination.status, 'running');
    assert.equal(r.check.kind, 'linux');
    if (r.check.kind === 'linux') {
      assert.equal(r.check.errors, 0, 'the in-guest integrity check found lost updates');
      assert.ok(r.check.passAfter > r.check.passBefore, 'the workload continued on the destination');
    }
    assert.equal(statSync(capture).size, l.streamBytes, 'the capture holds the whole source stream');
    const out = join(dir, 'replayed.bin');
    const replay = await replayStream(capture, out, { codec: getCodec('lz4-delta') }, 'memory');
    assert.equal(replay.identical, true, 'qemu replay rebuilds the captured stream byte for byte');
    assert.equal(readFileSync(out).length, l.streamBytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('when the destination QEMU dies mid-migration the source QEMU keeps running and livemig says why', { timeout: 300_000 }, async (t) => {
  const guest = buildBootSectorGuest({ endMiB: 48 });
  const pair = await startPair({ kind: 'boot-sector', imagePath: guest.imagePath }, 128, /AB/);
  t.after(() => pair.close());
  const { src, dst } = pair;
  let killed = false;
  const err = await migrateQemuViaLivemig(src.monitor, dst.monitor, {
    codec: 'lz4-delta',
    // Slow enough that the migration is still running when the destination is killed.
    downtimeLimitMs: 1,
    onProgress: (info) => {
      if (!killed && (info.ram?.transferred ?? 0) > 20_000_000) {
        killed = true;
        process.kill(dst.pid!, 'SIGKILL');
      }
    },
    timeoutMs: 180_000,
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(killed, 'the destination was killed during the migration');
  assert.ok(isLivemigError(err), `expected a LivemigError, got ${String(err)}`);
  t.diagnostic(`${err.code} (${err.phase}): ${err.message}`);
  assert.equal(err.code, 'LIVEMIG_E_QEMU_EXITED');
  assert.match(err.message, /destination QEMU/);
  const info = await src.monitor.queryMigrate();
  assert.equal(info.status, 'failed');
  await waitForStatus(src, 'running', 30_000);
  // The guest really runs on: new pass markers on the source's serial.
  const mark = src.serialSize();
  await src.waitForSerial(/B{2}/, { from: mark, timeoutMs: 60_000 });
});
