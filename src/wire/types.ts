/**
 * Wire constants and shapes: the framed, versioned protocol between a source and a destination
 * agent. PROTOCOL.md beside this file is the specification; this file is its vocabulary.
 *
 * Frame header (little-endian, 24 bytes), followed by `bodyLength` body bytes:
 *
 * | offset | size | field        | meaning                                                        |
 * |-------:|-----:|--------------|----------------------------------------------------------------|
 * |      0 |    4 | magic        | the ASCII bytes `LMIG`                                         |
 * |      4 |    1 | version      | protocol version (1)                                           |
 * |      5 |    1 | type         | a FrameType                                                    |
 * |      6 |    2 | flags        | FrameFlags bits; unknown bits are rejected                     |
 * |      8 |    4 | bodyLength   | body bytes after the header                                    |
 * |     12 |    4 | round        | pre-copy round the frame belongs to (0 outside rounds)         |
 * |     16 |    4 | seq          | sender's sequence number on this channel                       |
 * |     20 |    4 | checksum     | CRC-32 (zlib) of header bytes 0..19, continued over the body   |
 */

import type { ErrorCode } from '../core/errors.js';
import type { GuestDescription } from '../guest/types.js';

/** The protocol version this build speaks. HELLO frames are always framed as version 1 (see PROTOCOL.md). */
export const PROTOCOL_VERSION = 1;

/** Every protocol version this build can speak, ascending. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1]);

/** The magic bytes that open every frame: ASCII `LMIG`. */
export const FRAME_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x4c, 0x4d, 0x49, 0x47);

/** Bytes in the fixed frame header. */
export const FRAME_HEADER_BYTES = 24;

/** Byte offsets of the header fields (see the table above). */
export const HEADER_OFFSET = Object.freeze({
  MAGIC: 0,
  VERSION: 4,
  TYPE: 5,
  FLAGS: 6,
  BODY_LENGTH: 8,
  ROUND: 12,
  SEQ: 16,
  CHECKSUM: 20,
} as const);

/** Largest frame (header + body) accepted unless negotiated otherwise, in bytes. @default 4 MiB */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * Smallest maxFrameBytes a peer may ask for: one 64 KiB raw page record and its framing must fit,
 * so that a batch can always make progress.
 */
export const MIN_MAX_FRAME_BYTES = 128 * 1024;

/** Largest maxFrameBytes a peer may ask for (bounds every receive buffer). */
export const MAX_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Frame types. Append only; never renumber: a receiver rejects a type it does not know. */
export const FrameType = Object.freeze({
  /** source → destination: capabilities, guest description (JSON body). */
  HELLO: 1,
  /** destination → source: accepted codecs and limits, or a refusal (JSON body). */
  HELLO_ACK: 2,
  /** source → destination: round `round` begins with `dirtyPages` pages to send. */
  ROUND_START: 3,
  /** source → destination: a batch of page records (see page-batch.ts). */
  PAGES: 4,
  /** source → destination: round `round` is complete: `pages` records, `payloadBytes` bytes. */
  ROUND_END: 5,
  /** source → destination: the guest is paused; the final round sends `pagesRemaining` pages. */
  STOP_COPY: 6,
  /** source → destination: digest of the whole source memory, to compare after the last page. */
  DIGEST: 7,
  /** destination → source: the digest verdict, the guest's self-check, and whether it resumed. */
  RESULT: 8,
  /** either way: the sender gives up; carries an error code and a message. */
  ABORT: 9,
  /** either way: liveness probe; the peer answers PONG with the same nonce. */
  PING: 10,
  /** either way: the answer to a PING. */
  PONG: 11,
} as const);

/** A frame type's number. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** A frame type's name, e.g. 'ROUND_START'. */
export type FrameTypeName = keyof typeof FrameType;

/** Frame flag bits. Bits not listed here must be zero; a receiver rejects a frame that sets them. */
export const FrameFlags = Object.freeze({
  NONE: 0,
  /** The frame was sent while the source guest was paused (stop-and-copy phase). */
  STOP_COPY: 0x0001,
} as const);

/** The union of every flag bit this version knows. */
export const KNOWN_FRAME_FLAGS = FrameFlags.STOP_COPY;

/** One decoded frame. `body` is a view into the decoded message (no copy). */
export interface Frame {
  type: FrameTypeValue;
  flags: number;
  round: number;
  seq: number;
  body: Uint8Array;
}

/** Header fields a sender chooses per frame. */
export interface FrameHeaderFields {
  /** Pre-copy round, u32. @default 0 */
  round?: number;
  /** Sender sequence number on the channel, u32. @default 0 */
  seq?: number;
  /** FrameFlags bits. @default 0 */
  flags?: number;
}

