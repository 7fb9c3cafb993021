import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../helpers/prng.js';
import { throwsCode } from './wire-test-kit.js';
import {
  FRAME_HEADER_BYTES, FrameType, MIN_BATCH_FRAME_BYTES, PAGE_RECORD_HEADER_BYTES, PAGES_BODY_HEADER_BYTES,
  PageBatchBuilder, countPageRecords, decodeFrame, forEachPageRecord,
} from '../../src/wire/index.js';

interface Rec { pageIndex: number; codecId: number; payload: Uint8Array }

function readAll(body: Uint8Array): Rec[] {
  const out: Rec[] = [];
  const n = forEachPageRecord(body, (pageIndex, codecId, payload) => out.push({ pageIndex, codecId, payload: payload.slice() }));
  assert.equal(n, out.length);
  return out;
}

/** The naive reference encoding of a PAGES body, built with Buffer.concat. */
function referenceBody(records: Rec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32LE(records.length);
  parts.push(count);
  for (const r of records) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(r.pageIndex, 0);
    h.writeUInt8(r.codecId, 4);
    h.writeUIntLE(r.payload.length, 5, 3);
    parts.push(h, r.payload);
  }
  const joined = Buffer.concat(parts);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
}

test('a batch of thousands of small records round-trips, byte-identical to the naive reference', () => {
  const rng = new Prng(1);
  const builder = new PageBatchBuilder();
  const records: Rec[] = [];
  for (let i = 0; i < 5000; i++) {
    const payload = rng.bytes(rng.int(0, 300));
    const rec = { pageIndex: rng.u32(), codecId: rng.int(0, 256), payload };
    const out = builder.reserve(payload.length + rng.int(0, 64));
    assert.ok(out);
    out.set(payload);
    builder.commit(rec.pageIndex, rec.codecId, payload.length);
    records.push(rec);
  }
  assert.equal(builder.count, 5000);
  assert.equal(builder.payloadBytes, records.reduce((s, r) => s + r.payload.length, 0));
  const frame = decodeFrame(builder.finish({ round: 9, seq: 77 }));
  assert.equal(frame.type, FrameType.PAGES);
  assert.equal(frame.round, 9);
  assert.equal(frame.seq, 77);
  assert.deepEqual(frame.body, referenceBody(records));
  assert.deepEqual(readAll(frame.body), records);
  assert.equal(builder.count, 0, 'finish resets the builder');
});

test('full 4 KiB page payloads fill a batch up to the limit and round-trip', () => {
  const rng = new Prng(2);
  const builder = new PageBatchBuilder(1 << 20);
  const pages: Rec[] = [];
  for (;;) {
    const out = builder.reserve(4096);
    if (out === null) break;
    rng.fill(out);
    const rec = { pageIndex: pages.length, codecId: 1, payload: out.slice() };
    builder.commit(rec.pageIndex, 1, 4096);
    pages.push(rec);
  }
  const perRecord = 4096 + PAGE_RECORD_HEADER_BYTES;
  assert.equal(pages.length, Math.floor(((1 << 20) - FRAME_HEADER_BYTES - PAGES_BODY_HEADER_BYTES) / perRecord));
  const frame = builder.finish();
  assert.ok(frame.length <= 1 << 20);
  assert.deepEqual(readAll(decodeFrame(frame).body), pages);
});

test('a raw 64 KiB page fits one record (the 24-bit length)', () => {
  const builder = new PageBatchBuilder(1 << 20);
  const page = new Prng(3).bytes(65536);
  assert.ok(builder.add(5, 1, page));
  const recs = readAll(decodeFrame(builder.finish()).body);
  assert.deepEqual(recs, [{ pageIndex: 5, codecId: 1, payload: page }]);
});

test('the builder never makes a frame larger than maxFrameBytes', () => {
  const rng = new Prng(4);
  for (const max of [MIN_BATCH_FRAME_BYTES, 100, 4096, 10_000, 65_536 + 36]) {
    const builder = new PageBatchBuilder(max);
    let frames = 0;
    for (let i = 0; i < 3000; i++) {
      const want = rng.int(0, Math.min(max - MIN_BATCH_FRAME_BYTES, 5000) + 1);
      let out = builder.reserve(want);
      if (out === null) {
        const frame = builder.finish();
        assert.ok(frame.length <= max, `frame of ${frame.length} > ${max}`);
        assert.ok(frame.length + want + PAGE_RECORD_HEADER_BYTES > max, 'finished a batch that still had room');
        frames++;
        out = builder.reserve(want);
      }
      assert.ok(out, 'an empty batch must take any payload that fits the limit');
      builder.commit(i, 0, rng.int(0, want + 1));
      assert.ok(builder.frameBytes <= max);
    }
    assert.ok(builder.finish().length <= max);
    assert.ok(frames > 0 || max > 10_000);
  }
});

