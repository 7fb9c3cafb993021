/**
 * Driver B's pipeline without QEMU or sockets: parser → StreamSourceEncoder → PAGES frames →
 * StreamDestinationDecoder.rebuild must give the captured stream back byte for byte, whatever the
 * codec, the PageMirror setting (on, off, tiny so that it evicts) and the first-page codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_CODEC_IDS, CODEC_IDS, getCodec } from '../../../src/codec/index.js';
import { xbzrleEncode } from '../../../src/codec/xbzrle.js';
import {
  QemuStreamParser, RamFlag, StreamDestinationDecoder, StreamSourceEncoder, serializeEvents, type StreamEvent, type StreamPipelineOptions,
} from '../../../src/qemu/stream/index.js';
import { decodeFrame, forEachPageRecord } from '../../../src/wire/index.js';
import { makePrng } from '../../helpers/prng.js';
import { QEMU_FIXTURES, loadQemuFixture } from '../../helpers/qemu-fixtures.js';

/** Runs `bytes` through both halves in chunks of `chunk` bytes; returns the rebuilt stream and the encoder's stats. */
function roundTrip(bytes: Uint8Array, options: StreamPipelineOptions, chunk = 65536, keepBlockOpen = false) {
  const parser = new QemuStreamParser();
  const frames: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  const encoder = new StreamSourceEncoder(options, (f) => frames.push(f));
  const decoder = new StreamDestinationDecoder(options);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    for (const e of parser.push(bytes.subarray(at, at + chunk))) encoder.write(e);
    // The source agent keeps a run of PAGE records open across its socket reads.
    encoder.flush({ keepBlockOpen });
    // Decode as the frames come, as the destination agent does.
    for (const f of frames.splice(0)) {
      sent.push(f);
      out.push(decoder.rebuild(decodeFrame(f)));
    }
  }
  parser.end();
  return { rebuilt: Buffer.concat(out), stats: encoder.stats(), frames: sent };
}

/** Records per codec id over `frames`. */
function recordsById(frames: Uint8Array[]): Map<number, number> {
  const ids = new Map<number, number>();
  for (const f of frames) forEachPageRecord(decodeFrame(f).body, (_i, id) => ids.set(id, (ids.get(id) ?? 0) + 1));
  return ids;
}

const VARIANTS: Array<[string, Omit<StreamPipelineOptions, 'codec'>]> = [
  ['mirror on', {}],
  ['mirror off', { mirrorBytes: 0 }],
  ['lz4 first pages', { mirrorBytes: 0, firstPageCodec: getCodec('lz4') }],
];

for (const name of QEMU_FIXTURES) {
  test(`${name}: every codec and mirror setting rebuilds the captured stream byte for byte`, () => {
    const bytes = loadQemuFixture(name);
    for (const codec of ['lz4-delta', 'zstd-delta', 'lz4', 'zstd', 'xbzrle', 'adaptive', 'raw']) {
      for (const [label, extra] of VARIANTS) {
        const { rebuilt } = roundTrip(bytes, { codec: getCodec(codec), ...extra }, 1 + ((name.length * 7919) % 70_000));
        assert.ok(rebuilt.equals(Buffer.from(bytes)), `${name} ${codec} ${label}: rebuilt ${rebuilt.length} of ${bytes.length} bytes, not identical`);
      }
    }
  });
}

test('with the mirror off, XBZRLE records travel verbatim and still rebuild exactly', () => {
  const bytes = loadQemuFixture('xbzrle10');
  const on = roundTrip(bytes, { codec: getCodec('lz4-delta') });
  const off = roundTrip(bytes, { codec: getCodec('lz4-delta'), mirrorBytes: 0 });
  assert.ok(off.rebuilt.equals(Buffer.from(bytes)));
  assert.ok(off.stats.verbatim > on.stats.verbatim, `verbatim records: ${off.stats.verbatim} (off) vs ${on.stats.verbatim} (on)`);
});

// ---- a synthetic XBZRLE stream that makes a small mirror evict ---------------------------------

