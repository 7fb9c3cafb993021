/**
 * Internal: writing, sealing and checking the fixed frame header. Shared by encode.ts, page-batch.ts
 * and decode.ts so that the layout lives in one place. Not part of the folder's public surface.
 */

import { crc32 } from 'node:zlib';
import { LivemigError } from '../core/errors.js';
import {
  FRAME_HEADER_BYTES, FRAME_MAGIC, FrameType, HEADER_OFFSET as O, KNOWN_FRAME_FLAGS, PROTOCOL_VERSION,
  type FrameTypeName, type FrameTypeValue,
} from './types.js';

const U32_MAX = 0xffff_ffff;

const TYPE_NAMES: ReadonlyMap<number, FrameTypeName> = new Map(
  (Object.entries(FrameType) as [FrameTypeName, FrameTypeValue][]).map(([name, value]) => [value, name]),
);

/** The name of a known frame type, or undefined. */
export function frameTypeName(type: number): FrameTypeName | undefined {
  return TYPE_NAMES.get(type);
}

/** Throws LIVEMIG_E_INTERNAL unless `n` is an integer in 0..max (a caller bug, not peer input). */
export function assertUint(n: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `${what} must be an integer in 0..${max}, got ${n}`, { phase: 'wire' });
  }
}

/** Validates the header fields a sender chose; caller bugs become LIVEMIG_E_INTERNAL. */
export function assertHeaderFields(type: number, flags: number, round: number, seq: number): void {
  if (!TYPE_NAMES.has(type)) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `cannot encode unknown frame type ${type}`, { phase: 'wire' });
  }
  assertUint(flags, 0xffff, 'frame flags');
  if ((flags & ~KNOWN_FRAME_FLAGS) !== 0) {
    throw new LivemigError('LIVEMIG_E_INTERNAL', `frame flags 0x${flags.toString(16)} set bits this version does not define`, { phase: 'wire' });
  }
  assertUint(round, U32_MAX, 'frame round');
  assertUint(seq, U32_MAX, 'frame seq');
}

/**
 * Writes the header into buf[0..24) and the checksum over header bytes 0..19 and the body that
 * must already sit at buf[24..24+bodyLength). No validation: callers validated the fields.
 */
export function sealFrame(
  buf: Uint8Array, type: number, flags: number, bodyLength: number, round: number, seq: number,
): void {
  const view = new DataView(buf.buffer, buf.byteOffset, FRAME_HEADER_BYTES);
  buf.set(FRAME_MAGIC, O.MAGIC);
  view.setUint8(O.VERSION, PROTOCOL_VERSION);
  view.setUint8(O.TYPE, type);
  view.setUint16(O.FLAGS, flags, true);
  view.setUint32(O.BODY_LENGTH, bodyLength, true);
  view.setUint32(O.ROUND, round, true);
  view.setUint32(O.SEQ, seq, true);
  view.setUint32(O.CHECKSUM, frameChecksum(buf, bodyLength), true);
}

/** CRC-32 of header bytes 0..19 continued over the body (the checksum field itself is excluded). */
export function frameChecksum(frame: Uint8Array, bodyLength: number): number {
  const head = crc32(frame.subarray(0, O.CHECKSUM));
  return bodyLength === 0 ? head : crc32(frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + bodyLength), head);
}

/**
 * The mini-redis style check: validates what is buffered of the header (magic from the first byte,
 * version from the fifth) and returns the whole frame's length once the header is complete, or null
 * while more bytes are needed. Throws on bad magic, unknown version, or a frame over the limit, so a
 * bad peer is caught before its body arrives.
 */
export function checkHeader(buf: Uint8Array, maxFrameBytes: number): number | null {
  const magicBytes = Math.min(buf.length, FRAME_MAGIC.length);
  for (let i = 0; i < magicBytes; i++) {
    if (buf[i] !== FRAME_MAGIC[i]) {
      throw new LivemigError(
        'LIVEMIG_E_WIRE_MALFORMED',
        `frame does not start with the livemig magic 'LMIG' (byte ${i} is 0x${buf[i].toString(16).padStart(2, '0')}): ` +
          'the peer is not a livemig agent, or the stream lost its framing',
      );
    }
  }
  if (buf.length <= O.VERSION) return null;
  const version = buf[O.VERSION];
  if (version !== PROTOCOL_VERSION) {
    const upgrade = version > PROTOCOL_VERSION ? 'upgrade this agent' : 'upgrade the peer';
    throw new LivemigError(
      'LIVEMIG_E_VERSION_MISMATCH',
      `peer frames use wire protocol ${version}, this agent speaks ${PROTOCOL_VERSION}: ${upgrade} so both run the same livemig version`,
    );
  }
  if (buf.length < FRAME_HEADER_BYTES) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, FRAME_HEADER_BYTES);
  const total = FRAME_HEADER_BYTES + view.getUint32(O.BODY_LENGTH, true);
  if (total > maxFrameBytes) {
    throw new LivemigError(
      'LIVEMIG_E_WIRE_TOO_LARGE',
      `frame of ${total} bytes exceeds the limit of ${maxFrameBytes} bytes: the peers disagree on maxFrameBytes, or the stream is corrupt`,
    );
  }
  return total;
}

/**
 * An uninitialised buffer of its own (not a slice of Node's pool, so the channel may keep or
 * transfer it), as a plain Uint8Array so frames and their body views have one type everywhere.
 */
export function allocFrame(bytes: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(buf.buffer, buf.byteOffset, bytes);
}
