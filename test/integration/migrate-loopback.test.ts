import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, LivemigError } from '../../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest, type Guest } from '../../src/guest/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { connectTcp, listenTcp } from '../../src/transport/index.js';
import { checkFrame, FrameFlags } from '../../src/wire/index.js';
import { FaultyChannel } from '../helpers/faulty-channel.js';
import {
  runSource, runDestination, createRoundEncoder, WorkerRoundEncoder, MIGRATION_CODECS,
  type MigrationReport, type DestinationReport, type DestinationOptions, type RoundEncoder,
} from '../../src/engine/index.js';

const WORKLOADS = ['idle', 'hotset', 'memstress', 'qemu-test', 'zipf'] as const;

/** Source and destination in one process, over a real TCP loopback connection. */
async function migrate(o: {
  workload: (typeof WORKLOADS)[number];
  codec: (typeof MIGRATION_CODECS)[number];
  mib?: number;
  dest?: Partial<DestinationOptions>;
  source?: Partial<Parameters<typeof runSource>[0]>;
}): Promise<{ report: MigrationReport; dest: DestinationReport; guest: Guest }> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: (o.mib ?? 16) * MiB, workload: o.workload, seed: 7 });
  await new Promise((r) => setTimeout(r, 150));
  try {
    const destP = listener.accept().then((channel) => runDestination({ channel, createGuest: createDestinationGuest, keepGuest: true, ...o.dest }));
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    const cache = createPageCache('2way', { capacityBytes: 4 * MiB });
    const [report, dest] = await Promise.all([
      runSource({ guest, channel, codec: o.codec, cache, convergence: { downtimeLimitMs: 300 }, ...o.source }),
      destP,
    ]);
    await dest.guest?.close();
    return { report, dest, guest };
  } finally {
    await listener.close();
  }
}

function assertConsistent(r: MigrationReport, d: DestinationReport): void {
  assert.equal(r.status, 'completed');
  assert.equal(r.verified, true);
  assert.equal(d.verified, true);
  assert.equal(r['self-check']?.ok, true, `self-check: ${r['self-check']?.detail}`);
  const sum = (k: keyof MigrationReport['rounds'][number]) => r.rounds.reduce((s, x) => s + (x[k] as number), 0);
  // Every page of the dirty sets went out one way or another.
  assert.equal(sum('zero-pages') + sum('full-pages') + sum('delta-pages') + sum('unchanged-pages'), sum('dirty-pages'));
  assert.equal(sum('pages-sent'), sum('zero-pages') + sum('full-pages') + sum('delta-pages'));
  assert.equal(d['pages-applied'], sum('pages-sent'), 'the destination applied every record sent');
  // Round 0 covers the whole guest.
  assert.equal(r.rounds[0]['dirty-pages'] * r.guest['page-size'], r.total);
  // Wire bytes: rounds plus handshake and digest frames, which are small.
  const rounds = sum('wire-bytes');
  assert.ok(rounds <= r['wire-bytes'] && r['wire-bytes'] - rounds < 4096, `rounds ${rounds} vs total ${r['wire-bytes']}`);
  assert.equal(r.counters.zeroPages, r.duplicate);
  assert.equal(r['dirty-sync-count'], r.rounds.length);
  assert.equal(r.rounds.at(-1)!.phase, 'stop-copy');
  assert.ok(r.downtime > 0 && r.downtime < r['total-time']);
}

for (const workload of WORKLOADS) {
  for (const codec of MIGRATION_CODECS) {
    test(`a ${workload} guest migrates with codec ${codec}: digests match, the self-check passes, the figures add up`, async () => {
      const { report, dest, guest } = await migrate({ workload, codec });
      try {
        assertConsistent(report, dest);
        assert.equal(report.codec, codec);
      } finally {
        await guest.close();
      }
    });
  }
}

test('deltas make a hotset migration cheaper on the wire than full pages', async () => {
  const cap = { maxBandwidthBytesPerSec: 100e6, convergence: { downtimeLimitMs: 30, maxRounds: 6 } };
  const none = await migrate({ workload: 'hotset', codec: 'none', mib: 32, source: cap });
  const delta = await migrate({ workload: 'hotset', codec: 'lz4-delta', mib: 32, source: cap });
  await none.guest.close();
  await delta.guest.close();
  assert.ok(delta.report['xbzrle-cache'].pages > 0, 'some pages went as deltas');
  assert.ok(delta.report['cache-hit-rate'] > 0);
  const perResent = (r: MigrationReport) => r.rounds.slice(1).reduce((s, x) => s + x['wire-bytes'], 0) / Math.max(1, r.rounds.slice(1).reduce((s, x) => s + x['dirty-pages'], 0));
  assert.ok(perResent(delta.report) < perResent(none.report) / 2, `delta ${perResent(delta.report)} B/page vs none ${perResent(none.report)} B/page`);
});

