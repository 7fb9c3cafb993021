/**
 * Multi-page blocks in the engine (page-record-writer.ts): the inline encoder and the worker pool
 * group pages into block records that rebuild the guest exactly, round after round; ROUND_END
 * counts pages, not records; a whole migration verifies; an older destination is refused cleanly.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, isLivemigError } from '../../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest, PageHashTable, memoryDigest, type Guest } from '../../src/guest/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { blockCodecById, blockCodecNames, codecNames, getCodecById, xorBytes } from '../../src/codec/index.js';
import { connectTcp, listenTcp } from '../../src/transport/index.js';
import { FrameType, checkFrame, decodeControl, decodeFrame, encodeHelloAck, forEachPageRecord, negotiate, SUPPORTED_PROTOCOL_VERSIONS } from '../../src/wire/index.js';
import {
  InlineRoundEncoder, WorkerRoundEncoder, blockSettingsOf, blockWireCodecs, runDestination, runSource,
  type EncodeCounters, type MigrationCodec, type RoundEncoder, type RoundEncoderOptions,
} from '../../src/engine/index.js';
import type { PlanOrder } from '../../src/engine/codec-plan.js';

const GUEST_BYTES = 8 * MiB;
const BATCH = 256 * 1024;
const header = { flags: 0, nextSeq: () => 0 };

/** A destination's memory that applies page and block records, and counts what it saw. */
class Sink {
  readonly memory: Uint8Array;
  readonly scratch: Uint8Array;
  pages: number[] = [];
  blockRecords = 0;
  pageRecords = 0;
  constructor(readonly pageSize: number, readonly pageCount: number) {
    this.memory = new Uint8Array(pageSize * pageCount);
    this.scratch = new Uint8Array(64 * pageSize);
  }
  emit = async (frame: Uint8Array, onSent: () => void): Promise<void> => {
    const f = decodeFrame(frame);
    assert.equal(f.type, FrameType.PAGES);
    const P = this.pageSize;
    forEachPageRecord(f.body, (index, codecId, payload) => {
      const block = blockCodecById(codecId);
      if (block) {
        this.blockRecords++;
        const d = block.decode(payload, index, this.pageCount, P, this.scratch);
        d.pages.forEach((p, k) => {
          const page = this.memory.subarray(p * P, (p + 1) * P);
          const bytes = d.data.subarray(k * P, (k + 1) * P);
          if (block.delta) xorBytes(page, page, bytes);
          else page.set(bytes);
          this.pages.push(p);
        });
        return;
      }
      this.pageRecords++;
      getCodecById(codecId).decode(payload, this.memory.subarray(index * P, (index + 1) * P));
      this.pages.push(index);
    });
    onSent();
  };
}

function withoutBytes(c: EncodeCounters): Partial<EncodeCounters> {
  const { encodeMs: _t, fullPayloadBytes: _f, deltaPayloadBytes: _d, overflowPages: _o, fullPages: _p, deltaPages: _q, ...rest } = c;
  return rest;
}

