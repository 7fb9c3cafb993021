/**
 * Messages between a WorkerRoundEncoder (main thread) and its encode workers.
 *
 *     main                                   worker w
 *      │── (workerData: EncodeWorkerData) ──▶ │  builds its PageEncoder and cache partition
 *      │── RoundJob {round, flags, pages} ──▶ │  encodes its share of the round
 *      │ ◀── FrameMessage (ArrayBuffer moved) │  takes one credit per frame; blocks at 0
 *      │   emit(frame) resolves: credit += 1   │  (Atomics on EncodeWorkerData.credits[w])
 *      │── RecycleMessage (buffer moved) ───▶ │  after the transport's onSent: reused
 *      │ ◀── RoundDoneMessage {counters}      │  after its last frame of the round
 *      │ ◀── WorkerErrorMessage               │  on any exception (then it idles)
 */
import type { EncodeCounters, MigrationCodec } from './page-encoder.js';
import type { CachePolicy } from '../cache/index.js';
import type { RoundEncoderOptions } from './round-encoder.js';
import type { PlanOrder, PlanSamples } from './codec-plan.js';

/** Pages are dealt to workers in runs of this many, so neighbouring pages stay on one worker. */
export const PAGES_PER_RUN = 64;
const RUN_SHIFT = 6;

/** The worker that owns page `index` among `threads`. */
export function workerOf(index: number, threads: number): number {
  return (index >>> RUN_SHIFT) % threads;
}

/**
 * The page's index within its worker's share: the worker's runs laid end to end. Its cache
 * partition sees this dense index space, so its set/slot mapping behaves like the whole cache's.
 */
export function localIndexOf(index: number, threads: number): number {
  return Math.floor((index >>> RUN_SHIFT) / threads) * PAGES_PER_RUN + (index & (PAGES_PER_RUN - 1));
}

/** Pages of the largest worker share (the local index space), for `pageCount` pages. */
export function localPageCount(pageCount: number, threads: number): number {
  return Math.ceil(pageCount / PAGES_PER_RUN / threads) * PAGES_PER_RUN;
}

export interface EncodeWorkerData {
  worker: number;
  threads: number;
  /** Guest memory: its SharedArrayBuffer and the window of it that is the memory. */
  memory: SharedArrayBuffer;
  memoryOffset: number;
  memoryBytes: number;
  pageSize: number;
  pageCount: number;
  codec: MigrationCodec;
  codecOptions: NonNullable<RoundEncoderOptions['codecOptions']>;
  /** This worker's cache partition, or null (no delta codec). */
  cache: { policy: CachePolicy; capacityBytes: number; pageSize: number } | null;
  /** PageHashTable entries (u64 per page), written for the pages this worker sends. */
  hashes: SharedArrayBuffer;
  batchBytes: number;
  /** Multi-page block span (1 = page by page); see RoundEncoderOptions.blockPages. */
  blockPages: number;
  /** Int32 per worker: frames it may still post before the main thread has emitted one. */
  credits: SharedArrayBuffer;
}

export interface RoundJob {
  type: 'round';
  round: number;
  flags: number;
  /** This worker's pages of the round, ascending. */
  pages: Uint32Array;
}

export interface RecycleMessage {
  type: 'recycle';
  buffer: ArrayBuffer;
}

export interface FrameMessage {
  type: 'frame';
  buffer: ArrayBuffer;
  byteLength: number;
  /** Pages the frame carries (a block record counts each member). */
  records: number;
  payloadBytes: number;
  /** Pages of the round handled since the previous frame (unchanged ones included). */
  pagesDone: number;
  /** adaptive only: what the worker learned about the codec plans since its previous message. */
  samples?: PlanSamples;
}

export interface RoundDoneMessage {
  type: 'done';
  round: number;
  /** The worker's cumulative counters. */
  counters: EncodeCounters;
  /** Pages handled after the last frame. */
  pagesDone: number;
  /** adaptive only: as in FrameMessage. */
  samples?: PlanSamples;
}

/** adaptive only: the codec plan for the pages that follow (applied between frames, even mid-round). */
export interface PlanMessage {
  type: 'plan';
  order: PlanOrder;
}

export interface WorkerErrorMessage {
  type: 'error';
  message: string;
  code: string | undefined;
}

export type ToMain = FrameMessage | RoundDoneMessage | WorkerErrorMessage;
export type ToWorker = RoundJob | RecycleMessage | PlanMessage;
