/**
 * A guest whose memory is a file's bytes and nothing runs: a still image to migrate (e.g. a QEMU
 * memory dump). Its dirty log reports every page once, then nothing.
 */
import { open, stat, writeFile } from 'node:fs/promises';
import { LivemigError } from '../../core/index.js';
import type { Guest, GuestDescription, SelfCheckResult } from '../types.js';

const DEFAULT_PAGE_SIZE = 4096;

function checkPageSize(pageSize: number): void {
  if (!Number.isInteger(pageSize) || pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `Expected pageSize to be a power of two from 512 to 65536 bytes, got ${pageSize}`);
  }
}

/** A guest over an in-memory copy of an image; no workload. */
export class ImageGuest implements Guest {
  readonly description: GuestDescription;
  readonly pageSize: number;
  readonly pageCount: number;
  readonly memory: Uint8Array;
  #synced = false;
  #running = false;

  /** @internal use createImageGuest or createImageDestination. */
  constructor(description: GuestDescription, memory: Uint8Array) {
    this.description = description;
    this.pageSize = description.pageSize;
    this.pageCount = memory.length / description.pageSize;
    this.memory = memory;
  }

  page(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.pageCount) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a page index from 0 to ${this.pageCount - 1}, got ${index}`);
    }
    return this.memory.subarray(index * this.pageSize, (index + 1) * this.pageSize);
  }

  syncDirty(): Uint32Array {
    if (this.#synced) return new Uint32Array(0);
    this.#synced = true;
    const all = new Uint32Array(this.pageCount);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return all;
  }

  get running(): boolean {
    return this.#running;
  }

  async resume(): Promise<void> {
    this.#running = true;
  }

  async pause(): Promise<void> {
    this.#running = false;
  }

  setThrottle(fraction: number): void {
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 0.99)) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected the throttle to be a fraction from 0 to 0.99, got ${fraction}`);
    }
  }

  dirtyRatePagesPerSec(): number {
    return 0;
  }

  async selfCheck(): Promise<SelfCheckResult> {
    return { ok: true, pagesChecked: 0, errors: 0, detail: 'no workload' };
  }

  async close(): Promise<void> {
    this.#running = false;
  }
}

/**
 * Loads a memory image; its size is rounded up to whole pages (the tail is zero).
 * @param pageSize bytes per page. @default 4096
 */
export async function createImageGuest(path: string, pageSize = DEFAULT_PAGE_SIZE): Promise<ImageGuest> {
  checkPageSize(pageSize);
  let fileBytes: number;
  try {
    fileBytes = (await stat(path)).size;
  } catch (err) {
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `cannot read the memory image '${path}': ${(err as Error).message}`, { cause: err });
  }
  const memoryBytes = Math.max(pageSize, Math.ceil(fileBytes / pageSize) * pageSize);
  const memory = new Uint8Array(memoryBytes);
  const file = await open(path, 'r');
  try {
    let done = 0;
    while (done < fileBytes) {
      const { bytesRead } = await file.read(memory, done, fileBytes - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } finally {
    await file.close();
  }
  const description: GuestDescription = {
    kind: 'image', workload: 'none', memoryBytes, pageSize, params: { path, fileBytes },
  };
  return new ImageGuest(description, memory);
}

/** A zeroed image guest with the source's geometry, to receive its memory. */
export function createImageDestination(description: GuestDescription): ImageGuest {
  if (description.kind !== 'image') {
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `createImageDestination needs an image description, got kind '${description.kind}'`);
  }
  checkPageSize(description.pageSize);
  if (!Number.isInteger(description.memoryBytes) || description.memoryBytes <= 0 || description.memoryBytes % description.pageSize !== 0) {
    throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', `Expected memoryBytes to be a positive multiple of ${description.pageSize}, got ${description.memoryBytes}`);
  }
  return new ImageGuest({ ...description, params: { ...description.params } }, new Uint8Array(description.memoryBytes));
}

/** Writes a guest's whole memory (or any memory) to `path` as a raw image. */
export async function saveMemoryImage(source: Guest | Uint8Array, path: string): Promise<void> {
  const bytes = source instanceof Uint8Array ? source : source.memory;
  // A SharedArrayBuffer view may change while written: callers pause a running guest first.
  await writeFile(path, bytes);
}