/** Rounds of a hotset guest through `make`'s encoder (blocks of 64) and a page-by-page inline one. */
async function roundsRebuildTheGuest(codec: MigrationCodec, make: (o: RoundEncoderOptions) => RoundEncoder): Promise<void> {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'hotset', seed: 12, running: false });
  const cacheBytes = GUEST_BYTES;
  const base = { guest, codec, batchBytes: BATCH, codecOptions: { zstdLevel: 1 } };
  const blocked = make({ ...base, cache: createPageCache('2way', { capacityBytes: cacheBytes }), table: new PageHashTable(guest.pageCount, { shared: true }), blockPages: 64 });
  const plainTable = new PageHashTable(guest.pageCount, { shared: true });
  const plain = new InlineRoundEncoder({ ...base, cache: createPageCache('2way', { capacityBytes: cacheBytes }), table: plainTable, blockPages: 1 });
  try {
    const sb = new Sink(guest.pageSize, guest.pageCount);
    const sp = new Sink(guest.pageSize, guest.pageCount);
    let blockBytes = 0;
    let plainBytes = 0;
    for (let round = 0; round < 3; round++) {
      if (round > 0) {
        await guest.resume();
        await new Promise((r) => setTimeout(r, 80));
        await guest.pause();
      }
      const pages = guest.syncDirty();
      sb.pages = [];
      sp.pages = [];
      const rb = await blocked.encodeRound(round, pages, header, sb.emit);
      const rp = await plain.encodeRound(round, pages, header, sp.emit);
      blockBytes += rb.payloadBytes;
      plainBytes += rp.payloadBytes;
      assert.equal(rb.records, sb.pages.length, `round ${round}: records counts pages, as ROUND_END announces`);
      assert.deepEqual([...sb.pages].sort((x, y) => x - y), [...sp.pages].sort((x, y) => x - y), `round ${round}: the same pages went out`);
      assert.deepEqual(withoutBytes(blocked.counters), withoutBytes(plain.counters), `round ${round}: page counters`);
      assert.equal(blocked.counters.fullPages + blocked.counters.deltaPages, plain.counters.fullPages + plain.counters.deltaPages);
      assert.ok(Buffer.from(sb.memory).equals(guest.memory), `round ${round}: the decoded blocks rebuild the guest`);
      assert.equal(plainTable.root(), memoryDigest(guest.memory, guest.pageSize));
    }
    assert.ok(sb.blockRecords > 0, 'block records went out');
    assert.ok(blockBytes < plainBytes, `blocks: ${blockBytes} payload bytes, page by page: ${plainBytes}`);
  } finally {
    await blocked.close();
    await guest.close();
  }
}

for (const codec of ['lz4', 'lz4-delta', 'zstd-delta'] as const) {
  test(`inline blocks of 64 (${codec}) rebuild the guest round after round, with the page counters of page-by-page and fewer bytes`, { timeout: 120_000 }, async () => {
    await roundsRebuildTheGuest(codec, (o) => new InlineRoundEncoder(o));
  });
}

test('two encode workers with blocks (lz4-delta) rebuild the guest and count pages, not records', { timeout: 120_000 }, async () => {
  await roundsRebuildTheGuest('lz4-delta', (o) => new WorkerRoundEncoder(o, { threads: 2 }));
});

test('adaptive in blocks of 64 (its first plan, lz4-delta) rebuilds the guest with the page counters of page-by-page and fewer bytes', { timeout: 120_000 }, async () => {
  await roundsRebuildTheGuest('adaptive', (o) => new InlineRoundEncoder(o));
});

/** adaptive in blocks with `plans` set round by round (blends too), inline or in workers; the guest must rebuild. */
async function plansRebuildTheGuest(make: (o: RoundEncoderOptions) => RoundEncoder): Promise<void> {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'hotset', seed: 5, running: false });
  const enc = make({
    guest, codec: 'adaptive', batchBytes: BATCH, blockPages: 64, codecOptions: {},
    cache: createPageCache('2way', { capacityBytes: GUEST_BYTES }), table: new PageHashTable(guest.pageCount, { shared: true }),
  });
  const plans: PlanOrder[] = [
    { plan: 'zstd-delta@1', sampleEvery: 1 },
    { plan: 'raw', sampleEvery: 1 },
    { plan: 'lz4-delta', blend: 'zstd-delta@-1', blendFraction: 0.5, sampleEvery: 1 },
    { plan: 'zstd-delta@1', sampleEvery: 1 },
  ];
  try {
    const sink = new Sink(guest.pageSize, guest.pageCount);
    const ids: Set<number>[] = [];
    const inner = sink.emit;
    let seen = new Set<number>();
    sink.emit = async (frame, onSent) => {
      forEachPageRecord(decodeFrame(frame).body, (_i, id) => void seen.add(id));
      await inner(frame, onSent);
    };
    for (let round = 0; round < plans.length; round++) {
      if (round > 0) {
        await guest.resume();
        await new Promise((r) => setTimeout(r, 80));
        await guest.pause();
      }
      seen = new Set();
      enc.setPlan!(plans[round]);
      await enc.encodeRound(round, guest.syncDirty(), header, sink.emit);
      ids.push(seen);
      assert.ok(Buffer.from(sink.memory).equals(guest.memory), `round ${round} (${JSON.stringify(plans[round])}): the records rebuild the guest`);
      const samples = enc.takeSamples!()!;
      const own = samples.plans[plans[round].plan];
      assert.ok(own !== undefined && Object.values(own).some((c) => c.pages > 0), `round ${round}: the plan in use timed its own blocks`);
      const others = Object.keys(samples.plans).filter((p) => p !== plans[round].plan && p !== plans[round].blend);
      assert.ok(others.length > 0, `round ${round}: the other plans were sampled on blocks`);
    }
    const name = (id: number): string => blockCodecById(id)?.name ?? getCodecById(id).name;
    const names = ids.map((s) => new Set([...s].map(name)));
    assert.ok(names[0].has('zstd-block'), `round 0 (zstd) sent ${[...names[0]].join(', ')}`);
    assert.ok(!names[1].has('lz4-block') && !names[1].has('zstd-block') && !names[1].has('lz4-delta-block') && !names[1].has('zstd-delta-block'),
      `round 1 (raw) sent no blocks: ${[...names[1]].join(', ')}`);
    assert.ok([...names[2]].some((n) => n.startsWith('lz4')) && [...names[2]].some((n) => n.startsWith('zstd')), `round 2 (a blend) sent both families: ${[...names[2]].join(', ')}`);
  } finally {
    await enc.close();
    await guest.close();
  }
}

