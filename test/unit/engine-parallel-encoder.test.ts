import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB } from '../../src/core/index.js';
import { createSyntheticGuest, PageHashTable, memoryDigest, type Guest } from '../../src/guest/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { getCodecById } from '../../src/codec/index.js';
import { decodeFrame, forEachPageRecord, FrameType } from '../../src/wire/index.js';
import {
  InlineRoundEncoder, WorkerRoundEncoder, createRoundEncoder, type EncodeCounters, type MigrationCodec, type RoundEncoder,
} from '../../src/engine/index.js';

const GUEST_BYTES = 8 * MiB;
const BATCH = 64 * 1024;

/** A destination's memory: applies every record of every frame emitted, and remembers what came. */
class Sink {
  readonly memory: Uint8Array;
  readonly records: number[] = [];
  frames = 0;
  constructor(readonly pageSize: number, pageCount: number) {
    this.memory = new Uint8Array(pageSize * pageCount);
  }
  emit = async (frame: Uint8Array, onSent: () => void): Promise<void> => {
    const f = decodeFrame(frame);
    assert.equal(f.type, FrameType.PAGES);
    this.frames++;
    forEachPageRecord(f.body, (index, codecId, payload) => {
      getCodecById(codecId).decode(payload, this.memory.subarray(index * this.pageSize, (index + 1) * this.pageSize));
      this.records.push(index);
    });
    onSent();
  };
}

function withoutTime(c: EncodeCounters): Omit<EncodeCounters, 'encodeMs'> {
  const { encodeMs: _, ...rest } = c;
  return rest;
}

const header = { flags: 0, nextSeq: () => 0 };

/** Runs `rounds` rounds on a paused guest through both encoders, letting the workload write in between. */
async function compareEncoders(codec: MigrationCodec, rounds: number, sharedTable: boolean): Promise<void> {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'hotset', seed: 11, running: false });
  const mk = (shared: boolean) => ({
    table: new PageHashTable(guest.pageCount, { shared }),
    // As large as the guest, so neither cache evicts and the outcomes must agree page for page.
    cache: createPageCache('2way', { capacityBytes: GUEST_BYTES }),
  });
  const a = mk(false);
  const b = mk(sharedTable);
  // Page by page: blocks group a worker's share differently from the whole round (engine-blocks.test.ts covers them).
  const inline = new InlineRoundEncoder({ guest, codec, cache: a.cache, table: a.table, batchBytes: BATCH, blockPages: 1 });
  const workers = new WorkerRoundEncoder({ guest, codec, cache: b.cache, table: b.table, batchBytes: BATCH, blockPages: 1 }, { threads: 2 });
  try {
    const sa = new Sink(guest.pageSize, guest.pageCount);
    const sb = new Sink(guest.pageSize, guest.pageCount);
    for (let round = 0; round < rounds; round++) {
      if (round > 0) {
        await guest.resume();
        await new Promise((r) => setTimeout(r, 60));
        await guest.pause();
      }
      const pages = guest.syncDirty();
      sa.records.length = 0;
      sb.records.length = 0;
      const ra = await inline.encodeRound(round, pages, header, sa.emit);
      const rb = await workers.encodeRound(round, pages, header, sb.emit);
      assert.deepEqual(rb, ra, `round ${round}: records and payload bytes`);
      assert.deepEqual([...sb.records].sort((x, y) => x - y), [...sa.records].sort((x, y) => x - y), `round ${round}: the same pages went out`);
      assert.deepEqual(withoutTime(workers.counters), withoutTime(inline.counters), `round ${round}: counters`);
      assert.ok(Buffer.from(sb.memory).equals(guest.memory), `round ${round}: the decoded pages equal the guest's`);
      assert.ok(Buffer.from(sa.memory).equals(guest.memory));
      assert.equal(b.table.root(), a.table.root(), `round ${round}: page hashes`);
      assert.equal(b.table.root(), memoryDigest(guest.memory, guest.pageSize));
    }
    assert.ok(workers.counters.encodeMs > 0);
    if (codec !== 'none' && codec !== 'lz4') assert.ok(workers.counters.deltaPages > 0, 'later rounds sent deltas');
  } finally {
    await workers.close();
    await guest.close();
  }
}

for (const codec of ['none', 'lz4', 'xbzrle', 'lz4-delta', 'adaptive'] as const) {
  test(`two encode workers send the same pages, hashes and counters as the inline encoder (${codec})`, { timeout: 120_000 }, async () => {
    await compareEncoders(codec, 3, true);
  });
}

