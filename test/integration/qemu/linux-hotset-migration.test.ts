/**
 * Baseline: QEMU migrates the Linux hotset guest directly (no livemig in between) over TCP on
 * loopback while its workload rewrites a quarter of 48 MiB; on the destination the workload keeps
 * counting passes and its own integrity check finds no lost update (errors=0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildLinuxGuest,
  ensureQemu,
  linuxGuestAppend,
  parseWorkloadLines,
} from '../../../src/qemu/index.js';
import { startPair, waitForStatus } from './pair.js';

test('QEMU direct migration of the Linux hotset guest loses no update (in-guest errors stay 0)', { timeout: 420_000 }, async (t) => {
  const guest = buildLinuxGuest({ bzImagePath: ensureQemu().kernelPath });
  const append = linuxGuestAppend({ mode: 'hotset', mib: 48, hotPercent: 25 });
  const pair = await startPair(
    { kind: 'linux', kernelPath: guest.kernelPath, initrdPath: guest.initrdPath, append },
    128,
    // Under load the guest may skip a second: any status line from t=2 on means it runs.
    /LMW t=([2-9]|\d{2,}) /,
  );
  t.after(() => pair.close());
  const { src, dst } = pair;

  // An ephemeral port chosen by the destination; query-migrate reports it.
  await dst.monitor.migrateIncoming('tcp:127.0.0.1:0');
  const port = (await dst.monitor.queryMigrate())['socket-address']?.find((a) => a.type === 'inet')?.port;
  assert.ok(port, 'destination reports its listening port');
  await src.monitor.migrateSetParameters({ 'max-bandwidth': 10_000_000_000 });
  const before = parseWorkloadLines(src.readSerial()).at(-1);
  assert.ok(before && before.errors === 0, 'the workload runs cleanly before migration');
  await src.monitor.migrate(`tcp:127.0.0.1:${port}`);
  const info = await src.monitor.waitForMigration({ timeoutMs: 180_000 });
  t.diagnostic(
    `boot to 2nd status line ${pair.bootMs} ms; migration total ${info['total-time']} ms, downtime ${info.downtime} ms, ` +
      `transferred ${info.ram?.transferred} B, dirty syncs ${info.ram?.['dirty-sync-count']}, ` +
      `normal ${info.ram?.normal} / dup ${info.ram?.duplicate} pages`,
  );
  await waitForStatus(dst, 'running');

  // The destination's serial starts empty: every status line there was printed after migration.
  const { end } = await dst.waitForSerial(/LMW t=\d+ [^\n]*\n/, { timeoutMs: 120_000 });
  await dst.waitForSerial(/LMW t=\d+ [^\n]*\n/, { from: end, timeoutMs: 120_000 });
  const after = parseWorkloadLines(dst.readSerial());
  assert.ok(after.length >= 2, 'the workload keeps reporting on the destination');
  const last = after.at(-1)!;
  t.diagnostic(`destination workload: ${JSON.stringify(last)}`);
  assert.ok(last.pass > before.pass, 'the workload continued from where it was');
  assert.equal(last.errors, 0, 'the in-guest integrity check found lost updates');
});
