/** Whole migrations with the link-following `adaptive` codec over a capped TCP loopback. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB } from '../../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest } from '../../src/guest/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { connectTcp, listenTcp } from '../../src/transport/index.js';
import { checkFrame } from '../../src/wire/index.js';
import { runSource, runDestination, createRoundEncoder, formatSummary, CODEC_PLANS, type MigrationReport, type RoundEncoderOptions } from '../../src/engine/index.js';

async function migrateAdaptive(threads: number): Promise<MigrationReport> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 24 * MiB, workload: 'hotset', seed: 3 });
  await new Promise((r) => setTimeout(r, 150));
  try {
    const destP = listener.accept().then((channel) => runDestination({ channel, createGuest: createDestinationGuest, keepGuest: true }));
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    const [report, dest] = await Promise.all([
      runSource({
        guest, channel, codec: 'adaptive',
        cache: createPageCache('2way', { capacityBytes: 8 * MiB }),
        maxBandwidthBytesPerSec: 40e6,
        convergence: { downtimeLimitMs: 300 },
        createEncoder: (o: RoundEncoderOptions) => createRoundEncoder(o, threads),
      }),
      destP,
    ]);
    assert.equal(dest.verified, true);
    await dest.guest?.close();
    return report;
  } finally {
    await listener.close();
    await guest.close();
  }
}

function assertExplained(r: MigrationReport): void {
  assert.equal(r.status, 'completed');
  assert.equal(r.verified, true);
  assert.equal(r['self-check']?.ok, true, `self-check: ${r['self-check']?.detail}`);
  assert.equal(r.codec, 'adaptive');
  for (const row of r.rounds) {
    const c = row['codec-choice'];
    assert.ok(c, `round ${row.round} has a codec-choice`);
    assert.ok(CODEC_PLANS.some((p) => c.plan.startsWith(p)), c.plan);
    assert.deepEqual(c.candidates.map((x) => x.plan), [...CODEC_PLANS]);
    for (const x of c.candidates) assert.ok(x.cpuBytesPerSec > 0 && x.ratio > 0 && x.predictedMs >= 0, JSON.stringify(x));
    // The cap bounds the link the chooser assumes.
    assert.ok(c.linkBytesPerSec !== null && c.linkBytesPerSec <= 40e6, `link ${c.linkBytesPerSec}`);
  }
  const text = formatSummary(r);
  for (const row of r.rounds) assert.match(text, new RegExp(`codec r${row.round} `));
}

test('an adaptive migration over a capped loopback verifies and explains its codec choice every round', { timeout: 120_000 }, async () => {
  assertExplained(await migrateAdaptive(1));
});

test('an adaptive migration encoded by 2 worker threads verifies and explains its codec choice every round', { timeout: 120_000 }, async () => {
  assertExplained(await migrateAdaptive(2));
});