test('with a PageHashTable that is not shared, the workers\' hashes are copied into it after each round', { timeout: 120_000 }, async () => {
  await compareEncoders('lz4-delta', 2, false);
});

test('a stalled transport holds each worker to its frames in flight', { timeout: 60_000 }, async () => {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'idle', seed: 2, running: false });
  const table = new PageHashTable(guest.pageCount, { shared: true });
  const enc = new WorkerRoundEncoder({ guest, codec: 'none', cache: null, table, batchBytes: BATCH }, { threads: 2, framesInFlight: 2 });
  try {
    const sink = new Sink(guest.pageSize, guest.pageCount);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const pages = guest.syncDirty();
    const round = enc.encodeRound(0, pages, header, async (frame, onSent) => {
      if (first) {
        first = false;
        await gate;
      }
      await sink.emit(frame, onSent);
    });
    // 8 MiB of incompressible-ish pages in 64 KiB batches is over 100 frames: unbounded workers would queue them all.
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(enc.framesQueued <= 2 * 2, `${enc.framesQueued} frames queued`);
    release();
    const r = await round;
    assert.ok(sink.frames > 8, `${sink.frames} frames`);
    assert.equal(r.records, enc.counters.zeroPages + enc.counters.fullPages);
    assert.ok(Buffer.from(sink.memory).equals(guest.memory));
  } finally {
    await enc.close();
    await guest.close();
  }
});

test('a worker that dies fails the round with LIVEMIG_E_ENCODER_WORKER, and close() may be called twice', { timeout: 60_000 }, async () => {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'hotset', seed: 4, running: false });
  const table = new PageHashTable(guest.pageCount, { shared: true });
  const cache = createPageCache('2way', { capacityBytes: 2 * MiB });
  const enc = new WorkerRoundEncoder({ guest, codec: 'lz4-delta', cache, table, batchBytes: BATCH }, { threads: 2, framesInFlight: 1 });
  try {
    const sink = new Sink(guest.pageSize, guest.pageCount);
    let frames = 0;
    const round = enc.encodeRound(0, guest.syncDirty(), header, async (frame, onSent) => {
      if (++frames === 1) await enc.terminateWorkerForTest(0);
      await sink.emit(frame, onSent);
    });
    await assert.rejects(round, (e: { code?: string }) => e.code === 'LIVEMIG_E_ENCODER_WORKER');
    await assert.rejects(enc.encodeRound(1, new Uint32Array([1, 2]), header, sink.emit), (e: { code?: string }) => e.code === 'LIVEMIG_E_ENCODER_WORKER');
  } finally {
    await enc.close();
    await enc.close();
    await guest.close();
  }
});

test('createRoundEncoder encodes inline for one thread or for memory that is not shared', async () => {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'idle', seed: 2, running: false });
  const table = new PageHashTable(guest.pageCount);
  const opts = { guest, codec: 'none' as const, cache: null, table, batchBytes: BATCH };
  const close = async (e: RoundEncoder) => e.close();
  try {
    const one = createRoundEncoder(opts, 1);
    assert.ok(one instanceof InlineRoundEncoder);
    await close(one);
    const two = createRoundEncoder(opts, 2);
    assert.ok(two instanceof WorkerRoundEncoder);
    await close(two);
    const plain = new Uint8Array(guest.memory.length);
    const unshared: Guest = Object.create(guest, { memory: { value: plain } });
    const fallback = createRoundEncoder({ ...opts, guest: unshared }, 2);
    assert.ok(fallback instanceof InlineRoundEncoder);
    await close(fallback);
  } finally {
    await guest.close();
  }
});

test('a transport error during a round propagates, and the encoder refuses further rounds instead of mixing them', { timeout: 60_000 }, async () => {
  const guest = await createSyntheticGuest({ memoryBytes: GUEST_BYTES, workload: 'hotset', seed: 6, running: false });
  const table = new PageHashTable(guest.pageCount, { shared: true });
  const enc = new WorkerRoundEncoder({ guest, codec: 'none', cache: null, table, batchBytes: BATCH }, { threads: 2 });
  try {
    const boom = new Error('link down');
    await assert.rejects(enc.encodeRound(0, guest.syncDirty(), header, async () => { throw boom; }), (e) => e === boom);
    await assert.rejects(enc.encodeRound(1, new Uint32Array([3]), header, async (_f, onSent) => onSent()), (e: { code?: string }) => e.code === 'LIVEMIG_E_INTERNAL');
  } finally {
    await enc.close();
    await guest.close();
  }
});