test('adaptive in blocks follows the plan set for each round (zstd, raw, a blend) and rebuilds the guest; its samples are of blocks', { timeout: 120_000 }, async () => {
  await plansRebuildTheGuest((o) => new InlineRoundEncoder(o));
});

test('adaptive in blocks in two encode workers follows the plans and rebuilds the guest', { timeout: 120_000 }, async () => {
  await plansRebuildTheGuest((o) => new WorkerRoundEncoder(o, { threads: 2 }));
});

test('block settings: the lz4 and zstd families and adaptive, 1 is off, 65 is refused; the handshake lists what may be sent', () => {
  assert.equal(blockSettingsOf('lz4-delta', 1), null);
  assert.equal(blockSettingsOf('xbzrle', 64), null);
  assert.equal(blockSettingsOf('adaptive', 64)?.byPlan, true);
  assert.equal(blockSettingsOf('adaptive', 1), null);
  assert.deepEqual(blockWireCodecs('adaptive', 64), ['lz4-block', 'zstd-block', 'lz4-delta-block', 'zstd-delta-block']);
  assert.equal(blockSettingsOf('zstd', 16, { zstdLevel: 3 })?.full.level, 3);
  assert.equal(blockSettingsOf('zstd', 16)?.delta, null);
  assert.deepEqual(blockWireCodecs('lz4-delta', 64), ['lz4-block', 'lz4-delta-block']);
  assert.deepEqual(blockWireCodecs('zstd', 2), ['zstd-block']);
  assert.deepEqual(blockWireCodecs('none', 64), []);
  assert.deepEqual(blockWireCodecs('lz4', 1), []);
  for (const bad of [0, 65, 2.5]) assert.throws(() => blockSettingsOf('lz4', bad), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
});

async function overLoopback<T>(guest: Guest, dest: (channel: Awaited<ReturnType<typeof connectTcp>>) => Promise<T>, source: Partial<Parameters<typeof runSource>[0]>) {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  try {
    const destP = listener.accept().then(dest);
    const channel = await connectTcp(listener.address, { messageLength: checkFrame });
    const src = runSource({ guest, channel, cache: createPageCache('2way', { capacityBytes: 4 * MiB }), convergence: { downtimeLimitMs: 300 }, ...source });
    return await Promise.allSettled([src, destP]);
  } finally {
    await listener.close();
  }
}

for (const threads of [1, 2]) {
  test(`a hotset migration with --block-pages 16 verifies end to end (${threads === 1 ? 'inline' : '2 encode workers'})`, { timeout: 120_000 }, async () => {
    const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 7 });
    await new Promise((r) => setTimeout(r, 150));
    try {
      const [src, dst] = await overLoopback(guest,
        (channel) => runDestination({ channel, createGuest: createDestinationGuest }),
        { codec: 'zstd-delta', blockPages: 16, createEncoder: threads === 1 ? undefined : (o) => new WorkerRoundEncoder(o, { threads }) });
      assert.equal(src.status, 'fulfilled', String((src as PromiseRejectedResult).reason));
      assert.equal(dst.status, 'fulfilled', String((dst as PromiseRejectedResult).reason));
      const r = (src as PromiseFulfilledResult<Awaited<ReturnType<typeof runSource>>>).value;
      const d = (dst as PromiseFulfilledResult<Awaited<ReturnType<typeof runDestination>>>).value;
      assert.equal(r.verified, true);
      assert.equal(r['self-check']?.ok, true);
      const sent = r.rounds.reduce((s, x) => s + x['pages-sent'], 0);
      assert.equal(d['pages-applied'], sent, 'the destination applied every page the source sent');
      assert.equal(sent, r.counters.zeroPages + r.counters.fullPages + r.counters.deltaPages);
    } finally {
      await guest.close();
    }
  });
}

