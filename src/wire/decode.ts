/**
 * Frame decoding in two steps, as mini-redis does: a cheap `checkFrame` finds where the first frame
 * ends (or says "incomplete" by returning null), then `decodeFrame` parses exactly one whole frame.
 * "Need more bytes" is a value; a malformed frame is a LivemigError.
 */

import { errorCodeFromNumber, LivemigError } from '../core/errors.js';
import { BodyReader, decodeUtf8, malformed } from './binary.js';
import { checkHeader, frameChecksum, frameTypeName } from './frame-header.js';
import { validateHello, validateHelloAck } from './handshake.js';
import {
  DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameType, HEADER_OFFSET as O, KNOWN_FRAME_FLAGS, MAX_MAX_FRAME_BYTES,
  type ControlMessage, type DecodeOptions, type Frame, type FrameTypeValue, type ResultBody,
} from './types.js';

/**
 * The transport's MessageLength for livemig frames: the total length of the first frame once its
 * header is buffered, or null while more bytes are needed. Throws LIVEMIG_E_WIRE_MALFORMED (bad
 * magic), LIVEMIG_E_VERSION_MISMATCH or LIVEMIG_E_WIRE_TOO_LARGE from the header alone, before the
 * body arrives.
 */
export function checkFrame(buf: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): number | null {
  return checkHeader(buf, maxFrameBytes);
}

/**
 * checkFrame bound to a negotiated frame limit; pass it as the transport's `messageLength`
 * (structurally transport's MessageLength; wire does not import transport).
 */
export function createFrameCheck(maxFrameBytes: number): (buffered: Uint8Array) => number | null {
  checkLimit(maxFrameBytes);
  return (buf) => checkHeader(buf, maxFrameBytes);
}

function checkLimit(maxFrameBytes: number): void {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < FRAME_HEADER_BYTES || maxFrameBytes > MAX_MAX_FRAME_BYTES) {
    throw new LivemigError(
      'LIVEMIG_E_INVALID_OPTION',
      `Expected maxFrameBytes to be an integer in ${FRAME_HEADER_BYTES}..${MAX_MAX_FRAME_BYTES}, got ${maxFrameBytes}`,
    );
  }
}

/**
 * Parses one whole frame: header, exact length, checksum, then type and flags. The checksum is
 * checked before the type, so a corrupted type reads as LIVEMIG_E_WIRE_CHECKSUM and only an intact
 * frame of a type this version lacks reads as LIVEMIG_E_WIRE_UNKNOWN_TYPE. The returned body is a
 * view into `message` (no copy).
 */
export function decodeFrame(message: Uint8Array, options: DecodeOptions = {}): Frame {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const total = checkHeader(message, maxFrameBytes);
  if (total === null) {
    throw malformed('frame', `message of ${message.length} bytes ends inside the ${FRAME_HEADER_BYTES}-byte header`);
  }
  if (total !== message.length) {
    throw malformed('frame', `header announces ${total} bytes but the message has ${message.length}`);
  }
  const view = new DataView(message.buffer, message.byteOffset, FRAME_HEADER_BYTES);
  const bodyLength = total - FRAME_HEADER_BYTES;
  const expected = view.getUint32(O.CHECKSUM, true);
  const actual = frameChecksum(message, bodyLength);
  if (expected !== actual) {
    throw new LivemigError(
      'LIVEMIG_E_WIRE_CHECKSUM',
      `frame checksum 0x${expected.toString(16).padStart(8, '0')} does not match its contents (0x${actual.toString(16).padStart(8, '0')}): the path corrupts data`,
    );
  }
  const type = view.getUint8(O.TYPE);
  if (frameTypeName(type) === undefined) {
    throw new LivemigError(
      'LIVEMIG_E_WIRE_UNKNOWN_TYPE',
      `frame type ${type} is not known to protocol version ${message[O.VERSION]}: the peer runs a newer livemig; upgrade this agent`,
    );
  }
  const flags = view.getUint16(O.FLAGS, true);
  if ((flags & ~KNOWN_FRAME_FLAGS) !== 0) {
    throw malformed('frame', `flags 0x${flags.toString(16)} set bits this version does not define`);
  }
  return {
    type: type as FrameTypeValue,
    flags,
    round: view.getUint32(O.ROUND, true),
    seq: view.getUint32(O.SEQ, true),
    body: message.subarray(FRAME_HEADER_BYTES),
  };
}

