/**
 * The latest content of every RAM page seen in a QEMU stream, keyed by global page index
 * (block's firstPage + offsetInBlock / pageSize). It turns an XBZRLE record (a delta against what the
 * destination QEMU holds) into the full page, and back.
 *
 * Source and destination agents each keep one and feed it the same records in the same order, so
 * both hold the same pages: the eviction order (least recently written first) is deterministic.
 *
 * Pages live in 1 MiB slabs allocated as the mirror grows; a slot freed by eviction is reused, so a
 * steady stream allocates nothing per page (the per-page `new Uint8Array` used to cost more than
 * the copy itself).
 */

import { xbzrleDecode, xbzrleEncode } from '../../codec/xbzrle.js';
import type { RamPageEvent } from './types.js';

/** Options of a PageMirror. */
export interface PageMirrorOptions {
  /** Page size in bytes. @default 4096 */
  pageSize?: number;
  /**
   * Most page bytes held; the least recently written page goes first. 0 holds nothing (every
   * XBZRLE record then has an unknown old page). @default 268435456 (256 MiB)
   */
  capacityBytes?: number;
}

/** Pages per slab (1 MiB of 4 KiB pages). */
const SLAB_PAGES = 256;

export class PageMirror {
  readonly pageSize: number;
  readonly #maxPages: number;
  // Map iteration order is insertion order: delete + set makes it an LRU by write. Value: slot.
  readonly #slots = new Map<number, number>();
  readonly #slabs: Uint8Array[] = [];
  readonly #free: number[] = [];
  #nextSlot = 0;
  /** Shared all-zero page returned by `resolve` for ZERO records; callers only read it. */
  readonly #zeroPage: Uint8Array;

  constructor(options: PageMirrorOptions = {}) {
    this.pageSize = options.pageSize ?? 4096;
    this.#maxPages = Math.max(0, Math.floor((options.capacityBytes ?? 256 * 1024 * 1024) / this.pageSize));
    this.#zeroPage = new Uint8Array(this.pageSize);
  }

  /** Pages held. */
  get size(): number {
    return this.#slots.size;
  }

  /** Whether the mirror holds pages at all (capacity above 0). */
  get enabled(): boolean {
    return this.#maxPages > 0;
  }

  #view(slot: number): Uint8Array {
    const slab = this.#slabs[Math.floor(slot / SLAB_PAGES)];
    const at = (slot % SLAB_PAGES) * this.pageSize;
    return slab.subarray(at, at + this.pageSize);
  }

  /** The held content of `pageIndex`, or null. The view is valid until the next `set`. */
  get(pageIndex: number): Uint8Array | null {
    const slot = this.#slots.get(pageIndex);
    return slot === undefined ? null : this.#view(slot);
  }

  /**
   * The full new content of the page a record carries, without remembering it: PAGE → its data,
   * ZERO → the fill page, XBZRLE → the delta applied to the held version (null when the old
   * version is not held, or the delta does not apply). The result is read-only (it may be shared).
   */
  resolve(event: RamPageEvent, pageIndex: number): Uint8Array | null {
    switch (event.record) {
      case 'page': return event.data;
      case 'zero': return event.data[0] === 0 ? this.#zeroPage : new Uint8Array(this.pageSize).fill(event.data[0]);
      case 'xbzrle': {
        const old = this.get(pageIndex);
        if (old === null) return null;
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
    if (this.#maxPages === 0) return;
    let slot = this.#slots.get(pageIndex);
    if (slot !== undefined) {
      this.#slots.delete(pageIndex);
      if (content === null) {
        this.#free.push(slot);
        return;
      }
    } else {
      if (content === null) return;
      slot = this.#takeSlot();
    }
    const view = this.#view(slot);
    if (content.buffer !== view.buffer || content.byteOffset !== view.byteOffset) view.set(content);
    this.#slots.set(pageIndex, slot);
  }

  #takeSlot(): number {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#nextSlot < this.#maxPages) {
      const slot = this.#nextSlot++;
      if (slot % SLAB_PAGES === 0) this.#slabs.push(new Uint8Array(Math.min(SLAB_PAGES, this.#maxPages - slot) * this.pageSize));
      return slot;
    }
    // Full: the least recently written page gives up its slot.
    const [oldest, slot] = this.#slots.entries().next().value as [number, number];
    this.#slots.delete(oldest);
    return slot;
  }

  /** resolve + set: the content after this record (null when unknown; the page is then forgotten). */
  apply(event: RamPageEvent, pageIndex: number): Uint8Array | null {
    const content = this.resolve(event, pageIndex);
    this.set(pageIndex, content);
    if (content === null) return null;
    return this.get(pageIndex) ?? content;
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
        const fill = uniformFill(content);
        return fill === null ? null : Uint8Array.of(fill);
      }
      case 'xbzrle': {
        const old = this.get(pageIndex);
        if (old === null) return null;
        const out = new Uint8Array(this.pageSize);
        const n = xbzrleEncode(old, content, out);
        return n === null ? null : out.subarray(0, n);
      }
    }
  }
}

/** The byte every position of `page` holds, or null when they differ. */
export function uniformFill(page: Uint8Array): number | null {
  const fill = page[0];
  // Compare the page with itself shifted by one byte: equal exactly when every byte is the same.
  const b = Buffer.from(page.buffer, page.byteOffset, page.length);
  return b.compare(b, 0, b.length - 1, 1, b.length) === 0 ? fill : null;
}
