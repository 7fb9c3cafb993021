/**
 * The short soak (the full one is `livemig bench soak`, 50 trips): one guest migrated back and forth,
 * every trip verified, and this process holding no more fds or threads at the end than at the start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../../../bench/soak.js';

test('six back-and-forth migrations of one guest all verify and leak no fds or threads', async () => {
  // A warm-up trip first, so lazily created resources (the codec addon, the libuv pool) are in the baseline.
  await soak({ trips: 1, guestMiB: 8, codec: 'lz4-delta' });
  const r = await soak({ trips: 6, guestMiB: 8, codec: 'lz4-delta' });
  assert.equal(r.verified, 6);
  const first = r.samples[0];
  const last = r.samples.at(-1)!;
  assert.ok(last.fds <= first.fds + 2, `open fds grew from ${first.fds} to ${last.fds}`);
  assert.ok(last.threads <= first.threads + 2, `threads grew from ${first.threads} to ${last.threads}`);
  console.log(`# soak: ${JSON.stringify(r.samples)}`);
});
