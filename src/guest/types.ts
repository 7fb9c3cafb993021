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

/** Options of a synthetic guest built as a migration source (`createSyntheticGuest`). */
export interface SyntheticGuestOptions {
  kind?: 'synthetic';
  /** What the workload thread does. @default 'hotset' */
  workload?: WorkloadName;
  /** Bytes of guest memory; a multiple of pageSize. @default 536870912 (512 MiB) */
  memoryBytes?: number;
  /** Page size in bytes; a power of two from 1024 to 65536. @default 4096 */
  pageSize?: number;
  /** Seed of the initial content and of the workload's random choices (u32). @default 1 */
  seed?: number;
  /** hotset: percent of data pages in the hot set, (0, 100]. @default 10 */
  hotPercent?: number;
  /**
   * Page writes per second the workload aims at (its "natural" speed before any throttle); 0 means
   * as fast as the thread can. @default idle 20, hotset 50000, memstress 25000, qemu-test 50000,
   * zipf 30000 (pages/s)
   */
  dirtyRate?: number;
  /** zipf: exponent s of the popularity law (rank r has weight 1/r^s), (0, 5]. @default 0.99 */
  zipfS?: number;
  /**
   * The same parameters in GuestDescription.params form ({ seed, hotPercent, dirtyRate, zipfS });
   * the named options above take precedence. @default {}
   */
  params?: Record<string, number | string>;
  /** Start the workload at once; false leaves the guest paused until resume(). @default true */
  running?: boolean;
  /** How long pause()/resume() wait for the workload thread before rejecting, in ms. @default 5000 */
  answerTimeoutMs?: number;
}

/** Options of a guest whose memory is loaded from an image file (`createImageGuest`). */
export interface ImageGuestOptions {
  kind: 'image';
  /** Path of the memory image; its size is rounded up to whole pages (zero-filled). */
  path: string;
  /** Page size in bytes. @default 4096 */
  pageSize?: number;
}
