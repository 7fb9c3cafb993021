import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { isLivemigError, type ErrorCode } from '../../src/core/errors.js';
import { throwsCode } from './wire-test-kit.js';
import {
  DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameFlags, FrameType, PROTOCOL_VERSION,
  checkFrame, createFrameCheck, decodeFrame, encodeFrame, encodeRoundStart, type FrameTypeValue,
} from '../../src/wire/index.js';


function sampleBody(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
}

test('the header is 24 little-endian bytes laid out as PROTOCOL.md says', () => {
  const body = sampleBody(5);
  const frame = encodeFrame(FrameType.PING, { round: 0x01020304, seq: 0x0a0b0c0d, flags: FrameFlags.STOP_COPY }, body);
  assert.equal(FRAME_HEADER_BYTES, 24);
  assert.equal(frame.length, 24 + 5);
  assert.deepEqual([...frame.subarray(0, 4)], [...Buffer.from('LMIG')]);
  const view = new DataView(frame.buffer, frame.byteOffset);
  assert.equal(view.getUint8(4), PROTOCOL_VERSION);
  assert.equal(view.getUint8(5), FrameType.PING);
  assert.equal(view.getUint16(6, true), FrameFlags.STOP_COPY);
  assert.equal(view.getUint32(8, true), 5);
  assert.equal(view.getUint32(12, true), 0x01020304);
  assert.equal(view.getUint32(16, true), 0x0a0b0c0d);
  // The checksum: CRC-32 of header bytes 0..19, continued over the body.
  assert.equal(view.getUint32(20, true), crc32(frame.subarray(24), crc32(frame.subarray(0, 20))));
});

test('every frame type round-trips through encodeFrame and decodeFrame with its header fields', () => {
  for (const type of Object.values(FrameType)) {
    for (const n of [0, 1, 4096, 65_537]) {
      const body = sampleBody(n);
      const frame = encodeFrame(type, { round: type * 3, seq: 4_000_000_000 + n, flags: n % 2 }, body);
      const decoded = decodeFrame(frame);
      assert.equal(decoded.type, type);
      assert.equal(decoded.round, type * 3);
      assert.equal(decoded.seq, 4_000_000_000 + n);
      assert.equal(decoded.flags, n % 2);
      assert.deepEqual(decoded.body, body);
    }
  }
});

test('decodeFrame returns the body as a view of the message, not a copy', () => {
  const frame = encodeFrame(FrameType.PAGES, {}, sampleBody(100));
  const decoded = decodeFrame(frame);
  assert.equal(decoded.body.buffer, frame.buffer);
  assert.equal(decoded.body.byteOffset, frame.byteOffset + FRAME_HEADER_BYTES);
});

test('the checksum catches a single flipped bit anywhere in a frame', () => {
  const frame = encodeFrame(FrameType.PAGES, { round: 7, seq: 99 }, sampleBody(300));
  const expected: Record<number, ErrorCode[]> = {};
  let checksumHits = 0;
  for (let byte = 0; byte < frame.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Uint8Array.from(frame);
      bad[byte] ^= 1 << bit;
      let code: ErrorCode | undefined;
      try {
        decodeFrame(bad);
      } catch (err) {
        assert.ok(isLivemigError(err), `byte ${byte} bit ${bit}: ${String(err)}`);
        code = err.code;
      }
      assert.ok(code !== undefined, `flip of byte ${byte} bit ${bit} went unnoticed`);
      (expected[byte] ??= []).push(code);
      if (code === 'LIVEMIG_E_WIRE_CHECKSUM') checksumHits++;
    }
  }
  // Magic, version and length flips are caught by the header check; everything else by the CRC.
  for (let byte = 0; byte < frame.length; byte++) {
    const codes = new Set(expected[byte]);
    if (byte < 4) assert.deepEqual([...codes], ['LIVEMIG_E_WIRE_MALFORMED']);
    else if (byte === 4) assert.deepEqual([...codes], ['LIVEMIG_E_VERSION_MISMATCH']);
    else if (byte >= 8 && byte < 12) assert.ok([...codes].every((c) => c === 'LIVEMIG_E_WIRE_MALFORMED' || c === 'LIVEMIG_E_WIRE_TOO_LARGE'));
    else assert.deepEqual([...codes], ['LIVEMIG_E_WIRE_CHECKSUM'], `byte ${byte}`);
  }
  assert.equal(checksumHits, (frame.length - 9) * 8);
});

test('an intact frame of an unknown type is rejected as LIVEMIG_E_WIRE_UNKNOWN_TYPE', () => {
  const frame = encodeFrame(FrameType.PING, {}, sampleBody(4));
  for (const type of [0, 12, 200, 255]) {
    const bad = Uint8Array.from(frame);
    bad[5] = type;
    // Re-seal so only the type is wrong, as a newer peer's frame would be.
    new DataView(bad.buffer).setUint32(20, crc32(bad.subarray(24), crc32(bad.subarray(0, 20))), true);
    throwsCode(() => decodeFrame(bad), 'LIVEMIG_E_WIRE_UNKNOWN_TYPE', new RegExp(`type ${type} `));
  }
});

