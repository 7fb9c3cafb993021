import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isLivemigError } from '../../src/core/index.js';
import { createGuest, createImageGuest, createSyntheticGuest, memoryDigest, saveMemoryImage } from '../../src/guest/index.js';

test('an image guest holds the file rounded up to pages, reports every page dirty once, and has no workload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'livemig-image-'));
  try {
    const bytes = randomBytes(10_000);
    const path = join(dir, 'mem.img');
    await writeFile(path, bytes);
    const g = await createImageGuest(path);
    assert.equal(g.pageCount, 3);
    assert.equal(g.memory.length, 3 * 4096);
    assert.equal(Buffer.compare(g.memory.subarray(0, 10_000), bytes), 0);
    assert.ok(g.memory.subarray(10_000).every((b) => b === 0));
    assert.deepEqual(Array.from(g.syncDirty()), [0, 1, 2]);
    assert.equal(g.syncDirty().length, 0);
    await g.resume();
    await g.pause();
    assert.deepEqual(await g.selfCheck(), { ok: true, pagesChecked: 0, errors: 0, detail: 'no workload' });
    assert.equal(g.description.kind, 'image');
    const dst = await createGuest(g.description);
    assert.equal(dst.memory.length, g.memory.length);
    assert.ok(dst.memory.every((b) => b === 0));
    await g.close();
    await assert.rejects(createImageGuest(join(dir, 'missing.img')), (e) => isLivemigError(e, 'LIVEMIG_E_GUEST_CONFIG'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a paused synthetic guest saved as an image loads back with the same digest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'livemig-image-'));
  const src = await createSyntheticGuest({ workload: 'hotset', memoryBytes: 8 * 1024 * 1024, running: false });
  try {
    await src.runSteps(1000);
    const path = join(dir, 'guest.img');
    await saveMemoryImage(src, path);
    const img = await createGuest({ kind: 'image', path });
    assert.equal(memoryDigest(img.memory, 4096), memoryDigest(src.memory, 4096));
    await img.close();
  } finally {
    await src.close();
    await rm(dir, { recursive: true, force: true });
  }
});
