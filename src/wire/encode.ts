/**
 * Frame encoders: the generic `encodeFrame` and one encoder per control frame. Every encoder
 * returns a fresh, exactly sized buffer that the channel may own. Control bodies are compact
 * little-endian binary (PROTOCOL.md gives each layout), except HELLO and HELLO_ACK, which are JSON.
 */

import { ERROR_CODE_NUMBERS, LivemigError } from '../core/errors.js';
import { encodeUtf8, encodeUtf8Bounded } from './binary.js';
import { allocFrame, assertHeaderFields, assertUint, sealFrame } from './frame-header.js';
import { validateHello, validateHelloAck } from './handshake.js';
import {
  FRAME_HEADER_BYTES, FrameType, MAX_MAX_FRAME_BYTES,
  type AbortBody, type ControlMessage, type DigestBody, type FrameHeaderFields, type FrameTypeValue, type Hello, type HelloAck,
  type PingBody, type ResultBody, type RoundEndBody, type RoundStartBody, type StopCopyBody,
} from './types.js';

/** Header fields plus the limit the encoded frame must respect. */
export interface EncodeOptions extends FrameHeaderFields {
  /** Throw LIVEMIG_E_WIRE_TOO_LARGE if the frame would exceed this many bytes. @default MAX_MAX_FRAME_BYTES */
  maxFrameBytes?: number;
}

/** Header fields for frames whose round comes from their body. */
export type RoundlessOptions = Omit<EncodeOptions, 'round'>;

const EMPTY = new Uint8Array(0);
const U32_MAX = 0xffff_ffff;
/** Largest HELLO / HELLO_ACK body, in bytes: bounds JSON parsing work on the receiver. */
export const MAX_HANDSHAKE_BODY_BYTES = 64 * 1024;
/** Largest UTF-8 text in RESULT.detail and ABORT.message, in bytes (longer text is cut). */
export const MAX_TEXT_BYTES = 0xffff;
/** Largest DIGEST digest, in bytes (hex digits / 2). */
export const MAX_DIGEST_BYTES = 128;
const ALGORITHM = /^[a-z0-9][a-z0-9-]{0,31}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * Encodes one frame: header, then `body` copied after it. Returns a fresh buffer.
 * Throws LIVEMIG_E_INTERNAL for an unknown type or out-of-range header field (a caller bug) and
 * LIVEMIG_E_WIRE_TOO_LARGE when the frame would exceed `maxFrameBytes`.
 */
