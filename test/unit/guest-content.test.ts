import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_MIX, createSyntheticGuest } from '../../src/guest/index.js';
import { MemoryViews } from '../../src/guest/synthetic/layout.js';

const MiB = 1024 * 1024;

function isText(page: Uint8Array): boolean {
  return page.every((b) => b === 10 || (b >= 32 && b < 127));
}

test('initial content has the documented mix of zero, text, executable and heap-like pages', async () => {
  const g = await createSyntheticGuest({ workload: 'none', memoryBytes: 32 * MiB, running: false, seed: 9 });
  try {
    const v = new MemoryViews(g.memory.buffer, g.pageSize);
    const nData = g.pageCount - v.firstData;
    const stats = g.contentStats!;
    assert.equal(stats.pages.zero + stats.pages.text + stats.pages.exec + stats.pages.heap, nData);
    let zero = 0;
    let text = 0;
    let heap = 0;
    for (let i = v.firstData; i < g.pageCount; i++) {
      const page = g.page(i);
      const words = new Uint32Array(page.buffer, page.byteOffset, page.length / 4);
      if (page.every((b) => b === 0)) zero++;
      else if (isText(page)) text++;
      // Heap pages: the second pointer word of the first struct is one of the two arenas' high halves.
      else if ((words[1] === 0x7f3a || words[1] === 0x555d) && words[5] >= 0x11 && words[5] < 0x11 + 40) heap++;
    }
    const exec = nData - zero - text - heap;
    const share = (n: number): number => n / nData;
    for (const [kind, n] of [['zero', zero], ['text', text], ['heap', heap], ['exec', exec]] as const) {
      assert.ok(Math.abs(share(n) - CONTENT_MIX[kind]) < 0.1, `${kind}: ${(share(n) * 100).toFixed(1)} % vs ${CONTENT_MIX[kind] * 100} %`);
    }
    assert.ok(zero >= stats.pages.zero, 'every zero page drawn is zero');
    assert.equal(text, stats.pages.text, 'text pages are printable and only they');
    assert.equal(heap, stats.pages.heap);
    // The code pages are distinct from one another for the most part (a real binary, not a repeated page).
    const distinct = new Set<string>();
    for (let i = v.firstData; i < g.pageCount; i++) distinct.add(Buffer.from(g.page(i)).toString('base64'));
    assert.ok(distinct.size > nData * 0.5, `${distinct.size} distinct pages of ${nData}`);
  } finally {
    await g.close();
  }
});

test('initial content is deterministic from the seed', async () => {
  const a = await createSyntheticGuest({ workload: 'hotset', memoryBytes: 8 * MiB, running: false, seed: 42 });
  const b = await createSyntheticGuest({ workload: 'hotset', memoryBytes: 8 * MiB, running: false, seed: 42 });
  const c = await createSyntheticGuest({ workload: 'hotset', memoryBytes: 8 * MiB, running: false, seed: 43 });
  try {
    assert.equal(Buffer.compare(a.memory, b.memory), 0);
    assert.notEqual(Buffer.compare(a.memory, c.memory), 0);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