function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
function be64(n: number): number[] {
  return [...be32(Math.floor(n / 2 ** 32)), ...be32(n % 2 ** 32)];
}
const str = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** A whole QEMU stream: one ram block 'pc.ram' of `pages` pages, one PART section holding `rec`, and the vmdesc. */
function ramStream(pages: number, rec: number[]): Uint8Array {
  const json = str('{"page_size":4096,"devices":[]}');
  return Uint8Array.from([
    ...str('QEVM'), ...be32(3), 0x07, ...be32(4), ...str('pc-x'),
    0x01, ...be32(1), 3, ...str('ram'), ...be32(0), ...be32(4),
    ...be64(pages * 4096 + RamFlag.MEM_SIZE), 6, ...str('pc.ram'), ...be64(pages * 4096), ...be64(RamFlag.EOS), 0x7e, ...be32(1),
    0x02, ...be32(1), ...rec, ...be64(RamFlag.EOS), 0x7e, ...be32(1),
    0x00, 0x06, ...be32(json.length), ...json,
  ]);
}

/** `pages` pages of one block; PAGE records first, then rounds of XBZRLE deltas in a shuffled order. */
function xbzrleStream(pages: number, rounds: number, seed: number): Uint8Array {
  const prng = makePrng(seed);
  const content = Array.from({ length: pages }, () => {
    const p = new Uint8Array(4096);
    for (let i = 0; i < p.length; i += 64) p[i] = prng.u32() & 0xff;
    return p;
  });
  const rec: number[] = [];
  content.forEach((p, i) => rec.push(...be64(i * 4096 + RamFlag.PAGE + (i === 0 ? 0 : RamFlag.CONTINUE)), ...(i === 0 ? [6, ...str('pc.ram')] : []), ...p));
  const delta = new Uint8Array(4096);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < pages; k++) {
      const i = prng.int(0, pages - 1);
      const next = new Uint8Array(content[i]);
      next[prng.int(0, 4095)] ^= 0x5a;
      const n = xbzrleEncode(content[i], next, delta);
      assert.ok(n !== null && n > 0);
      rec.push(...be64(i * 4096 + RamFlag.XBZRLE + RamFlag.CONTINUE), 1, n >>> 8, n & 0xff, ...delta.subarray(0, n));
      content[i] = next;
    }
  }
  return ramStream(pages, rec);
}

test('a PageMirror smaller than the working set evicts the same pages on both sides: XBZRLE rebuilds exactly', () => {
  const bytes = xbzrleStream(64, 6, 0x5eed);
  // 16 pages for 64: most deltas find no old page (verbatim), the rest go through the codec.
  const { rebuilt, stats } = roundTrip(bytes, { codec: getCodec('lz4-delta'), mirrorBytes: 16 * 4096 }, 5000);
  assert.ok(rebuilt.equals(Buffer.from(bytes)), 'rebuilt stream differs');
  assert.ok(stats.verbatim > 0 && stats.pages > 64, `verbatim ${stats.verbatim}, via codec ${stats.pages}`);
  const full = roundTrip(bytes, { codec: getCodec('lz4-delta') }, 5000);
  assert.ok(full.rebuilt.equals(Buffer.from(bytes)));
  assert.equal(full.stats.verbatim, 0, 'with room for every page no delta goes verbatim');
});

test('a COMMAND longer than the parser\'s join window, split anywhere, parses and rewrites exactly', () => {
  const base = loadQemuFixture('paused10');
  // After the header and configuration (19 bytes in 10.0), insert a 40,000-byte command.
  const payload = new Uint8Array(40_000).map((_, i) => (i * 31) & 0xff);
  const cmd = Uint8Array.from([0x08, 0x00, 0x02, ...[(payload.length >>> 8) & 0xff, payload.length & 0xff]]);
  const bytes = Buffer.concat([base.subarray(0, 27), cmd, payload, base.subarray(27)]);
  const prng = makePrng(0xc0de);
  for (let run = 0; run < 20; run++) {
    const parser = new QemuStreamParser();
    const events: StreamEvent[] = [];
    for (let at = 0; at < bytes.length;) {
      const next = Math.min(bytes.length, at + prng.int(1, run % 2 === 0 ? 70_000 : 9_000));
      events.push(...parser.push(bytes.subarray(at, next)));
      at = next;
    }
    events.push(...parser.end());
    assert.equal(events.some((e) => e.kind === 'passthrough' && /command|section type/.test(e.reason) && e.offset < 50_000), false, `run ${run}: fell into pass-through`);
    assert.ok(Buffer.from(serializeEvents(events)).equals(bytes), `run ${run}: rewrite differs`);
  }
});