test('a payload that cannot fit even an empty batch is an option error, not an endless null', () => {
  const builder = new PageBatchBuilder(4096);
  throwsCode(() => builder.reserve(4096), 'LIVEMIG_E_INVALID_OPTION', /cannot hold a 4096-byte page payload/);
  throwsCode(() => new PageBatchBuilder(10), 'LIVEMIG_E_INVALID_OPTION', /Expected maxFrameBytes/);
});

test('commit checks it follows a reserve and stays inside the reservation', () => {
  const builder = new PageBatchBuilder(4096);
  throwsCode(() => builder.commit(1, 1, 0), 'LIVEMIG_E_INTERNAL', /without a reserve/);
  builder.reserve(10);
  throwsCode(() => builder.commit(1, 1, 11), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => builder.commit(1, 256, 1), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => builder.commit(-1, 1, 1), 'LIVEMIG_E_INTERNAL');
  builder.commit(1, 1, 10);
  throwsCode(() => builder.commit(2, 1, 1), 'LIVEMIG_E_INTERNAL', /without a reserve/);
});

test('an abandoned reservation leaves no record behind', () => {
  const builder = new PageBatchBuilder(4096);
  builder.reserve(100)!.fill(0xaa); // encoder gave up (returned null)
  const out = builder.reserve(3)!;
  out.set([1, 2, 3]);
  builder.commit(42, 1, 3);
  assert.deepEqual(readAll(decodeFrame(builder.finish()).body), [{ pageIndex: 42, codecId: 1, payload: Uint8Array.of(1, 2, 3) }]);
});

test('an empty batch is a valid frame of zero records', () => {
  const frame = decodeFrame(new PageBatchBuilder().finish({ round: 1 }));
  assert.equal(forEachPageRecord(frame.body, () => assert.fail('no records expected')), 0);
});

test('forEachPageRecord rejects every malformed body before visiting any record', () => {
  const builder = new PageBatchBuilder(4096);
  builder.add(1, 1, Uint8Array.of(1, 2, 3));
  builder.add(2, 1, Uint8Array.of(4, 5));
  const good = decodeFrame(builder.finish()).body;
  const visitNone = () => assert.fail('fn called on a malformed batch');
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 3), /no record count/],
    [good.subarray(0, good.length - 1), /runs past the body end/],
    [good.subarray(0, 4 + 8 + 3 + 7), /header at byte 15 runs past/],
    [Buffer.concat([good, Uint8Array.of(0)]), /1 bytes after the last of 2 records/],
    [Buffer.from([0xff, 0xff, 0xff, 0xff, ...good.subarray(4)]), /cannot fit/],
    [Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff]), /16777215-byte payload/],
  ];
  for (const [body, message] of cases) throwsCode(() => forEachPageRecord(body, visitNone), 'LIVEMIG_E_WIRE_MALFORMED', message);
  // Too few records for the bytes: the second record's bytes are "trailing".
  const lying = Uint8Array.from(good);
  lying[0] = 1;
  throwsCode(() => forEachPageRecord(lying, visitNone), 'LIVEMIG_E_WIRE_MALFORMED', /after the last of 1 records/);
  assert.equal(countPageRecords(good), 2);
});

test('forEachPageRecord works on a body that is a view at an odd offset of a larger buffer', () => {
  const builder = new PageBatchBuilder(4096);
  builder.add(7, 3, Uint8Array.of(9, 9));
  const frame = builder.finish();
  const big = new Uint8Array(frame.length + 3);
  big.set(frame, 3);
  const recs = readAll(decodeFrame(big.subarray(3)).body);
  assert.deepEqual(recs, [{ pageIndex: 7, codecId: 3, payload: Uint8Array.of(9, 9) }]);
});
