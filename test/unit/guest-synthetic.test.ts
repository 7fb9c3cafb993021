import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLivemigError } from '../../src/core/index.js';
import { createDestinationGuest, createSyntheticGuest, type SyntheticGuest } from '../../src/guest/index.js';

const MiB = 1024 * 1024;

/** Pages whose bytes differ between two memories, ascending. */
function changedPages(before: Uint8Array, after: Uint8Array, pageSize: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < before.length / pageSize; i++) {
    if (Buffer.compare(before.subarray(i * pageSize, (i + 1) * pageSize), after.subarray(i * pageSize, (i + 1) * pageSize)) !== 0) out.push(i);
  }
  return out;
}

async function withGuest(options: Parameters<typeof createSyntheticGuest>[0], body: (g: SyntheticGuest) => Promise<void>): Promise<void> {
  const g = await createSyntheticGuest(options);
  try {
    await body(g);
  } finally {
    await g.close();
  }
}

test('the first sync reports every page, later syncs exactly the pages the workload wrote, ascending', async () => {
  await withGuest({ workload: 'hotset', memoryBytes: 8 * MiB, running: false, seed: 3 }, async (g) => {
    const first = g.syncDirty();
    assert.equal(first.length, g.pageCount);
    assert.equal(g.syncDirty().length, 0, 'nothing written since the first sync');
    const before = g.memory.slice();
    await g.runSteps(500);
    const reported = Array.from(g.syncDirty());
    const changed = changedPages(before, g.memory, g.pageSize);
    assert.ok(changed.length > 50, `the workload wrote pages (${changed.length})`);
    assert.deepEqual(reported, changed);
    assert.ok(reported.includes(0), 'the header page is logged too');
    assert.equal(g.syncDirty().length, 0, 'the log was cleared');
  });
});

test('read-and-clear loses no update while the workload writes at full speed', async () => {
  await withGuest({ workload: 'hotset', memoryBytes: 16 * MiB, hotPercent: 30, dirtyRate: 0, running: true, seed: 5 }, async (g) => {
    // The copy a migration would build: every page copied whenever the log reports it.
    const copy = new Uint8Array(g.memory.length);
    const P = g.pageSize;
    let copied = 0;
    // Sync at least 400 times, and on until the workload has written enough to race us (a loaded
    // machine may give its thread little time), within a bound.
    const deadline = Date.now() + 20_000;
    for (let round = 0; round < 400 || (g.totalWrites() <= 5000 && Date.now() < deadline); round++) {
      for (const i of g.syncDirty()) {
        copy.set(g.memory.subarray(i * P, (i + 1) * P), i * P);
        copied++;
      }
      if (round % 20 === 0) await sleep(1);
    }
    await g.pause();
    assert.ok(g.totalWrites() > 5000, `workload wrote concurrently (${g.totalWrites()} writes)`);
    assert.ok(copied > g.pageCount, 'pages were re-copied as they were re-dirtied');
    // Control: pages written since the last sync are not in the copy yet, so the comparison can fail.
    await g.runSteps(50);
    assert.notEqual(Buffer.compare(copy, g.memory), 0);
    for (const i of g.syncDirty()) copy.set(g.memory.subarray(i * P, (i + 1) * P), i * P);
    assert.equal(Buffer.compare(copy, g.memory), 0, 'copy equals memory byte for byte after the final sync');
    const check = await g.selfCheck();
    assert.ok(check.ok, check.detail);
  });
});

test('pause resolves only when writes have stopped: memory unchanged for 200 ms', async () => {
  await withGuest({ workload: 'memstress', memoryBytes: 8 * MiB, dirtyRate: 0, running: true }, async (g) => {
    await sleep(50);
    await g.pause();
    assert.equal(g.running, false);
    const writes = g.totalWrites();
    assert.ok(writes > 0);
    const snapshot = g.memory.slice();
    g.syncDirty();
    await sleep(200);
    assert.equal(Buffer.compare(snapshot, g.memory), 0);
    assert.equal(g.totalWrites(), writes);
    assert.equal(g.syncDirty().length, 0);
    assert.equal(g.dirtyRatePagesPerSec(), 0);
    await g.resume();
    await sleep(50);
    assert.ok(g.totalWrites() > writes, 'resume starts writing again');
  });
});

test('the workload writes at its configured dirty rate, and a throttle lowers it', async () => {
  await withGuest({ workload: 'hotset', memoryBytes: 8 * MiB, dirtyRate: 20_000, running: true }, async (g) => {
    const measure = async (ms: number): Promise<number> => {
      const w0 = g.totalWrites();
      const t0 = performance.now();
      await sleep(ms);
      return ((g.totalWrites() - w0) * 1000) / (performance.now() - t0);
    };
    await sleep(50);
    const free = await measure(500);
    assert.ok(free > 14_000 && free < 24_000, `unthrottled rate ${free.toFixed(0)} pages/s near 20000`);
    assert.ok(g.dirtyRatePagesPerSec() > 10_000, `reported rate ${g.dirtyRatePagesPerSec()}`);
    g.setThrottle(0.75);
    assert.equal(g.throttle, 0.75);
    await sleep(50);
    const throttled = await measure(500);
    assert.ok(throttled < free * 0.5, `throttled ${throttled.toFixed(0)} vs free ${free.toFixed(0)} pages/s`);
    assert.ok(throttled > 0);
    assert.throws(() => g.setThrottle(1), (e) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  });
});

test('pause and resume reject instead of hanging when the workload thread has died', async () => {
  await withGuest({ workload: 'hotset', memoryBytes: 8 * MiB, running: true, answerTimeoutMs: 2000 }, async (g) => {
    await g.killWorkerForTest();
    await assert.rejects(g.pause(), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_WORKER'));
    await assert.rejects(g.resume(), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_WORKER'));
  });
});

test('a destination resumed before its memory arrived refuses and stays paused', async () => {
  await withGuest({ workload: 'zipf', memoryBytes: 8 * MiB, running: false }, async (src) => {
    const dst = await createDestinationGuest(src.description);
    try {
      assert.equal(dst.memory.every((b) => b === 0), true, 'destination memory starts zeroed');
      const check = await dst.selfCheck();
      assert.equal(check.ok, false);
      await assert.rejects(dst.resume(), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
      assert.equal(dst.running, false);
      assert.equal(dst.memory.every((b) => b === 0), true, 'nothing was written');
    } finally {
      await dst.close();
    }
  });
});

test('invalid options are refused with precise errors', async () => {
  await assert.rejects(createSyntheticGuest({ memoryBytes: 1000 }), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG') && /multiple/.test((e as Error).message));
  await assert.rejects(createSyntheticGuest({ pageSize: 3000, memoryBytes: 3000 * 100 }), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
  await assert.rejects(createSyntheticGuest({ memoryBytes: 64 * 1024 }), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG') && /too small/.test((e as Error).message));
  await assert.rejects(createSyntheticGuest({ workload: 'bogus' as never, memoryBytes: 8 * MiB }), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
  await assert.rejects(createSyntheticGuest({ hotPercent: 0, memoryBytes: 8 * MiB }), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
});
