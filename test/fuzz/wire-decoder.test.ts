/**
 * Fuzzing the wire decoders, seeded so every failure reproduces: a valid stream split at random
 * points must decode to exactly the frames sent, and 100,000+ random and mutated inputs to every
 * decoding entry point may only ever raise LivemigError, quickly.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { LivemigError } from '../../src/core/errors.js';
import { Prng } from '../helpers/prng.js';
import {
  FrameDecoder, FrameType, PageBatchBuilder, checkFrame, decodeControl, decodeFrame, encodeAbort, encodeDigest,
  encodeFrame, encodeHello, encodeHelloAck, encodePing, encodeResult, encodeRoundEnd, encodeRoundStart,
  encodeStopCopy, forEachPageRecord, validateHello, validateHelloAck, type Frame, type Hello,
} from '../../src/wire/index.js';

const HELLO: Hello = {
  protocolVersion: 1,
  sessionId: 'fuzz-1',
  codecs: ['raw', 'lz4'],
  pageSize: 4096,
  guest: { kind: 'image', workload: 'none', memoryBytes: 1 << 24, pageSize: 4096, params: { a: 1, b: 'two' } },
  transport: 'tcp',
  maxFrameBytes: 1 << 20,
  features: [],
};

/** A random valid frame: any control type or a PAGES batch of random records. */
function randomFrame(rng: Prng, seq: number): Uint8Array {
  const round = rng.int(0, 50);
  switch (rng.int(0, 11)) {
    case 0: return encodeHello(HELLO, { seq });
    case 1: return encodeHelloAck({ accepted: true, codecs: ['raw'], maxFrameBytes: 1 << 20 }, { seq });
    case 2: return encodeRoundStart({ round, dirtyPages: rng.u32() }, { seq });
    case 3: return encodeRoundEnd({ round, pages: rng.u32(), payloadBytes: rng.u32() * 1000 }, { seq });
    case 4: return encodeStopCopy({ round, pagesRemaining: rng.u32() }, { seq, flags: 1 });
    case 5: return encodeDigest({ algorithm: 'xxh3-128', pageCount: rng.u32(), digest: Buffer.from(rng.bytes(16)).toString('hex') }, { seq });
    case 6: return encodeResult({ verified: rng.chance(0.5), selfCheckOk: rng.pick([true, false, null]), detail: 'd'.repeat(rng.int(0, 50)) }, { seq });
    case 7: return encodeAbort({ code: 'LIVEMIG_E_NOT_CONVERGED', message: 'm' }, { seq });
    case 8: return encodePing({ nonce: rng.u32() }, { seq });
    default: {
      const builder = new PageBatchBuilder(64 * 1024);
      const n = rng.int(0, 40);
      for (let i = 0; i < n; i++) {
        const len = rng.pick([0, 1, 17, 300, 4096]);
        const out = builder.reserve(len);
        if (out === null) break;
        rng.fill(out);
        builder.commit(rng.u32(), rng.int(0, 6), len);
      }
      return builder.finish({ round, seq });
    }
  }
}

function sameFrame(a: Frame, b: Frame): boolean {
  return a.type === b.type && a.flags === b.flags && a.round === b.round && a.seq === b.seq
    && Buffer.compare(a.body, b.body) === 0;
}

