/**
 * The Guest: what a migration driver needs of a virtual machine's memory and execution.
 * The synthetic guest implements it over a SharedArrayBuffer; an image guest over a file.
 */

export type WorkloadName = 'idle' | 'hotset' | 'memstress' | 'qemu-test' | 'zipf' | 'none';

/** Everything the destination needs to rebuild an equivalent (paused) guest. Travels in the handshake. */
export interface GuestDescription {
  /** 'synthetic' or 'image'. */
  kind: 'synthetic' | 'image';
  workload: WorkloadName;
  /** Bytes of guest memory; a multiple of pageSize. */
  memoryBytes: number;
  /** Page size in bytes. @default 4096 */
  pageSize: number;
  /** Workload parameters (hot-percent, seed, ...), opaque to the engine. */
  params: Record<string, number | string>;
}

export interface SelfCheckResult {
  ok: boolean;
  /** Pages examined. */
  pagesChecked: number;
  /** Pages that failed, at most a few listed in `detail`. */
  errors: number;
  detail: string;
}

export interface Guest {
  readonly description: GuestDescription;
  readonly pageSize: number;
  readonly pageCount: number;
  /** The whole memory. Synthetic guests back it with a SharedArrayBuffer the workload writes into. */
  readonly memory: Uint8Array;
  /** A view of one page (no copy). */
  page(index: number): Uint8Array;
  /**
   * Reads and clears the dirty log atomically: returns the indexes of pages written since the last
   * call, ascending. The first call after construction returns every page.
   */
  syncDirty(): Uint32Array;
  /** Starts (or continues) the workload. */
  resume(): Promise<void>;
  /** Stops the workload; resolves once no page will be written until resume(). */
  pause(): Promise<void>;
  readonly running: boolean;
  /**
   * Slows the workload as QEMU's auto-converge does: the share of time it is held back, 0..0.99.
   */
  setThrottle(fraction: number): void;
  /** Pages written per second by the workload recently (for reports), or 0. */
  dirtyRatePagesPerSec(): number;
  /** Checks the workload's own invariants over memory; an intact guest passes, a corrupted one fails. */
  selfCheck(): Promise<SelfCheckResult>;
  /** Stops the workload thread and frees resources. */
  close(): Promise<void>;
}