/** Passes over `pages` pages of one block, each a PAGE record per page rewritten (in increasing order, as QEMU scans). */
function pagePassesStream(pages: number, passes: number, seed: number, random = false): Uint8Array {
  const prng = makePrng(seed);
  // random: every page is noise, rewritten whole in each pass (nothing compresses, not even XORs).
  const noise = (p: Uint8Array) => p.forEach((_, j) => (p[j] = prng.int(0, 255)));
  const content = Array.from({ length: pages }, (_, i) => {
    const p = new Uint8Array(4096).fill(i + 1);
    if (random) noise(p);
    return p;
  });
  const rec: number[] = [];
  let named = false;
  for (let pass = 0; pass < passes; pass++) {
    for (let i = 0; i < pages; i++) {
      if (pass > 0 && !prng.chance(0.7)) continue;
      if (pass > 0 && random) noise(content[i]);
      else if (pass > 0) content[i][prng.int(0, 4095)] ^= 0x33;
      rec.push(...be64(i * 4096 + RamFlag.PAGE + (named ? RamFlag.CONTINUE : 0)), ...(named ? [] : [6, ...str('pc.ram')]), ...content[i]);
      named = true;
    }
  }
  return ramStream(pages, rec);
}

test('both sides start a cache round where the page index goes down, so a thrashing 2-way cache stays in step', () => {
  // 48 pages through an 8-page cache over 6 passes: sets overflow every round, and the 2-way
  // cache refuses inserts into sets whose two pages were used this round. Any difference in where
  // the two sides sync would decode a delta against the wrong old page.
  const bytes = pagePassesStream(48, 6, 0xcafe);
  for (const codec of ['lz4-delta', 'xbzrle']) {
    const { rebuilt, stats } = roundTrip(bytes, { codec: getCodec(codec), cacheBytes: 8 * 4096, mirrorBytes: 0 }, 3000);
    assert.ok(rebuilt.equals(Buffer.from(bytes)), `${codec}: rebuilt stream differs`);
    assert.ok(stats.pagePayloadBytes < stats.pages * 4096, `${codec}: some pages went as deltas`);
  }
});

test('runs of PAGE records travel as multi-page blocks, kept open across chunks, and rebuild exactly with fewer bytes', () => {
  for (const name of ['paused10', 'running72'] as const) {
    const bytes = loadQemuFixture(name);
    for (const codec of ['zstd-delta', 'lz4-delta', 'zstd', 'lz4']) {
      const opts = { codec: getCodec(codec), mirrorBytes: 0, firstPageCodec: getCodec(codec.startsWith('zstd') ? 'zstd' : 'lz4') };
      const single = roundTrip(bytes, { ...opts, blockPages: 1 }, 65536, true);
      const blocks = roundTrip(bytes, opts, 65536, true);
      assert.ok(single.rebuilt.equals(Buffer.from(bytes)), `${name} ${codec}: page by page differs`);
      assert.ok(blocks.rebuilt.equals(Buffer.from(bytes)), `${name} ${codec}: blocks differ`);
      const blockId = BLOCK_CODEC_IDS[`${codec}-block` as keyof typeof BLOCK_CODEC_IDS];
      const ids = recordsById(blocks.frames);
      assert.ok((ids.get(blockId) ?? 0) > 0, `${name} ${codec}: no ${codec}-block record (ids ${JSON.stringify([...ids])})`);
      assert.equal(recordsById(single.frames).get(blockId), undefined);
      const wire = (r: { frames: Uint8Array[] }) => r.frames.reduce((t, f) => t + f.length, 0);
      assert.ok(wire(blocks) < wire(single), `${name} ${codec}: ${wire(blocks)} bytes in blocks, ${wire(single)} page by page`);
      assert.equal(blocks.stats.pages, single.stats.pages);
    }
  }
});