test('a destination that does not know block codecs is refused cleanly by the source, before any page, and the guest keeps running', { timeout: 60_000 }, async () => {
  const guest = await createSyntheticGuest({ memoryBytes: 8 * MiB, workload: 'idle', seed: 3 });
  let pagesSeen = 0;
  try {
    const [src] = await overLoopback(guest, async (channel) => {
      // An older destination: the page codecs only.
      try {
        for await (const msg of channel) {
          const frame = decodeFrame(msg);
          if (frame.type === FrameType.HELLO) {
            const hello = decodeControl(frame);
            if (hello.type !== FrameType.HELLO) continue;
            const ack = negotiate(hello.body, { codecs: codecNames(), pageSize: hello.body.guest.pageSize, maxFrameBytes: 4 * MiB, protocolVersions: SUPPORTED_PROTOCOL_VERSIONS });
            await channel.send(encodeHelloAck(ack));
          } else if (frame.type === FrameType.PAGES) {
            pagesSeen++;
          } else if (frame.type === FrameType.ABORT) {
            break;
          }
        }
      } finally {
        channel.destroy();
      }
    }, { codec: 'lz4-delta', blockPages: 64 });
    assert.equal(src.status, 'rejected');
    const err = (src as PromiseRejectedResult).reason;
    assert.ok(isLivemigError(err, 'LIVEMIG_E_HANDSHAKE'), String(err));
    assert.match(err.message, /lz4-block, lz4-delta-block.*--block-pages 1/);
    assert.equal(pagesSeen, 0);
    assert.equal(guest.running, true);
  } finally {
    await guest.close();
  }
});

test('adaptive in blocks to a destination without zstd chooses among raw and lz4-delta only, and verifies', { timeout: 60_000 }, async () => {
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 9 });
  await new Promise((r) => setTimeout(r, 150));
  const older = [...codecNames(), ...blockCodecNames()].filter((c) => !c.startsWith('zstd'));
  try {
    const [src, dst] = await overLoopback(guest,
      (channel) => runDestination({ channel, createGuest: createDestinationGuest, codecs: older }),
      // 10 MB/s: a link slow enough that zstd would be chosen if it were allowed.
      { codec: 'adaptive', blockPages: 64, maxBandwidthBytesPerSec: 10_000_000 });
    assert.equal(src.status, 'fulfilled', String((src as PromiseRejectedResult).reason));
    assert.equal(dst.status, 'fulfilled', String((dst as PromiseRejectedResult).reason));
    const r = (src as PromiseFulfilledResult<Awaited<ReturnType<typeof runSource>>>).value;
    assert.equal(r.verified, true);
    const choices = r.rounds.map((x) => x['codec-choice']);
    assert.ok(choices.length > 0 && choices.every((c) => c !== undefined), 'every round explains its choice');
    for (const c of choices) {
      assert.ok(!c!.plan.includes('zstd'), `chose ${c!.plan}`);
      assert.ok(c!.candidates.every((k) => !k.plan.includes('zstd')), `weighed ${c!.candidates.map((k) => k.plan).join(', ')}`);
    }
  } finally {
    await guest.close();
  }
});
