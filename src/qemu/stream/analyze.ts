/**
 * Byte accounting of a QEMU stream, and what each livemig codec would send for its RAM pages: a
 * page's first version in the stream is encoded on its own, a re-sent page against the previous
 * version seen in the stream (as XBZRLE-style deltas); a delta codec without an old page, or any
 * codec whose encoding does not fit, falls back to raw (4096 bytes), counted as `fallback`.
 */

import { defaultCodecRegistry, isZeroPage, type PageCodec } from '../../codec/index.js';
import { RamFlag } from './constants.js';
import { PageMirror } from './page-mirror.js';
import { QemuStreamParser } from './parser.js';
import type { RamBlockInfo } from './types.js';
import { eventByteLength } from './writer.js';

/** Per codec totals over the stream's RAM records. */
export interface CodecAccount {
  codec: string;
  /** Codec payload bytes for every page (record headers excluded). */
  payloadBytes: number;
  /** Pages encoded without an old version. */
  fullPages: number;
  /** Pages encoded against the previous version. */
  deltaPages: number;
  /** Pages the codec could not encode (no old page for a delta codec, or no gain), sent raw. */
  fallbackPages: number;
}

/** What `livemig qemu analyze` reports. */
export interface AnalyzeReport {
  totalBytes: number;
  /** Sum of bytesByPart; equals totalBytes for a complete account. */
  accountedBytes: number;
  bytesByPart: Record<string, number>;
  records: Record<string, number>;
  ramRecords: number;
  ramSections: number;
  /** Bytes QEMU spent on the RAM records (headers, idstrs and payloads). */
  qemuRamBytes: number;
  passthrough: { offset: number; reason: string } | null;
  codecs: CodecAccount[];
  /** XBZRLE records whose old page was not in the stream (their content is unknown). */
  unresolvedPages: number;
  blocks: RamBlockInfo[];
}

function add(map: Record<string, number>, key: string, n: number): void {
  map[key] = (map[key] ?? 0) + n;
}

/**
 * Runs the analysis over a stream delivered by `read` (which calls back once per chunk).
 * @param codecs the codecs to report on. @default every registered codec
 */
export async function runAnalyze(
  read: (fn: (chunk: Uint8Array) => void) => Promise<void>, codecs: readonly PageCodec[] = defaultCodecRegistry.list(),
): Promise<AnalyzeReport> {
  const parser = new QemuStreamParser();
  const bytesByPart: Record<string, number> = {};
  const records: Record<string, number> = {};
  const accounts = codecs.map((c) => ({ codec: c.name, payloadBytes: 0, fullPages: 0, deltaPages: 0, fallbackPages: 0 }));
  const mirror = new PageMirror({ capacityBytes: Number.MAX_SAFE_INTEGER });
  let blocks: RamBlockInfo[] = [];
  let totalBytes = 0;
  let qemuRamBytes = 0;
  let unresolved = 0;
  let passthrough: AnalyzeReport['passthrough'] = null;
  const out = new Uint8Array(8192);
  const handle = (chunk: Uint8Array): void => {
    totalBytes += chunk.length;
    for (const e of parser.push(chunk)) {
      if (e.kind === 'opaque') add(bytesByPart, e.part, e.bytes.length);
      else if (e.kind === 'passthrough') passthrough = { offset: e.offset, reason: e.reason };
      else if (e.kind === 'ram-blocks') blocks = e.blocks;
      else {
        const total = eventByteLength(e);
        const named = (e.flags & RamFlag.CONTINUE) === 0;
        const header = 8 + (named ? 1 + Buffer.byteLength(e.block, 'latin1') : 0);
        add(bytesByPart, 'ram-record-header', 8);
        if (named) add(bytesByPart, 'ram-idstr', header - 8);
        add(bytesByPart, `ram-${e.record}-payload`, total - header);
        add(records, e.record, 1);
        qemuRamBytes += total;
        const index = blocks[e.blockIndex].firstPage + e.offsetInBlock / mirror.pageSize;
        const old = mirror.get(index);
        const oldCopy = old === null ? null : new Uint8Array(old);
        const content = mirror.apply(e, index);
        if (content === null) {
          unresolved++;
          continue;
        }
        for (let i = 0; i < codecs.length; i++) {
          const codec = codecs[i];
          const acc = accounts[i];
          const base = codec.delta ? oldCopy : null;
          let n: number | null = null;
          if (!(codec.delta && base === null && codec.name !== 'adaptive')) n = codec.encode(base, content, out.subarray(0, content.length));
          if (n === null) {
            acc.fallbackPages++;
            // The pipeline's fallback: zero codec (0 bytes) for a zero page, raw otherwise.
            acc.payloadBytes += isZeroPage(content) ? 0 : content.length;
          } else {
            acc.payloadBytes += n;
            if (base === null) acc.fullPages++;
            else acc.deltaPages++;
          }
        }
      }
    }
  };
  await read(handle);
  parser.end();
  const stats = parser.stats();
  const accountedBytes = Object.values(bytesByPart).reduce((a, b) => a + b, 0);
  return {
    totalBytes, accountedBytes, bytesByPart, records, ramRecords: stats.ramRecords, ramSections: stats.ramSections,
    qemuRamBytes, passthrough, codecs: accounts, unresolvedPages: unresolved, blocks,
  };
}
