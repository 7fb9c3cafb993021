import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { ERROR_CODES, ERROR_CODE_NUMBERS, type ErrorCode } from '../../src/core/errors.js';
import { sampleHello, throwsCode } from './wire-test-kit.js';
import {
  FrameType, decodeControl, decodeFrame, encodeAbort, encodeAbortFor, encodeControl, encodeDigest, encodeFrame,
  encodeResult, encodeRoundEnd, encodeRoundStart, encodeStopCopy, type ControlMessage, type Frame,
} from '../../src/wire/index.js';
import { LivemigError } from '../../src/core/errors.js';



/** One of every control message, with distinct header fields. */
const MESSAGES: ControlMessage[] = [
  { type: FrameType.HELLO, flags: 0, round: 0, seq: 0, body: sampleHello() },
  { type: FrameType.HELLO_ACK, flags: 0, round: 0, seq: 1, body: { accepted: true, codecs: ['lz4', 'raw'], maxFrameBytes: 1 << 20, features: [] } },
  { type: FrameType.HELLO_ACK, flags: 0, round: 0, seq: 1, body: { accepted: false, codecs: [], maxFrameBytes: 1 << 20, reason: 'no', code: 'LIVEMIG_E_VERSION_MISMATCH' } },
  { type: FrameType.ROUND_START, flags: 0, round: 3, seq: 2, body: { round: 3, dirtyPages: 262_144 } },
  { type: FrameType.ROUND_END, flags: 0, round: 3, seq: 3, body: { round: 3, pages: 262_144, payloadBytes: 2 ** 40 + 5 } },
  { type: FrameType.STOP_COPY, flags: 1, round: 4, seq: 4, body: { round: 4, pagesRemaining: 1234 } },
  { type: FrameType.DIGEST, flags: 1, round: 4, seq: 5, body: { algorithm: 'xxh3-128', pageCount: 262_144, digest: '00ff'.repeat(8) } },
  { type: FrameType.RESULT, flags: 0, round: 4, seq: 6, body: { verified: true, selfCheckOk: true, detail: 'ok ✓', resumedAtMs: 1_700_000_000_123.5 } },
  { type: FrameType.RESULT, flags: 0, round: 0, seq: 7, body: { verified: false, selfCheckOk: null, detail: '' } },
  { type: FrameType.RESULT, flags: 0, round: 0, seq: 7, body: { verified: true, selfCheckOk: false, detail: 'page 7 bad' } },
  { type: FrameType.ABORT, flags: 0, round: 2, seq: 8, body: { code: 'LIVEMIG_E_NOT_CONVERGED', message: 'dirty rate 2 GB/s above bandwidth; try --auto-converge' } },
  { type: FrameType.PING, flags: 0, round: 0, seq: 9, body: { nonce: 0xdead_beef } },
  { type: FrameType.PONG, flags: 0, round: 0, seq: 10, body: { nonce: 0 } },
];

test('every control frame type round-trips through encodeControl, decodeFrame and decodeControl', () => {
  const seen = new Set<number>();
  for (const message of MESSAGES) {
    const decoded = decodeControl(decodeFrame(encodeControl(message)));
    assert.deepEqual(decoded, message);
    seen.add(message.type);
  }
  const controlTypes = Object.values(FrameType).filter((t) => t !== FrameType.PAGES);
  assert.deepEqual([...seen].sort((a, b) => a - b), controlTypes);
});

test('every error code survives an ABORT frame', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const decoded = decodeControl(decodeFrame(encodeAbort({ code, message: code })));
    assert.deepEqual(decoded.body, { code, message: code });
  }
  const fromError = decodeControl(decodeFrame(encodeAbortFor(new LivemigError('LIVEMIG_E_AUTH', 'bad token'))));
  assert.deepEqual(fromError.body, { code: 'LIVEMIG_E_AUTH', message: 'bad token' });
  const fromPlain = decodeControl(decodeFrame(encodeAbortFor(new TypeError('oops'))));
  assert.deepEqual(fromPlain.body, { code: 'LIVEMIG_E_INTERNAL', message: 'oops' });
});

