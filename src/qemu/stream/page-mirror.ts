/**
 * The latest content of every RAM page seen in a QEMU stream, keyed by global page index
 * (block's firstPage + offsetInBlock / pageSize). It turns an XBZRLE record (a delta against what the
 * destination QEMU holds) into the full page, and back.
 *
 * Source and destination agents each keep one and feed it the same records in the same order, so
 * both hold the same pages: the eviction order (least recently written first) is deterministic.
 */

import { xbzrleDecode, xbzrleEncode } from '../../codec/xbzrle.js';
import type { RamPageEvent } from './types.js';

/** Options of a PageMirror. */
export interface PageMirrorOptions {
  /** Page size in bytes. @default 4096 */
  pageSize?: number;
  /** Most page bytes held; the least recently written page goes first. @default 268435456 (256 MiB) */
  capacityBytes?: number;
}

// Copies use new Uint8Array(x): Buffer.prototype.slice would return a view, and parser events may be Buffers.
export class PageMirror {
  readonly pageSize: number;
  readonly #maxPages: number;
  // Map iteration order is insertion order: delete + set makes it an LRU by write.
  readonly #pages = new Map<number, Uint8Array>();

  constructor(options: PageMirrorOptions = {}) {
    this.pageSize = options.pageSize ?? 4096;
    this.#maxPages = Math.max(1, Math.floor((options.capacityBytes ?? 256 * 1024 * 1024) / this.pageSize));
  }

  /** Pages held. */
  get size(): number {
    return this.#pages.size;
  }

  /** The held content of `pageIndex`, or null. The view is valid until the next apply. */
  get(pageIndex: number): Uint8Array | null {
    return this.#pages.get(pageIndex) ?? null;
  }

  /**
   * The full new content of the page a record carries, without remembering it: PAGE → its data,
   * ZERO → the fill page, XBZRLE → the delta applied to the held version (null when the old
   * version is not held, or the delta does not apply).
   */
  resolve(event: RamPageEvent, pageIndex: number): Uint8Array | null {
    switch (event.record) {
      case 'page': return event.data;
      case 'zero': return new Uint8Array(this.pageSize).fill(event.data[0]);
      case 'xbzrle': {
        const old = this.#pages.get(pageIndex);
        if (old === undefined) return null;
        const page = new Uint8Array(old);
        try {
          xbzrleDecode(event.data, page);
        } catch {
          return null;
        }
        return page;
      }
    }
  }

  /** Remembers `content` (copied) as the latest version of `pageIndex`, or forgets it (null). */
  set(pageIndex: number, content: Uint8Array | null): void {
    const prev = this.#pages.get(pageIndex);
    this.#pages.delete(pageIndex);
    if (content === null) return;
    let copy: Uint8Array;
    if (prev !== undefined && prev !== content) {
      prev.set(content);
      copy = prev;
    } else {
      copy = new Uint8Array(content);
    }
    this.#pages.set(pageIndex, copy);
    if (this.#pages.size > this.#maxPages) {
      const oldest = this.#pages.keys().next().value as number;
      this.#pages.delete(oldest);
    }
  }

  /** resolve + set: the content after this record (null when unknown; the page is then forgotten). */
  apply(event: RamPageEvent, pageIndex: number): Uint8Array | null {
    const content = this.resolve(event, pageIndex);
    this.set(pageIndex, content);
    return content === null ? null : this.#pages.get(pageIndex)!;
  }

  /**
   * The record data that re-creates `content` for a record of type `record` against the held old
   * version (call before `set`): PAGE → the page, ZERO → the fill byte (null if the page is not
   * uniform), XBZRLE → QEMU's encoding (null without an old version or when it does not fit).
   */
  recordData(record: RamPageEvent['record'], pageIndex: number, content: Uint8Array): Uint8Array | null {
    switch (record) {
      case 'page': return content;
      case 'zero': {
        const fill = content[0];
        for (let i = 1; i < content.length; i++) if (content[i] !== fill) return null;
        return Uint8Array.of(fill);
      }
      case 'xbzrle': {
        const old = this.#pages.get(pageIndex);
        if (old === undefined) return null;
        const out = new Uint8Array(this.pageSize);
        const n = xbzrleEncode(old, content, out);
        return n === null ? null : out.subarray(0, n);
      }
    }
  }
}
