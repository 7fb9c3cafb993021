/**
 * Test helpers for channels: a tiny 4-byte length-prefix message format (the real wire check lives
 * in src/wire), message builders, a seeded random source and a garbage-collected memory probe.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { LivemigError } from '../../src/core/index.js';
import type { Channel, MessageLength } from '../../src/transport/index.js';

/** Bytes of the test format's header: a big-endian u32 payload length. */
export const HEADER_BYTES = 4;

/** The top bit of the length is reserved: a header with it set is malformed. */
const RESERVED_BIT = 0x8000_0000;

/** MessageLength of the test format: 4 + payload length, null while the header is incomplete. */
export const lengthPrefixed: MessageLength = (buffered) => {
  if (buffered.length < HEADER_BYTES) return null;
  const payload = ((buffered[0] << 24) | (buffered[1] << 16) | (buffered[2] << 8) | buffered[3]) >>> 0;
  if ((payload & RESERVED_BIT) !== 0) {
    throw new LivemigError('LIVEMIG_E_WIRE_MALFORMED', `test frame header has its reserved bit set (0x${payload.toString(16)})`);
  }
  return HEADER_BYTES + payload;
};

/** A whole message of `totalBytes` (>= 4), payload filled from `fill` (repeated) or zeros. */
export function frame(totalBytes: number, fill?: Uint8Array): Buffer {
  const message = Buffer.allocUnsafeSlow(totalBytes);
  message.writeUInt32BE(totalBytes - HEADER_BYTES, 0);
  if (fill === undefined) {
    message.fill(0, HEADER_BYTES);
  } else {
    for (let at = HEADER_BYTES; at < totalBytes; at += fill.length) {
      message.set(fill.subarray(0, Math.min(fill.length, totalBytes - at)), at);
    }
  }
  return message;
}

/** A message carrying a round and a sequence number (both u32) after the header; at least 12 bytes. */
export function tagged(round: number, seq: number, totalBytes: number, fill?: Uint8Array): Buffer {
  const message = frame(Math.max(totalBytes, HEADER_BYTES + 8), fill);
  message.writeUInt32BE(round, HEADER_BYTES);
  message.writeUInt32BE(seq, HEADER_BYTES + 4);
  return message;
}

/** Reads the tags written by `tagged`. */
export function tagsOf(message: Uint8Array): { round: number; seq: number } {
  const view = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  return { round: view.readUInt32BE(HEADER_BYTES), seq: view.readUInt32BE(HEADER_BYTES + 4) };
}

/** A seeded xorshift32 source: reproducible sizes and contents. */
export function seeded(seed: number): { next(): number; int(maxExclusive: number): number; bytes(n: number): Uint8Array } {
  let s = (seed >>> 0) || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  return {
    next,
    int: (maxExclusive) => next() % maxExclusive,
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next() & 0xff;
      return out;
    },
  };
}

let gcFn: (() => void) | undefined;

/** Bytes held in ArrayBuffers after a full garbage collection (the measure for buffer growth). */
export function arrayBufferBytesAfterGc(): number {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().arrayBuffers;
}

/** Collects every message until the loop ends; rejects with the channel's error. */
export async function collect(channel: Channel): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of channel) out.push(m);
  return out;
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
