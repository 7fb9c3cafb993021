import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlendController } from '../../../src/qemu/proxy/blend-controller.js';

/** Feeds `windows` windows of 4 samples, `waiting` of which saw a backlog; returns the shares after each. */
function feed(c: BlendController, windows: number, waiting: number): number[] {
  const shares: number[] = [];
  for (let w = 0; w < windows; w++) {
    for (let k = 0; k < 4; k++) c.sample(k < waiting);
    shares.push(c.zstdShare);
  }
  return shares;
}

test('a link that keeps frames waiting raises the zstd share to 1; an idle link lowers it to 0', () => {
  const c = new BlendController();
  assert.equal(c.zstdShare, 0.5);
  assert.deepEqual(feed(c, 6, 4), [0.6, 0.7, 0.8, 0.9, 1, 1]);
  assert.deepEqual(feed(c, 11, 0), [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0, 0]);
});

test('a link that is sometimes behind keeps the share; the report holds every window', () => {
  const c = new BlendController({ initialShare: 0.3 });
  // 1 of 4 samples backlogged: 0.25, between idle (0.1) and bound (0.5).
  assert.deepEqual(feed(c, 3, 1), [0.3, 0.3, 0.3]);
  const s = c.summary();
  assert.equal(s.windows.length, 3);
  assert.deepEqual(s.windows[0], { atMs: 200, backlog: 0.25, zstdShare: 0.3 });
  assert.equal(s.meanZstdShare, 0.3);
});

test('sample returns the new share only at the end of a window that moved it', () => {
  const c = new BlendController();
  assert.equal(c.sample(true), null);
  assert.equal(c.sample(true), null);
  assert.equal(c.sample(true), null);
  assert.equal(c.sample(true), 0.6);
  for (let k = 0; k < 3; k++) c.sample(k === 0);
  assert.equal(c.sample(false), null, 'a window with a quarter backlogged leaves the share');
});
