/**
 * Baseline: QEMU migrates the boot-sector guest directly (no livemig in between) over a UNIX
 * socket while the guest dirties every page of [1 MiB, 48 MiB); the destination keeps running and
 * its memory passes the check_guests_ram-style check. This is what livemig's proxy must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBootSectorGuest, checkGuestRam, type MigrationInfo } from '../../../src/qemu/index.js';
import { startPair, waitForStatus } from './pair.js';

const END_MIB = 48;
// Above END_MIB: in a 64 MiB guest something outside the loop writes pages just below 48 MiB.
const MEMORY_MIB = 128;

test('QEMU direct migration of the boot-sector guest keeps every page update', { timeout: 300_000 }, async (t) => {
  const guest = buildBootSectorGuest({ endMiB: END_MIB });
  const pair = await startPair({ kind: 'boot-sector', imagePath: guest.imagePath }, MEMORY_MIB, /AB/);
  t.after(() => pair.close());
  const { src, dst, runDir } = pair;

  for (const vm of [src, dst]) await vm.monitor.migrateSetCapabilities({ events: true });
  // Like QEMU's migration-test: start so slow that it cannot converge, let it make a few dirty
  // passes while the guest writes, then open the throttle so it completes.
  await src.monitor.migrateSetParameters({ 'max-bandwidth': 30_000_000, 'downtime-limit': 1 });
  const uri = `unix:${join(runDir, 'migrate.sock')}`;
  await dst.monitor.migrateIncoming(uri);
  await src.monitor.migrate(uri);
  let opened = false;
  const info: MigrationInfo = await src.monitor.waitForMigration({
    timeoutMs: 180_000,
    onProgress: async (i) => {
      if (!opened && (i.ram?.['dirty-sync-count'] ?? 0) >= 3) {
        opened = true;
        await src.monitor.migrateSetParameters({ 'max-bandwidth': 10_000_000_000, 'downtime-limit': 5000 });
      }
    },
  });
  assert.ok(opened, 'the migration made several dirty passes before converging');
  t.diagnostic(
    `boot ${pair.bootMs} ms; migration total ${info['total-time']} ms, downtime ${info.downtime} ms, ` +
      `setup ${info['setup-time']} ms, transferred ${info.ram?.transferred} B, dirty syncs ${info.ram?.['dirty-sync-count']}, ` +
      `normal ${info.ram?.normal} / dup ${info.ram?.duplicate} pages`,
  );
  assert.equal((await src.monitor.queryStatus()).status, 'postmigrate');
  await waitForStatus(dst, 'running');

  // The destination runs the guest: new pass markers appear on its serial.
  const mark = dst.serialSize();
  await dst.waitForSerial(/B{3}/, { from: mark, timeoutMs: 60_000 });

  await dst.monitor.stop();
  const dump = join(runDir, 'dst-ram.bin');
  await dst.monitor.pmemsave(guest.startAddr, guest.endAddr - guest.startAddr, dump);
  const check = checkGuestRam(readFileSync(dump));
  t.diagnostic(`destination RAM: ${check.pages} pages, ${check.edges} edge, ${check.bad} bad, first byte ${check.firstByte}`);
  assert.equal(check.pages, (END_MIB - 1) * 256);
  assert.equal(check.bad, 0, `pages whose update was lost: ${check.firstBad.join(', ')}`);
  assert.ok(check.edges <= 1);
});
