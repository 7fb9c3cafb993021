/**
 * Independent LZ4 implementations, loaded with types, for interop tests and benchmarks:
 * node-lz4 (`lz4`, bundles C lz4 1.9.2, NAN addon) and lz4-napi (lz4_flex in Rust, prebuilt).
 */

import { createRequire } from 'node:module';

/** node-lz4's raw block functions (the C ones when its addon built). */
export interface NodeLz4 {
  /** Compresses `src` into `dst`; returns bytes written, 0 when incompressible or too small. */
  encodeBlock(src: Buffer, dst: Buffer): number;
  /** Decodes a raw block into `dst`; returns bytes produced, negative on error. */
  decodeBlock(src: Buffer, dst: Buffer): number;
}

/** lz4-napi's sync block API: a 4-byte little-endian size prefix, then a raw block. */
export interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array): Buffer;
}

const require = createRequire(import.meta.url);

/** node-lz4 (`lz4` devDependency). */
export const nodeLz4 = require('lz4') as NodeLz4;
/** lz4-napi (devDependency). */
export const lz4Napi = require('lz4-napi') as Lz4Napi;

/** A Buffer view of `bytes` without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** lz4-napi's prefixed form of a raw block that decodes to `size` bytes. */
export function withSizePrefix(block: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(4 + block.length);
  out.writeUInt32LE(size, 0);
  out.set(block, 4);
  return out;
}