test('a frame setting flag bits this version does not define is rejected', () => {
  const bad = Uint8Array.from(encodeFrame(FrameType.PING, {}, sampleBody(4)));
  new DataView(bad.buffer).setUint16(6, 0x8000, true);
  new DataView(bad.buffer).setUint32(20, crc32(bad.subarray(24), crc32(bad.subarray(0, 20))), true);
  throwsCode(() => decodeFrame(bad), 'LIVEMIG_E_WIRE_MALFORMED', /flags/);
  throwsCode(() => encodeFrame(FrameType.PING, { flags: 0x8000 }), 'LIVEMIG_E_INTERNAL');
});

test('a wrong magic is rejected from the first differing byte, before the header is complete', () => {
  throwsCode(() => checkFrame(Uint8Array.of(0x47)), 'LIVEMIG_E_WIRE_MALFORMED', /magic/);
  throwsCode(() => checkFrame(Buffer.from('LMX')), 'LIVEMIG_E_WIRE_MALFORMED', /byte 2/);
  throwsCode(() => checkFrame(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 'LIVEMIG_E_WIRE_MALFORMED');
  assert.equal(checkFrame(Buffer.from('LMI')), null);
});

test('an unknown version is rejected from the fifth byte with advice on which side to upgrade', () => {
  throwsCode(() => checkFrame(Uint8Array.of(0x4c, 0x4d, 0x49, 0x47, 2)), 'LIVEMIG_E_VERSION_MISMATCH', /protocol 2.*speaks 1: upgrade this agent/);
  throwsCode(() => checkFrame(Uint8Array.of(0x4c, 0x4d, 0x49, 0x47, 0)), 'LIVEMIG_E_VERSION_MISMATCH', /upgrade the peer/);
});

test('a too-large frame is rejected from its header alone, before the body arrives', () => {
  const header = Uint8Array.from(encodeFrame(FrameType.PAGES, {}, new Uint8Array(0)));
  new DataView(header.buffer).setUint32(8, DEFAULT_MAX_FRAME_BYTES, true);
  throwsCode(() => checkFrame(header), 'LIVEMIG_E_WIRE_TOO_LARGE', /exceeds the limit of 4194304/);
  new DataView(header.buffer).setUint32(8, 0xffff_ffff, true);
  throwsCode(() => checkFrame(header), 'LIVEMIG_E_WIRE_TOO_LARGE');
  new DataView(header.buffer).setUint32(8, 1000, true);
  assert.equal(checkFrame(header), 1024);
  throwsCode(() => createFrameCheck(1023)(header), 'LIVEMIG_E_WIRE_TOO_LARGE');
  assert.equal(createFrameCheck(1024)(header), 1024);
  throwsCode(() => decodeFrame(encodeFrame(FrameType.PAGES, {}, new Uint8Array(2000)), { maxFrameBytes: 2000 }), 'LIVEMIG_E_WIRE_TOO_LARGE');
  throwsCode(() => encodeFrame(FrameType.PAGES, { maxFrameBytes: 100 }, new Uint8Array(77)), 'LIVEMIG_E_WIRE_TOO_LARGE');
});

test('checkFrame says incomplete (null) until the header is buffered, then gives the whole length', () => {
  const frame = encodeFrame(FrameType.PAGES, {}, sampleBody(1000));
  for (let n = 0; n < FRAME_HEADER_BYTES; n++) assert.equal(checkFrame(frame.subarray(0, n)), null);
  for (const n of [24, 25, 1023, 1024, 2000]) assert.equal(checkFrame(Buffer.concat([frame, frame]).subarray(0, n)), 1024);
});

test('decodeFrame rejects a message that is shorter or longer than its header says', () => {
  const frame = encodeFrame(FrameType.PING, {}, sampleBody(8));
  throwsCode(() => decodeFrame(frame.subarray(0, 20)), 'LIVEMIG_E_WIRE_MALFORMED', /inside the 24-byte header/);
  throwsCode(() => decodeFrame(frame.subarray(0, frame.length - 1)), 'LIVEMIG_E_WIRE_MALFORMED', /announces 32 bytes/);
  throwsCode(() => decodeFrame(Buffer.concat([frame, Uint8Array.of(0)])), 'LIVEMIG_E_WIRE_MALFORMED');
});

test('encoders reject out-of-range header fields as caller bugs', () => {
  throwsCode(() => encodeFrame(99 as FrameTypeValue), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeFrame(FrameType.PING, { round: -1 }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeFrame(FrameType.PING, { seq: 2 ** 32 }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeRoundStart({ round: 1.5, dirtyPages: 1 }), 'LIVEMIG_E_INTERNAL');
});