test('a long ABORT message or RESULT detail is cut at a character boundary, never refused', () => {
  const long = 'é'.repeat(40_000); // 80,000 UTF-8 bytes
  const abort = decodeControl(decodeFrame(encodeAbort({ code: 'LIVEMIG_E_INTERNAL', message: long })));
  assert.ok(abort.type === FrameType.ABORT);
  assert.equal(abort.body.message, 'é'.repeat(32_767));
  const result = decodeControl(decodeFrame(encodeResult({ verified: true, selfCheckOk: null, detail: long })));
  assert.ok(result.type === FrameType.RESULT && result.body.detail.length === 32_767);
});

/** A sealed frame of `type` with a hand-made body, as a hostile or buggy peer would send. */
function rawFrame(type: number, body: number[] | Uint8Array, round = 0): Frame {
  const bytes = Uint8Array.from(encodeFrame(type as Frame['type'], { round }, Uint8Array.from(body)));
  return decodeFrame(bytes);
}

test('an ABORT with an error number this version does not know is rejected, keeping the peer\'s words', () => {
  const unknown = Object.keys(ERROR_CODE_NUMBERS).length + 1;
  throwsCode(() => decodeControl(rawFrame(FrameType.ABORT, [unknown, 0, 2, 0, 0x68, 0x69])), 'LIVEMIG_E_WIRE_MALFORMED', /unknown error code number .*peer said: hi/);
  throwsCode(() => decodeControl(rawFrame(FrameType.ABORT, [0, 0, 0, 0])), 'LIVEMIG_E_WIRE_MALFORMED', /number 0/);
});

test('control bodies reject unknown enum bytes, bad UTF-8, truncation and trailing bytes', () => {
  const result = (verified: number, selfCheck: number, resumed: number, at: number[] = [0, 0, 0, 0, 0, 0, 0, 0], text: number[] = [0, 0]) =>
    decodeControl(rawFrame(FrameType.RESULT, [verified, selfCheck, resumed, ...at, ...text]));
  assert.equal(result(1, 2, 0).type, FrameType.RESULT);
  throwsCode(() => result(2, 1, 0), 'LIVEMIG_E_WIRE_MALFORMED', /'verified' must be 0 or 1/);
  throwsCode(() => result(1, 3, 0), 'LIVEMIG_E_WIRE_MALFORMED', /selfCheck/);
  throwsCode(() => result(1, 1, 7), 'LIVEMIG_E_WIRE_MALFORMED', /'resumed'/);
  throwsCode(() => result(1, 1, 0, [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]), 'LIVEMIG_E_WIRE_MALFORMED', /must be 0 when/);
  throwsCode(() => result(1, 1, 1, [0, 0, 0, 0, 0, 0, 0xf8, 0x7f]), 'LIVEMIG_E_WIRE_MALFORMED', /NaN is not a time/);
  throwsCode(() => result(1, 1, 0, undefined, [2, 0, 0xc3, 0x28]), 'LIVEMIG_E_WIRE_MALFORMED', /UTF-8/);
  throwsCode(() => result(1, 1, 0, undefined, [3, 0, 0x61]), 'LIVEMIG_E_WIRE_MALFORMED', /body ends/);
  throwsCode(() => decodeControl(rawFrame(FrameType.PING, [1, 2, 3])), 'LIVEMIG_E_WIRE_MALFORMED', /'nonce'/);
  throwsCode(() => decodeControl(rawFrame(FrameType.PING, [1, 2, 3, 4, 5])), 'LIVEMIG_E_WIRE_MALFORMED', /trailing/);
  throwsCode(() => decodeControl(rawFrame(FrameType.DIGEST, [3, 0x41, 0x42, 0x43, 0, 0, 0, 0, 1, 0])), 'LIVEMIG_E_WIRE_MALFORMED', /algorithm 'ABC'/);
  throwsCode(() => decodeControl(rawFrame(FrameType.DIGEST, [1, 0x61, 0, 0, 0, 0, 0])), 'LIVEMIG_E_WIRE_MALFORMED', /digest length 0/);
  throwsCode(() => decodeControl(rawFrame(FrameType.ROUND_END, [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0], 1)), 'LIVEMIG_E_WIRE_MALFORMED', /2\^53/);
});

