import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RELAX_AFTER_SYNCS, SwitchoverBandwidth, WINDOW_MS } from '../../../src/qemu/proxy/switchover-bandwidth.js';

/** QEMU's own estimate in the first tests: far above the wire rate (stream bytes compress 7x). */
const QEMU_ESTIMATE = 1e9;

/** A channel whose sent bytes and clock the test moves. */
function fake(): { sent: number; now: number; bw: SwitchoverBandwidth } {
  const f = { sent: 0, now: 0, bw: null as unknown as SwitchoverBandwidth };
  f.bw = new SwitchoverBandwidth(() => f.sent, () => f.now);
  return f;
}

test('the switchover bandwidth is the peak wire rate over whole windows, and QEMU is told only when it moves by more than 10 %', () => {
  const f = fake();
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), null, 'the first poll only starts a window');
  f.now = WINDOW_MS / 2;
  f.sent = 10_000_000;
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), null, 'half a window is too short to measure');
  f.now = 1000;
  f.sent = 30_000_000; // 30 MB in the first second
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), 30_000_000);
  f.now = 2000;
  f.sent = 62_000_000; // 32 MB/s: within 10 % of what QEMU has
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), null);
  assert.equal(f.bw.peakBytesPerSec, 32_000_000);
  f.now = 3000;
  f.sent = 102_000_000; // 40 MB/s: a new peak worth telling
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), 40_000_000);
});

test('an idle channel late in the migration does not lower the switchover bandwidth', () => {
  const f = fake();
  f.bw.poll(2, QEMU_ESTIMATE);
  f.now = 500;
  f.sent = 25_000_000; // 50 MB/s while the first pass streams
  assert.equal(f.bw.poll(2, QEMU_ESTIMATE), 50_000_000);
  for (let i = 1; i <= 8; i++) {
    f.now = 500 + i * 500;
    f.sent += 100_000; // only a few re-dirtied pages per window
    assert.equal(f.bw.poll(2, QEMU_ESTIMATE), null);
  }
  assert.equal(f.bw.peakBytesPerSec, 50_000_000);
});

test("a migration that keeps syncing gets a budget that doubles per sync and, at QEMU's own estimate, is handed back to QEMU", () => {
  const f = fake();
  f.bw.poll(1, 300e6);
  f.now = 1000;
  f.sent = 40_000_000;
  assert.equal(f.bw.poll(1, 300e6), 40_000_000);
  const told: Array<number | null> = [];
  for (let sync = 2; sync <= RELAX_AFTER_SYNCS + 4; sync++) {
    f.now += 300;
    f.sent += 1_000_000;
    told.push(f.bw.poll(sync, 300e6));
  }
  // Unchanged until RELAX_AFTER_SYNCS, then 80, 160 MB/s, then 320 >= 300: QEMU's own (0), and nothing more.
  assert.deepEqual(told, [...Array(RELAX_AFTER_SYNCS - 1).fill(null), 80_000_000, 160_000_000, 0, null]);
  f.now += 300;
  assert.equal(f.bw.poll(RELAX_AFTER_SYNCS + 9, 300e6), null, 'once handed back, QEMU keeps its own estimate');
});