test('bytes corrupted in flight are caught by the frame checksum: nothing resumes at the destination, the source guest runs on', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 5 });
  try {
    let destGuest: Guest | null = null;
    const destP = listener.accept().then((channel) =>
      runDestination({ channel, createGuest: async (d) => (destGuest = await createDestinationGuest(d)) }),
    );
    const inner = await connectTcp(listener.address, { messageLength: checkFrame });
    // A faulty link: flips one bit deep inside the 3rd large frame it carries.
    let large = 0;
    const faulty = new FaultyChannel(inner, (m) => {
      if (m.length > 65536 && ++large === 3) m[m.length >> 1] ^= 0x10;
    });
    const src = runSource({ guest, channel: faulty, codec: 'lz4-delta', cache: createPageCache('2way', { capacityBytes: 4 * MiB }) });
    const [d, s] = await Promise.allSettled([destP, src]);
    assert.equal(d.status, 'rejected');
    assert.equal((d as PromiseRejectedResult).reason.code, 'LIVEMIG_E_WIRE_CHECKSUM');
    assert.equal(s.status, 'rejected');
    assert.equal(guest.running, true, 'the source guest keeps running');
    assert.equal(destGuest!.running, false, 'the partial destination guest never ran');
  } finally {
    await guest.close();
    await listener.close();
  }
});

test('after a refused verdict the source guest is running again and still self-consistent', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 3 });
  try {
    const destP = listener.accept().then((channel) =>
      runDestination({ channel, createGuest: createDestinationGuest, verify: 'memory', beforeVerify: (g) => { g.page(50)[0] ^= 1; } }),
    );
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    const src = runSource({ guest, channel, codec: 'lz4-delta', cache: createPageCache('2way', { capacityBytes: 4 * MiB }) });
    const [d, s] = await Promise.allSettled([destP, src]);
    for (const r of [d, s]) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.code, 'LIVEMIG_E_DIGEST_MISMATCH');
    }
    assert.equal(guest.running, true, 'the source guest runs again');
    const snapshot = Buffer.from(guest.memory);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!snapshot.equals(guest.memory), 'the workload keeps writing on the source');
    await guest.pause();
    const check = await guest.selfCheck();
    assert.equal(check.ok, true, check.detail);
  } finally {
    await guest.close();
    await listener.close();
  }
});

for (const workload of WORKLOADS) {
  for (const codec of ['none', 'xbzrle', 'lz4-delta', 'adaptive'] as const) {
    test(`a ${workload} guest migrates with codec ${codec} encoded by 2 worker threads: digests match, the self-check passes, the figures add up`, async () => {
      const { report, dest, guest } = await migrate({ workload, codec, source: { createEncoder: (o) => createRoundEncoder(o, 2) } });
      try {
        assertConsistent(report, dest);
      } finally {
        await guest.close();
      }
    });
  }
}

test('an encode worker killed in the stop-and-copy round fails the migration; the source guest runs on', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 9 });
  try {
    let destGuest: Guest | null = null;
    const destP = listener.accept().then((channel) =>
      runDestination({ channel, createGuest: async (d) => (destGuest = await createDestinationGuest(d)) }),
    );
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    let pool: WorkerRoundEncoder | null = null;
    const createEncoder = (o: Parameters<typeof createRoundEncoder>[0]): RoundEncoder => {
      const w = (pool = new WorkerRoundEncoder(o, { threads: 2 }));
      return {
        get counters() { return w.counters; },
        get usesCache() { return w.usesCache; },
        close: () => w.close(),
        encodeRound: async (round, pages, header, emit, progress) => {
          // The guest is paused here: a crash now must still leave it running on the source.
          if (header.flags & FrameFlags.STOP_COPY) await w.terminateWorkerForTest(0);
          return w.encodeRound(round, pages, header, emit, progress);
        },
      };
    };
    const src = runSource({ guest, channel, codec: 'lz4-delta', cache: createPageCache('2way', { capacityBytes: 4 * MiB }), createEncoder });
    const [d, s] = await Promise.allSettled([destP, src]);
    assert.equal(s.status, 'rejected');
    assert.equal((s as PromiseRejectedResult).reason.code, 'LIVEMIG_E_ENCODER_WORKER');
    assert.equal(d.status, 'rejected');
    assert.ok(pool, 'the worker encoder was used');
    assert.equal(guest.running, true, 'the source guest runs again');
    assert.equal(destGuest!.running, false, 'the partial destination guest never ran');
    assert.equal((await guest.selfCheck()).ok, true);
  } finally {
    await guest.close();
    await listener.close();
  }
});