/** Options of the frame decoders. */
export interface DecodeOptions {
  /** Largest frame accepted (header + body), in bytes. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number;
}

/** ROUND_START body: round `round` begins; `dirtyPages` page records will follow in it. */
export interface RoundStartBody {
  round: number;
  dirtyPages: number;
}

/** ROUND_END body: round `round` sent `pages` records carrying `payloadBytes` payload bytes. */
export interface RoundEndBody {
  round: number;
  pages: number;
  payloadBytes: number;
}

/** STOP_COPY body: the guest is paused; final round `round` sends `pagesRemaining` records. */
export interface StopCopyBody {
  round: number;
  pagesRemaining: number;
}

/** DIGEST body: the source memory digest. */
export interface DigestBody {
  /** Digest algorithm name, e.g. 'xxh3-128': lowercase letters, digits and '-', 1..32 chars. */
  algorithm: string;
  /** Pages the digest covers. */
  pageCount: number;
  /** The digest as lowercase hex, at most 128 bytes (256 hex digits). */
  digest: string;
}

/** RESULT body: the destination's verdict and resume acknowledgement. */
export interface ResultBody {
  /** The destination digest matched the source's. */
  verified: boolean;
  /** The guest workload's self-check after migration; null when not run. */
  selfCheckOk: boolean | null;
  /** A human-readable explanation, UTF-8, at most 65535 bytes. */
  detail: string;
  /** When the destination guest resumed (epoch ms); absent when it did not resume. */
  resumedAtMs?: number;
}

/** PING and PONG body. */
export interface PingBody {
  /** u32 chosen by the PING sender, echoed by the PONG. */
  nonce: number;
}

/** ABORT body: why the sender gives up. */
export interface AbortBody {
  /** The error code; travels as its ERROR_CODE_NUMBERS number (u16). */
  code: ErrorCode;
  /** What went wrong and what to do, UTF-8, at most 65535 bytes. */
  message: string;
}

/** HELLO body (JSON): what the source offers and what it migrates. */
export interface Hello {
  /** Protocol version the source speaks for this session. */
  protocolVersion: number;
  /** Identifies the migration in both agents' logs: 1..128 printable ASCII characters. */
  sessionId: string;
  /** Codec names the source may send, in its order of preference. */
  codecs: string[];
  /** Guest page size in bytes; a power of two, 512..65536. */
  pageSize: number;
  /** What the destination needs to rebuild the guest. */
  guest: GuestDescription;
  /** Transport the source dialled (informational), e.g. 'tcp' or 'multipath'. */
  transport: string;
  /** Largest frame the source accepts, in bytes (MIN_MAX_FRAME_BYTES..MAX_MAX_FRAME_BYTES). */
  maxFrameBytes: number;
  /** Optional extensions the source supports; unknown ones are ignored by the destination. */
  features: string[];
}

/** HELLO_ACK body (JSON): the destination's answer. */
export interface HelloAck {
  /** The destination accepts the migration on these terms. */
  accepted: boolean;
  /** Codecs both sides speak, in the source's order; the source sends only these. Empty when refused. */
  codecs: string[];
  /** The frame limit both sides use from now on: the smaller of the two, in bytes. */
  maxFrameBytes: number;
  /** Why the destination refused, phrased for the operator. Present iff `accepted` is false. */
  reason?: string;
  /** Features both sides support (the intersection). @default [] */
  features?: string[];
  /** When refused: the error code the destination raised (e.g. LIVEMIG_E_VERSION_MISMATCH). */
  code?: ErrorCode;
}

/** The locally supported terms a destination negotiates with. */
export interface NegotiateLocal {
  /** Codec names this agent decodes. */
  codecs: readonly string[];
  /** Page size this agent expects, in bytes. */
  pageSize: number;
  /** Largest frame this agent accepts, in bytes. */
  maxFrameBytes: number;
  /** Protocol versions this agent speaks. @default SUPPORTED_PROTOCOL_VERSIONS */
  protocolVersions: readonly number[];
  /** Features this agent supports. @default [] */
  features?: readonly string[];
}

/** A decoded control frame: its type, header fields and typed body. */
export type ControlMessage =
  | ControlOf<typeof FrameType.HELLO, Hello>
  | ControlOf<typeof FrameType.HELLO_ACK, HelloAck>
  | ControlOf<typeof FrameType.ROUND_START, RoundStartBody>
  | ControlOf<typeof FrameType.ROUND_END, RoundEndBody>
  | ControlOf<typeof FrameType.STOP_COPY, StopCopyBody>
  | ControlOf<typeof FrameType.DIGEST, DigestBody>
  | ControlOf<typeof FrameType.RESULT, ResultBody>
  | ControlOf<typeof FrameType.ABORT, AbortBody>
  | ControlOf<typeof FrameType.PING, PingBody>
  | ControlOf<typeof FrameType.PONG, PingBody>;

/** One member of ControlMessage. */
export interface ControlOf<T extends FrameTypeValue, B> {
  type: T;
  flags: number;
  round: number;
  seq: number;
  body: B;
}