export function encodeFrame(type: FrameTypeValue, options: EncodeOptions = {}, body: Uint8Array = EMPTY): Uint8Array {
  const { round = 0, seq = 0, flags = 0, maxFrameBytes = MAX_MAX_FRAME_BYTES } = options;
  assertHeaderFields(type, flags, round, seq);
  const total = FRAME_HEADER_BYTES + body.length;
  if (total > maxFrameBytes) {
    throw new LivemigError('LIVEMIG_E_WIRE_TOO_LARGE', `a frame of ${total} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
  const frame = allocFrame(total);
  frame.set(body, FRAME_HEADER_BYTES);
  sealFrame(frame, type, flags, body.length, round, seq);
  return frame;
}

/** A body writer for the small fixed-layout bodies. */
function fixedBody(bytes: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(bytes);
  return { buf, view: new DataView(buf.buffer) };
}

function setU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true);
}

/** HELLO: validates `hello`, then sends it as JSON. */
export function encodeHello(hello: Hello, options: RoundlessOptions = {}): Uint8Array {
  return encodeJson(FrameType.HELLO, validateHello(hello), options);
}

/** HELLO_ACK: validates `ack`, then sends it as JSON. */
export function encodeHelloAck(ack: HelloAck, options: RoundlessOptions = {}): Uint8Array {
  return encodeJson(FrameType.HELLO_ACK, validateHelloAck(ack), options);
}

function encodeJson(type: FrameTypeValue, value: unknown, options: RoundlessOptions): Uint8Array {
  const body = encodeUtf8(JSON.stringify(value));
  if (body.length > MAX_HANDSHAKE_BODY_BYTES) {
    throw new LivemigError('LIVEMIG_E_WIRE_TOO_LARGE', `handshake body of ${body.length} bytes exceeds ${MAX_HANDSHAKE_BODY_BYTES} bytes: send fewer guest params`);
  }
  return encodeFrame(type, { ...options, round: 0 }, body);
}

/** ROUND_START `{round u32, dirtyPages u32}`; the header carries the same round. */
export function encodeRoundStart(body: RoundStartBody, options: RoundlessOptions = {}): Uint8Array {
  assertUint(body.round, U32_MAX, 'ROUND_START round');
  assertUint(body.dirtyPages, U32_MAX, 'ROUND_START dirtyPages');
  const { buf, view } = fixedBody(8);
  view.setUint32(0, body.round, true);
  view.setUint32(4, body.dirtyPages, true);
  return encodeFrame(FrameType.ROUND_START, { ...options, round: body.round }, buf);
}

/** ROUND_END `{round u32, pages u32, payloadBytes u64}`; the header carries the same round. */
export function encodeRoundEnd(body: RoundEndBody, options: RoundlessOptions = {}): Uint8Array {
  assertUint(body.round, U32_MAX, 'ROUND_END round');
  assertUint(body.pages, U32_MAX, 'ROUND_END pages');
  assertUint(body.payloadBytes, Number.MAX_SAFE_INTEGER, 'ROUND_END payloadBytes');
  const { buf, view } = fixedBody(16);
  view.setUint32(0, body.round, true);
  view.setUint32(4, body.pages, true);
  setU64(view, 8, body.payloadBytes);
  return encodeFrame(FrameType.ROUND_END, { ...options, round: body.round }, buf);
}

/** STOP_COPY `{round u32, pagesRemaining u32}`; the header carries the same round. */
export function encodeStopCopy(body: StopCopyBody, options: RoundlessOptions = {}): Uint8Array {
  assertUint(body.round, U32_MAX, 'STOP_COPY round');
  assertUint(body.pagesRemaining, U32_MAX, 'STOP_COPY pagesRemaining');
  const { buf, view } = fixedBody(8);
  view.setUint32(0, body.round, true);
  view.setUint32(4, body.pagesRemaining, true);
  return encodeFrame(FrameType.STOP_COPY, { ...options, round: body.round }, buf);
}

/** DIGEST `{algLen u8, algorithm, pageCount u32, digestLen u8, digest bytes}`. */
export function encodeDigest(body: DigestBody, options: EncodeOptions = {}): Uint8Array {
  if (!ALGORITHM.test(body.algorithm)) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `DIGEST algorithm '${body.algorithm}' must match ${ALGORITHM}`, { phase: 'wire' });
  }
  if (!HEX.test(body.digest) || body.digest.length > MAX_DIGEST_BYTES * 2) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `DIGEST digest must be 1..${MAX_DIGEST_BYTES} bytes of lowercase hex`, { phase: 'wire' });
  }
  assertUint(body.pageCount, U32_MAX, 'DIGEST pageCount');
  const digest = Buffer.from(body.digest, 'hex');
  const { buf, view } = fixedBody(1 + body.algorithm.length + 4 + 1 + digest.length);
  let at = 0;
  view.setUint8(at, body.algorithm.length); at += 1;
  buf.set(encodeUtf8(body.algorithm), at); at += body.algorithm.length;
  view.setUint32(at, body.pageCount, true); at += 4;
  view.setUint8(at, digest.length); at += 1;
  buf.set(digest, at);
  return encodeFrame(FrameType.DIGEST, options, buf);
}

/** Self-check states on the wire. */
export const SELF_CHECK_WIRE = Object.freeze({ FAILED: 0, PASSED: 1, NOT_RUN: 2 } as const);

/**
 * RESULT `{verified u8, selfCheck u8 (0 failed, 1 passed, 2 not run), resumed u8,
 * resumedAtMs f64, detailLen u16, detail}`. A detail longer than 65535 UTF-8 bytes is cut.
 */
export function encodeResult(body: ResultBody, options: EncodeOptions = {}): Uint8Array {
  const resumed = body.resumedAtMs !== undefined;
  if (resumed && !(Number.isFinite(body.resumedAtMs) && (body.resumedAtMs as number) >= 0)) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `RESULT resumedAtMs must be a finite time >= 0, got ${body.resumedAtMs}`, { phase: 'wire' });
  }
  const detail = encodeUtf8Bounded(body.detail, MAX_TEXT_BYTES);
  const { buf, view } = fixedBody(3 + 8 + 2 + detail.length);
  view.setUint8(0, body.verified ? 1 : 0);
  view.setUint8(1, body.selfCheckOk === null ? SELF_CHECK_WIRE.NOT_RUN : body.selfCheckOk ? SELF_CHECK_WIRE.PASSED : SELF_CHECK_WIRE.FAILED);
  view.setUint8(2, resumed ? 1 : 0);
  view.setFloat64(3, resumed ? (body.resumedAtMs as number) : 0, true);
  view.setUint16(11, detail.length, true);
  buf.set(detail, 13);
  return encodeFrame(FrameType.RESULT, options, buf);
}

/**
 * ABORT `{code u16 (ERROR_CODE_NUMBERS), messageLen u16, message}`. Never throws for a long
 * message (it is cut): an abort must always be sendable.
 */
export function encodeAbort(body: AbortBody, options: EncodeOptions = {}): Uint8Array {
  const code = ERROR_CODE_NUMBERS[body.code] ?? ERROR_CODE_NUMBERS.LIVEMIG_E_INTERNAL;
  const message = encodeUtf8Bounded(body.message, MAX_TEXT_BYTES);
  const { buf, view } = fixedBody(4 + message.length);
  view.setUint16(0, code, true);
  view.setUint16(2, message.length, true);
  buf.set(message, 4);
  return encodeFrame(FrameType.ABORT, options, buf);
}

/** An ABORT frame for an error: its code if it is a LivemigError, LIVEMIG_E_INTERNAL otherwise. */
export function encodeAbortFor(err: unknown, options: EncodeOptions = {}): Uint8Array {
  if (err instanceof LivemigError) return encodeAbort({ code: err.code, message: err.message }, options);
  return encodeAbort({ code: 'LIVEMIG_E_INTERNAL', message: err instanceof Error ? err.message : String(err) }, options);
}

/** PING `{nonce u32}`. */
export function encodePing(body: PingBody, options: EncodeOptions = {}): Uint8Array {
  return encodeNonce(FrameType.PING, body, options);
}

/** PONG `{nonce u32}`: the answer to a PING, echoing its nonce. */
export function encodePong(body: PingBody, options: EncodeOptions = {}): Uint8Array {
  return encodeNonce(FrameType.PONG, body, options);
}

function encodeNonce(type: FrameTypeValue, body: PingBody, options: EncodeOptions): Uint8Array {
  assertUint(body.nonce, U32_MAX, 'PING nonce');
  const { buf, view } = fixedBody(4);
  view.setUint32(0, body.nonce, true);
  return encodeFrame(type, options, buf);
}

/**
 * Encodes any control message (the shape decodeControl returns), dispatching on its type. The
 * header round of ROUND_START / ROUND_END / STOP_COPY comes from the body.
 */
export function encodeControl(message: ControlMessage, options: Pick<EncodeOptions, 'maxFrameBytes'> = {}): Uint8Array {
  const o: EncodeOptions = { seq: message.seq, flags: message.flags, round: message.round, ...options };
  switch (message.type) {
    case FrameType.HELLO: return encodeHello(message.body, o);
    case FrameType.HELLO_ACK: return encodeHelloAck(message.body, o);
    case FrameType.ROUND_START: return encodeRoundStart(message.body, o);
    case FrameType.ROUND_END: return encodeRoundEnd(message.body, o);
    case FrameType.STOP_COPY: return encodeStopCopy(message.body, o);
    case FrameType.DIGEST: return encodeDigest(message.body, o);
    case FrameType.RESULT: return encodeResult(message.body, o);
    case FrameType.ABORT: return encodeAbort(message.body, o);
    case FrameType.PING: return encodePing(message.body, o);
    case FrameType.PONG: return encodePong(message.body, o);
    default: {
      const never: never = message;
      throw new LivemigError('LIVEMIG_E_INTERNAL', `cannot encode control message ${JSON.stringify(never)}`, { phase: 'wire' });
    }
  }
}