test('ROUND_START, ROUND_END and STOP_COPY insist their body round equals the header round', () => {
  throwsCode(() => decodeControl(rawFrame(FrameType.ROUND_START, [2, 0, 0, 0, 9, 0, 0, 0], 3)), 'LIVEMIG_E_WIRE_MALFORMED', /body round 2 differs from header round 3/);
  throwsCode(() => decodeControl(rawFrame(FrameType.STOP_COPY, [2, 0, 0, 0, 9, 0, 0, 0], 0)), 'LIVEMIG_E_WIRE_MALFORMED');
  assert.equal(decodeFrame(encodeRoundStart({ round: 5, dirtyPages: 1 }, { seq: 1 })).round, 5);
  assert.equal(decodeFrame(encodeRoundEnd({ round: 6, pages: 1, payloadBytes: 1 })).round, 6);
  assert.equal(decodeFrame(encodeStopCopy({ round: 7, pagesRemaining: 0 })).round, 7);
});

test('malformed HELLO bodies (bad UTF-8, not JSON, wrong shape) are LIVEMIG_E_WIRE_MALFORMED', () => {
  throwsCode(() => decodeControl(rawFrame(FrameType.HELLO, [0xff])), 'LIVEMIG_E_WIRE_MALFORMED', /UTF-8/);
  throwsCode(() => decodeControl(rawFrame(FrameType.HELLO, Buffer.from('{"protocolVersion":'))), 'LIVEMIG_E_WIRE_MALFORMED', /not JSON/);
  throwsCode(() => decodeControl(rawFrame(FrameType.HELLO, Buffer.from('[1]'))), 'LIVEMIG_E_WIRE_MALFORMED', /expected an object/);
  throwsCode(() => decodeControl(rawFrame(FrameType.HELLO_ACK, Buffer.from('{"accepted":"yes"}'))), 'LIVEMIG_E_WIRE_MALFORMED', /'accepted' must be a boolean/);
});

test('decodeControl refuses a PAGES frame as a caller bug', () => {
  throwsCode(() => decodeControl(rawFrame(FrameType.PAGES, [0, 0, 0, 0])), 'LIVEMIG_E_INTERNAL', /forEachPageRecord/);
});

test('encoders refuse bodies they cannot represent', () => {
  throwsCode(() => encodeDigest({ algorithm: 'XXH', pageCount: 1, digest: 'ab' }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeDigest({ algorithm: 'xxh', pageCount: 1, digest: 'abc' }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeDigest({ algorithm: 'xxh', pageCount: 1, digest: 'AB' }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeResult({ verified: true, selfCheckOk: true, detail: '', resumedAtMs: Number.NaN }), 'LIVEMIG_E_INTERNAL');
  throwsCode(() => encodeRoundEnd({ round: 1, pages: 1, payloadBytes: 2 ** 53 }), 'LIVEMIG_E_INTERNAL');
});

test('the checksum covers the header round, so a re-labelled round is caught', () => {
  const frame = Uint8Array.from(encodeRoundStart({ round: 1, dirtyPages: 10 }));
  frame[12] = 2;
  throwsCode(() => decodeFrame(frame), 'LIVEMIG_E_WIRE_CHECKSUM');
  new DataView(frame.buffer).setUint32(20, crc32(frame.subarray(24), crc32(frame.subarray(0, 20))), true);
  throwsCode(() => decodeControl(decodeFrame(frame)), 'LIVEMIG_E_WIRE_MALFORMED', /differs/);
});
