import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLivemigError } from '../../src/core/index.js';
import { createGuest, createSyntheticGuest, type SyntheticGuest } from '../../src/guest/index.js';
import { MemoryViews } from '../../src/guest/synthetic/layout.js';

const MiB = 1024 * 1024;
const WORKLOADS = ['idle', 'hotset', 'memstress', 'qemu-test', 'zipf'] as const;

function views(g: SyntheticGuest): MemoryViews {
  return new MemoryViews(g.memory.buffer, g.pageSize);
}

/** Applies `corrupt` to page `i`, expects the self-check to fail, then restores the page and expects a pass. */
async function expectDetected(g: SyntheticGuest, i: number, what: string, corrupt: (page: Uint8Array) => void): Promise<void> {
  const page = g.page(i);
  const saved = page.slice();
  corrupt(page);
  assert.notEqual(Buffer.compare(saved, page), 0, `${what}: the corruption changed page ${i}`);
  const bad = await g.selfCheck();
  assert.equal(bad.ok, false, `${what} on page ${i} must fail the self-check`);
  assert.ok(bad.errors >= 1);
  page.set(saved);
  const good = await g.selfCheck();
  assert.ok(good.ok, `${what}: restored guest passes again (${good.detail})`);
}

for (const workload of WORKLOADS) {
  test(`${workload}: an intact guest passes its self-check; a flipped byte, a zeroed page and a stale page each fail it`, async () => {
    const g = await createSyntheticGuest({ workload, memoryBytes: 16 * MiB, running: false, seed: 11 });
    try {
      const v = views(g);
      const fresh = await g.selfCheck();
      assert.ok(fresh.ok, fresh.detail);
      assert.equal(fresh.pagesChecked, g.pageCount - v.firstData);
      // Initial (never written) pages are protected too.
      const initial = (() => {
        for (let i = v.firstData; i < g.pageCount; i++) if (g.page(i).some((b, k) => k > 0 && b !== 0)) return i;
        return -1;
      })();
      assert.ok(initial > 0);
      await expectDetected(g, initial, 'flipped byte in an initial page', (p) => { p[p.length >> 1] ^= 0x01; });
      await expectDetected(g, initial, 'zeroed initial page', (p) => p.fill(0));

      await g.runSteps(3000);
      const old = g.memory.slice();
      const oldGen = (i: number): number => new Uint32Array(old.buffer)[v.tableWord + 2 * i];
      await g.runSteps(6000);
      const intact = await g.selfCheck();
      assert.ok(intact.ok, intact.detail);
      assert.equal(g.totalWrites(), 9000);
      // A page written before the snapshot and again after it: its snapshot is a stale version.
      let written = -1;
      for (let i = v.firstData; i < g.pageCount && written < 0; i++) {
        if (oldGen(i) > 0 && v.generation(i) > oldGen(i)) written = i;
      }
      assert.ok(written > 0, 'some page was written twice');
      await expectDetected(g, written, 'flipped byte in a written page', (p) => { p[100] ^= 0x80; });
      await expectDetected(g, written, 'flipped first byte of a written page', (p) => { p[0] ^= 0x04; });
      await expectDetected(g, written, 'zeroed written page', (p) => p.fill(0));
      await expectDetected(g, written, 'stale page (an older version restored)', (p) => {
        p.set(old.subarray(written * g.pageSize, (written + 1) * g.pageSize));
      });
      // A lost update of the page table itself (its older version restored).
      const tablePage = 1 + Math.floor((written * 8) / g.pageSize);
      await expectDetected(g, tablePage, 'stale page-table page', (p) => {
        p.set(old.subarray(tablePage * g.pageSize, (tablePage + 1) * g.pageSize));
      });
    } finally {
      await g.close();
    }
  });

  test(`${workload}: a destination built from a paused source's memory passes, continues the same workload and still passes`, async () => {
    const src = await createSyntheticGuest({ workload, memoryBytes: 8 * MiB, running: true, seed: 21 });
    const dst = await createGuest(src.description) as SyntheticGuest;
    try {
      await sleep(100);
      await src.pause();
      dst.memory.set(src.memory);
      const arrived = await dst.selfCheck();
      assert.ok(arrived.ok, arrived.detail);
      assert.equal(dst.description.workload, workload);
      // Same memory, same number of steps: same memory again, so the destination ran the source's workload from where it stopped.
      await src.runSteps(2000);
      await dst.runSteps(2000);
      assert.equal(Buffer.compare(src.memory, dst.memory), 0, 'destination continued the very same workload');
      const before = dst.totalWrites();
      await dst.resume();
      assert.equal(dst.running, true);
      await sleep(300);
      await dst.pause();
      assert.ok(dst.totalWrites() > before, `destination kept writing (${dst.totalWrites() - before} writes)`);
      const after = await dst.selfCheck();
      assert.ok(after.ok, after.detail);
    } finally {
      await src.close();
      await dst.close();
    }
  });
}

test('qemu-test keeps QEMU\'s invariant: every first byte equals its neighbour except at one edge', async () => {
  const g = await createSyntheticGuest({ workload: 'qemu-test', memoryBytes: 8 * MiB, running: false });
  try {
    const v = views(g);
    const nData = g.pageCount - v.firstData;
    await g.runSteps(nData + 100);
    const firsts = new Set<number>();
    let edges = 0;
    for (let i = v.firstData; i < g.pageCount; i++) {
      firsts.add(g.memory[i * g.pageSize]);
      if (i > v.firstData && g.memory[i * g.pageSize] !== g.memory[(i - 1) * g.pageSize]) edges++;
    }
    assert.deepEqual([...firsts].sort(), [1, 2]);
    assert.equal(edges, 1);
    // Swapping two pages' first bytes across the edge breaks it.
    g.memory[(v.firstData + 10) * g.pageSize] = 1;
    const bad = await g.selfCheck();
    assert.equal(bad.ok, false);
  } finally {
    await g.close();
  }
});

test('runSteps refuses a running guest', async () => {
  const g = await createSyntheticGuest({ workload: 'idle', memoryBytes: 8 * MiB, running: true });
  try {
    await assert.rejects(g.runSteps(10), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
  } finally {
    await g.close();
  }
});