test('delta blocks keep both 2-way caches in step through a thrashing cache and dirty passes', () => {
  const bytes = pagePassesStream(48, 6, 0xbeef);
  for (const [codec, cacheBytes] of [['zstd-delta', 8 * 4096], ['lz4-delta', 8 * 4096], ['zstd-delta', 64 * 4096]] as const) {
    for (const chunk of [3000, 65536]) {
      const { rebuilt, frames } = roundTrip(bytes, { codec: getCodec(codec), cacheBytes, mirrorBytes: 0, firstPageCodec: getCodec('lz4') }, chunk, true);
      assert.ok(rebuilt.equals(Buffer.from(bytes)), `${codec} cache ${cacheBytes} chunk ${chunk}: rebuilt stream differs`);
      const ids = recordsById(frames);
      assert.ok((ids.get(BLOCK_CODEC_IDS[`${codec}-block`]) ?? 0) > 0, `${codec}: no delta block (ids ${JSON.stringify([...ids])})`);
    }
  }
  // Noise: no block pays, so every page goes raw, its own bytes (not its XOR) rebuilt exactly.
  const noise = pagePassesStream(16, 3, 0xabc, true);
  const r = roundTrip(noise, { codec: getCodec('zstd-delta'), mirrorBytes: 0, firstPageCodec: getCodec('zstd') }, 65536, true);
  assert.ok(r.rebuilt.equals(Buffer.from(noise)), 'noise: rebuilt stream differs');
  assert.equal(recordsById(r.frames).get(CODEC_IDS.raw), r.stats.pages, 'noise: every page raw');
  // Without first-page compression, pages the cache lacks go raw, one record each.
  const raw1st = roundTrip(bytes, { codec: getCodec('zstd-delta'), mirrorBytes: 0, firstPageCodec: null }, 65536, true);
  assert.ok(raw1st.rebuilt.equals(Buffer.from(bytes)));
  assert.equal(recordsById(raw1st.frames).get(CODEC_IDS.raw), 48);
});

test('adaptive in blocks: the zstd share picks each block\'s family (all lz4, all zstd, half and half), and the stream rebuilds exactly', () => {
  const bytes = loadQemuFixture('running72');
  const counts: Array<[number, number]> = [];
  for (const share of [0, 1, 0.5]) {
    const parser = new QemuStreamParser();
    const frames: Uint8Array[] = [];
    const options: StreamPipelineOptions = { codec: getCodec('adaptive'), mirrorBytes: 0, firstPageCodec: getCodec('lz4') };
    const encoder = new StreamSourceEncoder(options, (f) => frames.push(f));
    assert.equal(encoder.blends, true);
    encoder.setZstdShare(share);
    const decoder = new StreamDestinationDecoder(options);
    const out: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += 65536) {
      for (const e of parser.push(bytes.subarray(at, at + 65536))) encoder.write(e);
      encoder.flush({ keepBlockOpen: true });
      for (const f of frames.splice(0)) out.push(decoder.rebuild(decodeFrame(f)));
    }
    parser.end();
    assert.ok(Buffer.concat(out).equals(Buffer.from(bytes)), `share ${share}: rebuilt stream differs`);
    const st = encoder.stats();
    counts.push([st.zstdBlocks, st.lz4Blocks]);
  }
  const [none, all, half] = counts;
  assert.ok(none[0] === 0 && none[1] > 0, `share 0: ${none}`);
  assert.ok(all[1] === 0 && all[0] > 0, `share 1: ${all}`);
  assert.ok(Math.abs(half[0] - half[1]) <= 1, `share 0.5: ${half}`);
});

test('a corrupt block record is an error before any of its pages is applied, and the next good frame still rebuilds', () => {
  const bytes = pagePassesStream(48, 3, 0xf00d);
  const opts: StreamPipelineOptions = { codec: getCodec('zstd-delta'), mirrorBytes: 0, firstPageCodec: getCodec('zstd') };
  const { frames } = roundTrip(bytes, opts, 1 << 20, true);
  // The frame holding the first block, and the record's payload offset inside the frame.
  const target = frames.findIndex((f) => (recordsById([f]).get(BLOCK_CODEC_IDS['zstd-delta-block']) ?? 0) > 0);
  assert.ok(target >= 0);
  const prng = makePrng(7);
  let rejected = 0;
  for (let trial = 0; trial < 200; trial++) {
    const decoder = new StreamDestinationDecoder(opts);
    const good = frames.slice(0, target).map((f) => decoder.rebuild(decodeFrame(f)));
    // Corrupt the decoded body (past the frame checksum, as a bug or a forged frame would):
    // flip bytes after the record's 8-byte header, in the headers length, headers, mask or stream.
    const good0 = decodeFrame(frames[target]);
    const body = Uint8Array.from(good0.body);
    for (let k = 0; k < 1 + prng.int(0, 3); k++) body[8 + prng.int(0, Math.min(body.length - 9, 700))] ^= 1 + prng.int(0, 254);
    const frame = { ...good0, body };
    let out: Uint8Array | null = null;
    try {
      out = decoder.rebuild(frame);
    } catch (err) {
      assert.match((err as { code?: string }).code ?? '', /^LIVEMIG_E_(QEMU_STREAM_MALFORMED|CODEC_\w+|WIRE_MALFORMED)$/, String(err));
      rejected++;
    }
    if (out === null) {
      // Nothing of the bad block reached the caches: the real frame and the rest still rebuild exactly.
      const rest = frames.slice(target).map((f) => decoder.rebuild(decodeFrame(f)));
      assert.ok(Buffer.concat([...good, ...rest]).equals(Buffer.from(bytes)), `trial ${trial}: the stream after a refused block differs`);
    }
  }
  assert.ok(rejected > 100, `only ${rejected} of 200 corruptions were refused`);
});

