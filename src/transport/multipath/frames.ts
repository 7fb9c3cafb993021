/**
 * Data-phase frames on a subflow (after its handshake). Grammar, all integers big-endian:
 *
 *   DATA  = type:u8(1) flags:u8 (bit0 BARRIER, bit1 FIN) reserved:u16(0) length:u32
 *           dsn:u64 epoch:u64 payload:length bytes                                 24-byte header
 *   ACK   = type:u8(2) reserved:u8(0) reserved:u16(0) windowBytes:u32 cumAck:u64  16 bytes
 *   ABORT = type:u8(3) reserved:u8(0) code:u16 length:u32 utf8 message:length bytes (<= 1024)
 *
 * dsn: the message's data sequence number (0, 1, 2, ... per direction, FIN included).
 * epoch: 1 + the dsn of the last barrier before this message, 0 when none — lets the receiver
 *   know, for a message that overtook others, whether a barrier it has not seen yet precedes it.
 * cumAck: every dsn below it has been delivered to the consumer's queue.
 * windowBytes: unacknowledged bytes the receiver lets the sender have in flight.
 */
import { LivemigError } from '../../core/index.js';

export const FRAME_DATA = 1;
export const FRAME_ACK = 2;
export const FRAME_ABORT = 3;
export const FLAG_BARRIER = 1;
export const FLAG_FIN = 2;
export const DATA_HEADER_BYTES = 24;
export const ACK_BYTES = 16;
export const ABORT_HEADER_BYTES = 8;
export const MAX_ABORT_MESSAGE_BYTES = 1024;

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), at);
  buf.writeUInt32BE(value % TWO_32, at + 4);
}

function readU64(buf: Uint8Array, at: number): number {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const hi = view.readUInt32BE(at);
  if (hi >= 2 ** 21) {
    throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `A multipath frame carries a sequence number above 2^53 (high word 0x${hi.toString(16)})`);
  }
  return hi * TWO_32 + view.readUInt32BE(at + 4);
}

export function encodeDataHeader(flags: number, length: number, dsn: number, epoch: number): Buffer {
  const h = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  h[0] = FRAME_DATA;
  h[1] = flags;
  h.writeUInt16BE(0, 2);
  h.writeUInt32BE(length, 4);
  writeU64(h, dsn, 8);
  writeU64(h, epoch, 16);
  return h;
}

export function encodeAck(cumAck: number, windowBytes: number): Buffer {
  const f = Buffer.allocUnsafe(ACK_BYTES);
  f[0] = FRAME_ACK;
  f[1] = 0;
  f.writeUInt16BE(0, 2);
  f.writeUInt32BE(Math.min(windowBytes, TWO_32 - 1), 4);
  writeU64(f, cumAck, 8);
  return f;
}

export function encodeAbort(codeNumber: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, MAX_ABORT_MESSAGE_BYTES);
  const f = Buffer.allocUnsafe(ABORT_HEADER_BYTES + text.length);
  f[0] = FRAME_ABORT;
  f[1] = 0;
  f.writeUInt16BE(codeNumber, 2);
  f.writeUInt32BE(text.length, 4);
  text.copy(f, ABORT_HEADER_BYTES);
  return f;
}

/**
 * MessageLength for the subflow byte stream: the whole frame's length once its header is in, null
 * before. Rejects unknown types and DATA payloads above `maxPayloadBytes` (the channel's maxMessageBytes).
 */
export function frameLength(maxPayloadBytes: number): (b: Uint8Array) => number | null {
  return (b) => {
    if (b.length < 8) return null;
    const length = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
    switch (b[0]) {
      case FRAME_DATA:
        if (length > maxPayloadBytes) {
          throw new LivemigError(
            'LIVEMIG_E_TRANSPORT_TOO_LARGE',
            `The peer sent a ${length}-byte message, more than maxMessageBytes (${maxPayloadBytes}); `
            + 'raise maxMessageBytes on this side or send smaller messages',
          );
        }
        return DATA_HEADER_BYTES + length;
      case FRAME_ACK:
        return ACK_BYTES;
      case FRAME_ABORT:
        if (length > MAX_ABORT_MESSAGE_BYTES) {
          throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `A multipath ABORT frame announces ${length} message bytes (at most ${MAX_ABORT_MESSAGE_BYTES})`);
        }
        return ABORT_HEADER_BYTES + length;
      default:
        throw new LivemigError(
          'LIVEMIG_E_TRANSPORT_MALFORMED',
          `Unknown multipath frame type ${b[0]}; the peer speaks another protocol or version`,
        );
    }
  };
}

export interface DataFrame { kind: 'data'; flags: number; dsn: number; epoch: number; payload: Uint8Array }
export interface AckFrame { kind: 'ack'; cumAck: number; windowBytes: number }
export interface AbortFrame { kind: 'abort'; codeNumber: number; message: string }
export type Frame = DataFrame | AckFrame | AbortFrame;

/** Parses one whole frame as split by frameLength. */
export function parseFrame(f: Uint8Array): Frame {
  const view = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  switch (f[0]) {
    case FRAME_DATA:
      if ((f[1] & ~(FLAG_BARRIER | FLAG_FIN)) !== 0) {
        throw new LivemigError('LIVEMIG_E_TRANSPORT_MALFORMED', `A multipath DATA frame has unknown flags 0x${f[1].toString(16)}`);
      }
      return { kind: 'data', flags: f[1], dsn: readU64(f, 8), epoch: readU64(f, 16), payload: f.subarray(DATA_HEADER_BYTES) };
    case FRAME_ACK:
      return { kind: 'ack', windowBytes: view.readUInt32BE(4), cumAck: readU64(f, 8) };
    default:
      return { kind: 'abort', codeNumber: view.readUInt16BE(2), message: view.toString('utf8', ABORT_HEADER_BYTES) };
  }
}
