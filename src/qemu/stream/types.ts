/**
 * Events of the QEMU stream parser. Serialising every event in order (QemuStreamWriter) gives the
 * parsed stream back byte for byte.
 */

/** What a span of opaque bytes is, for byte accounting (`livemig qemu analyze`). */
export type OpaquePart =
  | 'header'
  | 'configuration'
  | 'command'
  | 'section-header'
  | 'footer'
  | 'ram-blocklist'
  | 'eos'
  | 'multifd-flush'
  | 'eof'
  | 'vmdesc'
  | 'passthrough';

/** Bytes the parser does not interpret further; the writer copies them unchanged. */
export interface OpaqueEvent {
  kind: 'opaque';
  /** What these bytes are (accounting only; the writer ignores it). */
  part: OpaquePart;
  /** The bytes, as they were in the stream. May alias the pushed chunk: do not mutate either. */
  bytes: Uint8Array;
}

/** The three RAM record types that carry a page. */
export type RamRecordType = 'page' | 'zero' | 'xbzrle';

/**
 * One RAM page record of the `ram` section:
 *   be64 (offsetInBlock | flags)  [u8 len, idstr  unless CONTINUE]  payload
 * payload: PAGE → pageSize bytes; ZERO → 1 fill byte; XBZRLE → u8 0x01, be16 len, len bytes.
 */
export interface RamPageEvent {
  kind: 'ram-page';
  /** Record type, from the flags. */
  record: RamRecordType;
  /** The RAMBlock's idstr (latin1, so any byte round-trips), e.g. `pc.ram`. */
  block: string;
  /** Index of the block in the START section's block list (its order on the wire). */
  blockIndex: number;
  /** Byte offset of the page inside its block (a multiple of the page size). */
  offsetInBlock: number;
  /** The flag bits of the record's be64 (record type | CONTINUE). */
  flags: number;
  /**
   * For `page`: the page (pageSize bytes). For `zero`: one byte, the fill value. For `xbzrle`: the
   * XBZRLE delta (without the 0x01 and be16 length). May alias the pushed chunk.
   */
  data: Uint8Array;
}

/** The parser gave up interpreting: every later byte comes as `opaque` with part `passthrough`. */
export interface PassthroughEvent {
  kind: 'passthrough';
  /** Why, for the operator (e.g. "device section 'timer' (FULL sections are not self-delimiting)"). */
  reason: string;
  /** Stream offset where pass-through starts, in bytes. */
  offset: number;
}

/** One RAMBlock announced in the ram START section. */
export interface RamBlockInfo {
  /** idstr (latin1). */
  name: string;
  /** used_length in bytes. */
  lengthBytes: number;
  /** Global page index of the block's first page: the sum of the earlier blocks' pages. */
  firstPage: number;
}

/** Emitted once, after the ram START block list (no bytes of its own: the writer ignores it). */
export interface RamBlocksEvent {
  kind: 'ram-blocks';
  blocks: RamBlockInfo[];
  /** Target page size in bytes. */
  pageSize: number;
}

export type StreamEvent = OpaqueEvent | RamPageEvent | PassthroughEvent | RamBlocksEvent;
