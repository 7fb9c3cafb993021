import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from './wire-test-kit.js';
import {
  FrameDecoder, FrameType, PageBatchBuilder, encodeFrame, encodePing, type Frame,
} from '../../src/wire/index.js';

function drain(d: FrameDecoder): Frame[] {
  const out: Frame[] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  return out;
}

test('the decoder returns nothing until a whole frame is buffered, then exactly that frame', () => {
  const frame = encodePing({ nonce: 5 }, { seq: 3 });
  const d = new FrameDecoder();
  for (let i = 0; i < frame.length - 1; i++) {
    d.push(frame.subarray(i, i + 1));
    assert.equal(d.next(), null);
  }
  d.push(frame.subarray(frame.length - 1));
  const got = d.next();
  assert.ok(got);
  assert.equal(got.type, FrameType.PING);
  assert.equal(got.seq, 3);
  assert.equal(d.next(), null);
  assert.equal(d.bufferedBytes, 0);
});

test('several frames in one chunk come out one by one, the last partial one kept', () => {
  const a = encodePing({ nonce: 1 });
  const b = encodeFrame(FrameType.PAGES, { round: 2 }, new Uint8Array(100).fill(7));
  const c = encodePing({ nonce: 3 });
  const d = new FrameDecoder();
  d.push(Buffer.concat([a, b, c.subarray(0, 10)]));
  assert.deepEqual(drain(d).map((f) => f.type), [FrameType.PING, FrameType.PAGES]);
  assert.equal(d.bufferedBytes, 10);
  d.push(c.subarray(10));
  assert.deepEqual(drain(d).map((f) => f.seq), [0]);
});

test('bad magic is reported from the first byte, and the decoder stays failed', () => {
  const d = new FrameDecoder();
  d.push(Uint8Array.of(0x16, 0x03, 0x01)); // a TLS client hello
  throwsCode(() => d.next(), 'LIVEMIG_E_WIRE_MALFORMED', /magic/);
  throwsCode(() => d.next(), 'LIVEMIG_E_WIRE_MALFORMED');
  throwsCode(() => d.push(encodePing({ nonce: 1 })), 'LIVEMIG_E_WIRE_MALFORMED');
});

test('a too-large frame is refused from its header while its body is still to come', () => {
  const builder = new PageBatchBuilder(1 << 20);
  while (builder.add(builder.count, 1, new Uint8Array(4096)));
  const frame = builder.finish();
  const d = new FrameDecoder({ maxFrameBytes: 256 * 1024 });
  d.push(frame.subarray(0, 24));
  throwsCode(() => d.next(), 'LIVEMIG_E_WIRE_TOO_LARGE');
});

test('buffering is bounded: pushing past a held whole frame without draining is refused', () => {
  const max = 4096;
  const d = new FrameDecoder({ maxFrameBytes: max });
  const frame = encodeFrame(FrameType.PAGES, {}, new Uint8Array(max - 24));
  d.push(frame);
  throwsCode(() => d.push(encodePing({ nonce: 1 })), 'LIVEMIG_E_INTERNAL', /call next\(\)/);
  assert.equal(drain(d).length, 1);
  assert.equal(d.bufferedBytes, 0);
  // After draining, the decoder never holds more than one max frame plus one chunk.
  const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => encodePing({ nonce: i })));
  for (let i = 0; i < stream.length; i += 1000) {
    d.push(stream.subarray(i, i + 1000));
    drain(d);
    assert.ok(d.bufferedBytes < max);
  }
});

test('a frame inside one chunk is returned without copying; one spanning chunks is copied', () => {
  const frame = encodePing({ nonce: 9 });
  const d = new FrameDecoder();
  d.push(frame);
  assert.equal(d.next()!.body.buffer, frame.buffer);
  d.push(frame.subarray(0, 5));
  d.push(frame.subarray(5));
  assert.notEqual(d.next()!.body.buffer, frame.buffer);
});

test('the decoder rejects an invalid maxFrameBytes', () => {
  throwsCode(() => new FrameDecoder({ maxFrameBytes: 10 }), 'LIVEMIG_E_INVALID_OPTION');
});