test('a stream of many frames split at random points decodes to exactly the frames sent', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new Prng(seed);
    const frames = Array.from({ length: 300 }, (_, i) => randomFrame(rng, i));
    const expected = frames.map((f) => decodeFrame(f));
    const stream = Buffer.concat(frames);
    const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    const got: Frame[] = [];
    let at = 0;
    while (at < stream.length) {
      // Mostly small cuts (1..64 bytes, inside headers), sometimes big ones spanning frames.
      const size = rng.chance(0.7) ? rng.int(1, 65) : rng.int(1, 20_000);
      decoder.push(stream.subarray(at, at + size));
      at += size;
      for (let f = decoder.next(); f !== null; f = decoder.next()) got.push({ ...f, body: f.body.slice() });
      assert.ok(decoder.bufferedBytes < 64 * 1024, 'holds less than one max frame after draining');
    }
    assert.equal(got.length, expected.length, `seed ${seed}`);
    for (let i = 0; i < got.length; i++) assert.ok(sameFrame(got[i], expected[i]), `seed ${seed}: frame ${i} differs`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

/** Re-seals a mutated frame's checksum (when its header still has room for one). */
function reseal(frame: Uint8Array): void {
  if (frame.length < 24) return;
  new DataView(frame.buffer, frame.byteOffset).setUint32(20, crc32(frame.subarray(24), crc32(frame.subarray(0, 20))), true);
}

function mutate(rng: Prng, input: Uint8Array): Uint8Array {
  let out: Uint8Array = Uint8Array.from(input);
  const edits = rng.int(1, 5);
  for (let e = 0; e < edits; e++) {
    switch (rng.int(0, 7)) {
      case 0: if (out.length) out[rng.int(0, out.length)] ^= 1 << rng.int(0, 8); break;
      case 1: if (out.length) out[rng.int(0, out.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(0, 256)]); break;
      case 2: out = out.slice(0, rng.int(0, out.length + 1)); break;
      case 3: out = Buffer.concat([out, rng.bytes(rng.int(1, 16))]); break;
      case 4: { // a 32-bit field set to an extreme (lengths and counts)
        if (out.length >= 4) new DataView(out.buffer).setUint32(rng.int(0, out.length - 3), rng.pick([0, 1, 0xffff_ffff, 0x00ff_ffff, rng.u32()]), true);
        break;
      }
      case 5: { // duplicate a slice somewhere else
        const a = rng.int(0, out.length + 1);
        const b = rng.int(a, out.length + 1);
        const at = rng.int(0, out.length + 1);
        out = Buffer.concat([out.subarray(0, at), out.subarray(a, b), out.subarray(at)]);
        break;
      }
      default: out = rng.bytes(rng.int(0, 64));
    }
  }
  return out;
}

/** Runs fn, allowing only LivemigError; returns whether it threw. Tracks the slowest call. */
function only(fn: () => unknown, timing: { worstMs: number }, what: string): boolean {
  const t0 = performance.now();
  try {
    fn();
    return false;
  } catch (err) {
    if (!(err instanceof LivemigError)) assert.fail(`${what} threw a non-LivemigError: ${String(err)}`);
    return true;
  } finally {
    timing.worstMs = Math.max(timing.worstMs, performance.now() - t0);
  }
}

test('100,000+ random and mutated inputs to every decoder raise only LivemigError, and never hang', () => {
  const rng = new Prng(0xfeed);
  const corpus = Array.from({ length: 200 }, (_, i) => randomFrame(rng, i));
  const timing = { worstMs: 0 };
  const tally = { calls: 0, accepted: 0, rejected: 0 };
  const note = (threw: boolean) => {
    tally.calls++;
    if (threw) tally.rejected++;
    else tally.accepted++;
  };
  const t0 = performance.now();
  for (let i = 0; i < 40_000; i++) {
    const input = mutate(rng, rng.pick(corpus));
    // Half the time fix the checksum, so the mutation reaches the body decoders.
    if (rng.chance(0.5)) reseal(input);
    note(only(() => checkFrame(input), timing, 'checkFrame'));
    let frame: Frame | undefined;
    note(only(() => (frame = decodeFrame(input, { maxFrameBytes: 64 * 1024 })), timing, 'decodeFrame'));
    if (frame) {
      const f = frame;
      if (f.type === FrameType.PAGES) note(only(() => forEachPageRecord(f.body, () => {}), timing, 'forEachPageRecord'));
      else note(only(() => decodeControl(f), timing, 'decodeControl'));
    }
    // Bodies straight to the body decoders, whatever their type.
    const body = mutate(rng, rng.pick(corpus).subarray(24));
    note(only(() => forEachPageRecord(body, () => {}), timing, 'forEachPageRecord'));
    const type = rng.pick(Object.values(FrameType).filter((t) => t !== FrameType.PAGES));
    note(only(() => decodeControl({ type, flags: 0, round: 0, seq: 0, body }), timing, 'decodeControl'));
  }
  // The handshake validators, on mutated objects and random JSON text.
  const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 40, '', 'raw', 'x'.repeat(300), [], ['raw'], [1], {}, { kind: 'image' }, Number.NaN];
  for (let i = 0; i < 20_000; i++) {
    const hello = structuredClone(HELLO) as unknown as Record<string, unknown>;
    const guest = hello.guest as Record<string, unknown>;
    const target = rng.chance(0.3) ? guest : hello;
    const keys = Object.keys(target);
    const key = rng.chance(0.1) ? '__proto__' : rng.pick(keys);
    if (rng.chance(0.2)) delete target[key];
    else target[key] = rng.pick(values);
    note(only(() => validateHello(hello), timing, 'validateHello'));
    note(only(() => validateHelloAck({ accepted: rng.pick(values), codecs: rng.pick(values), maxFrameBytes: rng.pick([1 << 20, ...values]), reason: rng.pick(values) }), timing, 'validateHelloAck'));
    const text = mutate(rng, Buffer.from(JSON.stringify(HELLO)));
    note(only(() => decodeControl({ type: FrameType.HELLO, flags: 0, round: 0, seq: 0, body: text }), timing, 'decodeControl(HELLO)'));
  }
  const elapsedMs = performance.now() - t0;
  assert.ok(tally.calls >= 100_000, `only ${tally.calls} calls`);
  assert.ok(tally.accepted > 1000 && tally.rejected > 1000, `accepted ${tally.accepted}, rejected ${tally.rejected}`);
  assert.ok(timing.worstMs < 500, `slowest call took ${timing.worstMs.toFixed(1)} ms`);
  console.log(`# wire fuzz: ${tally.calls} calls (${tally.accepted} accepted, ${tally.rejected} rejected) in ${elapsedMs.toFixed(0)} ms, slowest ${timing.worstMs.toFixed(2)} ms`);
});

test('random bytes fed to a FrameDecoder with a small limit fail or wait, never buffer past the bound', () => {
  const max = 4096;
  for (let seed = 0; seed < 300; seed++) {
    const rng = new Prng(seed);
    const decoder = new FrameDecoder({ maxFrameBytes: max });
    // A valid frame prefix half the time, so the header check passes and the length bound is hit.
    const start = rng.chance(0.5) ? mutate(rng, encodePing({ nonce: seed })).subarray(0, 24) : new Uint8Array(0);
    let failed = false;
    for (let i = 0; i < 50 && !failed; i++) {
      const chunk = i === 0 ? Buffer.concat([start, rng.bytes(rng.int(0, 600))]) : rng.bytes(rng.int(0, 600));
      try {
        decoder.push(chunk);
        while (decoder.next() !== null);
      } catch (err) {
        assert.ok(err instanceof LivemigError, String(err));
        failed = true;
      }
      assert.ok(decoder.bufferedBytes <= max + 600, `holds ${decoder.bufferedBytes} bytes`);
    }
  }
});

test('a frame exactly at maxFrameBytes passes and one byte more is refused from the header', () => {
  const max = 8192;
  const at = encodeFrame(FrameType.PAGES, {}, new Uint8Array(max - 24));
  const over = encodeFrame(FrameType.PAGES, {}, new Uint8Array(max - 23));
  const d = new FrameDecoder({ maxFrameBytes: max });
  d.push(at);
  assert.equal(d.next()?.body.length, max - 24);
  d.push(over.subarray(0, 24));
  assert.throws(() => d.next(), (e: unknown) => e instanceof LivemigError && e.code === 'LIVEMIG_E_WIRE_TOO_LARGE');
});