/**
 * Splits a byte stream into frames. `push` what arrives, then call `next` until it returns null.
 * Buffering is bounded: `push` refuses more bytes while a whole max-size frame is already held, so
 * the decoder never holds more than one max frame plus one chunk. A frame lying inside one pushed
 * chunk is returned as a view of it (do not modify chunks after pushing them); frames spanning
 * chunks are copied once. After an error the decoder stays failed: a stream cannot resynchronise.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  readonly #chunks: Uint8Array[] = [];
  /** Index of the first live chunk in #chunks, and the read offset inside it. */
  #first = 0;
  #offset = 0;
  #buffered = 0;
  #pending: number | null = null;
  #failed: unknown = undefined;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);

  /** @param options.maxFrameBytes Largest frame accepted, in bytes. @default DEFAULT_MAX_FRAME_BYTES */
  constructor(options: DecodeOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    checkLimit(this.#maxFrameBytes);
  }

  /** Bytes held and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Appends received bytes. Throws LIVEMIG_E_INTERNAL if the caller stopped draining with next(). */
  push(chunk: Uint8Array): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#buffered >= this.#maxFrameBytes) {
      throw new LivemigError(
        'LIVEMIG_E_INTERNAL',
        `FrameDecoder already holds ${this.#buffered} bytes (a whole frame): call next() until it returns null before pushing more`,
        { phase: 'wire' },
      );
    }
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next whole frame, or null until more bytes arrive. Throws LivemigError on a malformed frame. */
  next(): Frame | null {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      return this.#next();
    } catch (err) {
      this.#failed = err;
      throw err;
    }
  }

  #next(): Frame | null {
    if (this.#pending === null) {
      if (this.#buffered === 0) return null;
      // Check what is there of the header: bad magic or version fails on the first bytes.
      const head = this.#peek(Math.min(this.#buffered, FRAME_HEADER_BYTES));
      this.#pending = checkHeader(head, this.#maxFrameBytes);
      if (this.#pending === null) return null;
    }
    const total = this.#pending;
    if (this.#buffered < total) return null;
    this.#pending = null;
    return decodeFrame(this.#take(total), { maxFrameBytes: this.#maxFrameBytes });
  }

  /** The first n buffered bytes, contiguous (a view when they lie in one chunk). */
  #peek(n: number): Uint8Array {
    const chunk = this.#chunks[this.#first];
    if (chunk.length - this.#offset >= n) return chunk.subarray(this.#offset, this.#offset + n);
    const out = this.#header.subarray(0, n);
    let filled = 0;
    let offset = this.#offset;
    for (let i = this.#first; filled < n; i++) {
      const c = this.#chunks[i];
      const k = Math.min(n - filled, c.length - offset);
      out.set(c.subarray(offset, offset + k), filled);
      filled += k;
      offset = 0;
    }
    return out;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  #take(n: number): Uint8Array {
    const chunk = this.#chunks[this.#first];
    let out: Uint8Array;
    if (chunk.length - this.#offset >= n) {
      out = chunk.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#chunks[this.#first];
        const k = Math.min(n - filled, c.length - this.#offset);
        out.set(c.subarray(this.#offset, this.#offset + k), filled);
        filled += k;
        this.#offset += k;
        if (this.#offset === c.length) this.#dropFirst();
      }
    }
    if (this.#first < this.#chunks.length && this.#offset === this.#chunks[this.#first].length) this.#dropFirst();
    this.#buffered -= n;
    return out;
  }

  #dropFirst(): void {
    this.#chunks[this.#first] = EMPTY;
    this.#first++;
    this.#offset = 0;
    // Compact now and then, so the chunk list does not grow without bound (amortised O(1)).
    if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks.splice(0, this.#first);
      this.#first = 0;
    } else if (this.#first === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#first = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The typed body of a control frame (every type but PAGES), with its header fields. Every field
 * is checked: exact body length, enum bytes (unknown values rejected), UTF-8 text, and for
 * ROUND_START / ROUND_END / STOP_COPY that the body's round equals the header's.
 * Throws LIVEMIG_E_WIRE_MALFORMED; a PAGES frame is a caller bug (LIVEMIG_E_INTERNAL).
 */
export function decodeControl(frame: Frame): ControlMessage {
  const { flags, round, seq } = frame;
  const head = { flags, round, seq };
  switch (frame.type) {
    case FrameType.HELLO:
      return { type: frame.type, ...head, body: validateHello(parseJson(frame.body, 'HELLO')) };
    case FrameType.HELLO_ACK:
      return { type: frame.type, ...head, body: validateHelloAck(parseJson(frame.body, 'HELLO_ACK')) };
    case FrameType.ROUND_START: {
      const r = new BodyReader(frame.body, 'ROUND_START');
      const body = { round: r.u32('round'), dirtyPages: r.u32('dirtyPages') };
      r.end();
      sameRound('ROUND_START', body.round, round);
      return { type: frame.type, ...head, body };
    }
    case FrameType.ROUND_END: {
      const r = new BodyReader(frame.body, 'ROUND_END');
      const body = { round: r.u32('round'), pages: r.u32('pages'), payloadBytes: r.u64('payloadBytes') };
      r.end();
      sameRound('ROUND_END', body.round, round);
      return { type: frame.type, ...head, body };
    }
    case FrameType.STOP_COPY: {
      const r = new BodyReader(frame.body, 'STOP_COPY');
      const body = { round: r.u32('round'), pagesRemaining: r.u32('pagesRemaining') };
      r.end();
      sameRound('STOP_COPY', body.round, round);
      return { type: frame.type, ...head, body };
    }
    case FrameType.DIGEST: {
      const r = new BodyReader(frame.body, 'DIGEST');
      const algorithm = decodeUtf8(r.bytes(r.u8('algorithm length'), 'algorithm'), 'DIGEST algorithm');
      if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(algorithm)) throw malformed('DIGEST', `algorithm '${algorithm}' is not a digest name`);
      const pageCount = r.u32('pageCount');
      const digestLength = r.u8('digest length');
      if (digestLength === 0 || digestLength > 128) throw malformed('DIGEST', `digest length ${digestLength} is not in 1..128`);
      const digest = Buffer.from(r.bytes(digestLength, 'digest')).toString('hex');
      r.end();
      return { type: frame.type, ...head, body: { algorithm, pageCount, digest } };
    }
    case FrameType.RESULT: {
      const r = new BodyReader(frame.body, 'RESULT');
      const verified = r.bool('verified');
      const selfCheck = r.u8('selfCheck');
      if (selfCheck > 2) throw malformed('RESULT', `selfCheck must be 0 (failed), 1 (passed) or 2 (not run), got ${selfCheck}`);
      const resumed = r.bool('resumed');
      const resumedAtMs = r.f64('resumedAtMs');
      if (resumed ? !(Number.isFinite(resumedAtMs) && resumedAtMs >= 0) : !Object.is(resumedAtMs, 0)) {
        throw malformed('RESULT', resumed ? `resumedAtMs ${resumedAtMs} is not a time` : 'resumedAtMs must be 0 when the guest did not resume');
      }
      const detail = r.string16('detail');
      r.end();
      const body: ResultBody = { verified, selfCheckOk: selfCheck === 2 ? null : selfCheck === 1, detail };
      if (resumed) body.resumedAtMs = resumedAtMs;
      return { type: frame.type, ...head, body };
    }
    case FrameType.ABORT: {
      const r = new BodyReader(frame.body, 'ABORT');
      const number = r.u16('code');
      const message = r.string16('message');
      r.end();
      const code = errorCodeFromNumber(number);
      if (code === undefined) {
        // Rejected explicitly, but the peer's words are kept: the operator still learns why.
        throw malformed('ABORT', `unknown error code number ${number} (peer said: ${message.slice(0, 500)})`);
      }
      return { type: frame.type, ...head, body: { code, message } };
    }
    case FrameType.PING:
    case FrameType.PONG: {
      const r = new BodyReader(frame.body, frame.type === FrameType.PING ? 'PING' : 'PONG');
      const body = { nonce: r.u32('nonce') };
      r.end();
      return { type: frame.type, ...head, body };
    }
    case FrameType.PAGES:
      throw new LivemigError('LIVEMIG_E_INTERNAL', 'decodeControl() got a PAGES frame: read it with forEachPageRecord()', { phase: 'wire' });
    default: {
      const unknown: never = frame.type;
      throw new LivemigError('LIVEMIG_E_WIRE_UNKNOWN_TYPE', `frame type ${String(unknown)} is not a control frame of this version`);
    }
  }
}

function sameRound(what: string, bodyRound: number, headerRound: number): void {
  if (bodyRound !== headerRound) throw malformed(what, `body round ${bodyRound} differs from header round ${headerRound}`);
}

function parseJson(body: Uint8Array, what: string): unknown {
  if (body.length > 64 * 1024) throw malformed(what, `body of ${body.length} bytes exceeds 65536 bytes`);
  const text = decodeUtf8(body, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LivemigError('LIVEMIG_E_WIRE_MALFORMED', `${what}: body is not JSON (${(err as Error).message})`, { phase: 'handshake' });
  }
}