test('blocks compressed on the thread pool leave in stream order and rebuild exactly; closing the compressors fails what is in flight', async () => {
  const bytes = loadQemuFixture('running72');
  for (const codec of ['zstd-delta', 'lz4']) {
    const opts: StreamPipelineOptions = { codec: getCodec(codec), mirrorBytes: 0, firstPageCodec: getCodec('zstd'), compressThreads: 2 };
    const parser = new QemuStreamParser();
    const frames: Uint8Array[] = [];
    const encoder = new StreamSourceEncoder(opts, (f) => frames.push(f));
    try {
      for (let at = 0; at < bytes.length; at += 65536) {
        for (const e of parser.push(bytes.subarray(at, at + 65536))) encoder.write(e);
        encoder.flush({ keepBlockOpen: true });
      }
      parser.end();
      encoder.flush();
      assert.ok(encoder.pendingBytes > 0 || frames.length > 0);
      await encoder.settled();
      assert.equal(encoder.pendingBytes, 0);
    } finally {
      await encoder.close();
    }
    const seqs = frames.map((f) => decodeFrame(f).seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), `${codec}: frames left out of order`);
    const decoder = new StreamDestinationDecoder(opts);
    const rebuilt = Buffer.concat(frames.map((f) => decoder.rebuild(decodeFrame(f))));
    assert.ok(rebuilt.equals(Buffer.from(bytes)), `${codec}: rebuilt stream differs`);
    assert.ok((recordsById(frames).get(BLOCK_CODEC_IDS[`${codec}-block` as keyof typeof BLOCK_CODEC_IDS]) ?? 0) > 0, `${codec}: no block record`);
    assert.equal(encoder.stats().frames, frames.length);
    assert.ok(encoder.stats().pooledBlocks > 0, `${codec}: no block went to the pool`);
  }
  // Noise: every block falls back to raw page records inside its own frame.
  const noise = pagePassesStream(130, 2, 0xd1ce, true);
  const frames: Uint8Array[] = [];
  const noisy = new StreamSourceEncoder({ codec: getCodec('zstd-delta'), mirrorBytes: 0, firstPageCodec: getCodec('zstd'), compressThreads: 1 }, (f) => frames.push(f));
  try {
    for (const e of new QemuStreamParser().push(noise)) noisy.write(e);
    noisy.flush();
    await noisy.settled();
  } finally {
    await noisy.close();
  }
  const noiseDecoder = new StreamDestinationDecoder({ codec: getCodec('zstd-delta') });
  assert.ok(Buffer.concat(frames.map((f) => noiseDecoder.rebuild(decodeFrame(f)))).equals(Buffer.from(noise)), 'noise through the pool differs');
  assert.equal(recordsById(frames).get(CODEC_IDS.raw), noisy.stats().pages);
  // Compressors closed under blocks in flight: settled() rejects, nothing is emitted out of order.
  const encoder = new StreamSourceEncoder({ codec: getCodec('zstd-delta'), mirrorBytes: 0, firstPageCodec: getCodec('zstd'), compressThreads: 1 }, () => undefined);
  const parser = new QemuStreamParser();
  for (const e of parser.push(bytes)) encoder.write(e);
  encoder.flush();
  await encoder.close();
  await assert.rejects(encoder.settled(), (err) => (err as { code?: string }).code === 'LIVEMIG_E_INTERNAL');
});
