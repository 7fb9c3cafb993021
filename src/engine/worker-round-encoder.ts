import { Worker } from 'node:worker_threads';
import { LivemigError } from '../core/index.js';
import type { PageCache } from '../cache/index.js';
import { PageEncoder, addCounters, emptyCounters, type EncodeCounters } from './page-encoder.js';
import { InlineRoundEncoder, type EmitFrame, type RoundEncoder, type RoundEncoderOptions, type RoundResult } from './round-encoder.js';
import { checkBlockPages } from '../codec/index.js';
import { DEFAULT_BLOCK_PAGES } from './page-record-writer.js';
import { workerOf, type EncodeWorkerData, type RoundJob, type ToMain } from './encode-worker-protocol.js';
import { emptySamples, mergeSamples, type PlanOrder, type PlanSamples } from './codec-plan.js';

/** Options of a WorkerRoundEncoder beyond the RoundEncoder's own. */
export interface WorkerEncoderOptions {
  /** Worker threads, at least 1. */
  threads: number;
  /** Frames a worker may have posted and not yet seen emitted (its backpressure). @default 4 */
  framesInFlight?: number;
}

/**
 * Encodes rounds on `threads` worker threads. Each worker reads guest pages straight from the
 * guest's SharedArrayBuffer, owns every page whose `index >> 6` is its number modulo `threads` and
 * a cache partition of `capacity / threads` (same policy), builds its own PAGES frames and records
 * page hashes into the shared PageHashTable. The main thread emits frames as they come, in any
 * order within the round (the destination applies a round's records in any order; ROUND_START and
 * ROUND_END around `encodeRound` are the barriers).
 *
 * Counters are merged from the workers at the end of each round; `encodeMs` is summed over
 * workers (CPU time, not wall time).
 */
export class WorkerRoundEncoder implements RoundEncoder {
  readonly #threads: number;
  readonly #workers: Worker[] = [];
  readonly #credits: Int32Array;
  readonly #batchBytes: number;
  readonly #usesCache: boolean;
  readonly #perWorker: EncodeCounters[];
  readonly #counters: EncodeCounters = emptyCounters();
  /** The table's own storage when it is not shared: hashes are copied into it after each round. */
  readonly #privateHashes: BigUint64Array | null;
  readonly #table: RoundEncoderOptions['table'];
  #inbox: Array<{ worker: number; m: ToMain }> = [];
  #wake: (() => void) | null = null;
  #failure: LivemigError | null = null;
  #closing: Promise<void> | null = null;
  #broken = false;
  /** adaptive only: samples that came with the workers' messages since takeSamples(). */
  #samples: PlanSamples = emptySamples();

  constructor(o: RoundEncoderOptions, w: WorkerEncoderOptions) {
    const buffer = o.guest.memory.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Parallel encoding needs guest memory in a SharedArrayBuffer; use createRoundEncoder, which falls back to the inline encoder');
    }
    if (!Number.isInteger(w.threads) || w.threads < 1 || w.threads > 64) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected threads to be an integer from 1 to 64, got ${w.threads}`);
    }
    const threads = w.threads;
    // Checked here, not in a worker, so a bad value fails the constructor rather than the first round.
    checkBlockPages(o.blockPages ?? DEFAULT_BLOCK_PAGES);
    const inFlight = w.framesInFlight ?? 4;
    this.#threads = threads;
    this.#batchBytes = o.batchBytes;
    this.#table = o.table;
    // The PageEncoder knows which codecs use a cache; ask it rather than repeat its rule.
    this.#usesCache = new PageEncoder(o.codec, o.cache, o.guest.pageSize, 0, o.codecOptions).usesCache;
    this.#perWorker = Array.from({ length: threads }, emptyCounters);
    const shared = o.table.sharedBuffer;
    this.#privateHashes = shared ? null : new BigUint64Array(new SharedArrayBuffer(o.guest.pageCount * 8));
    const creditBuffer = new SharedArrayBuffer(4 * threads);
    this.#credits = new Int32Array(creditBuffer).fill(inFlight);
    const cache = this.#usesCache ? partitionOf(o.cache!, threads) : null;
    for (let i = 0; i < threads; i++) {
      const workerData: EncodeWorkerData = {
        worker: i, threads,
        memory: buffer, memoryOffset: o.guest.memory.byteOffset, memoryBytes: o.guest.memory.byteLength,
        pageSize: o.guest.pageSize, pageCount: o.guest.pageCount,
        codec: o.codec, codecOptions: o.codecOptions ?? {}, cache,
        hashes: shared ?? (this.#privateHashes!.buffer as SharedArrayBuffer),
        batchBytes: o.batchBytes, blockPages: o.blockPages ?? DEFAULT_BLOCK_PAGES, credits: creditBuffer,
      };
      const worker = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData });
      worker.on('message', (m: ToMain) => this.#deliver(i, m));
      worker.on('error', (err) => this.#fail(i, err.message));
      worker.on('exit', (code) => {
        if (!this.#closing) this.#fail(i, `exited with code ${code}`);
      });
      // Idle workers must not keep the process alive; a round refs them while it runs.
      worker.unref();
      this.#workers.push(worker);
    }
  }

  get counters(): EncodeCounters {
    return this.#counters;
  }

  get usesCache(): boolean {
    return this.#usesCache;
  }

  /** Worker threads in use. */
  get threads(): number {
    return this.#threads;
  }

  async encodeRound(round: number, pages: Uint32Array, header: { flags: number; nextSeq: () => number }, emit: EmitFrame, progress?: (pagesDone: number) => void): Promise<RoundResult> {
    this.#check();
    // header.nextSeq goes unused: each worker numbers its own frames (seq is informational only).
    const threads = this.#threads;
    const shares = splitPages(pages, threads);
    for (const w of this.#workers) w.ref();
    try {
      for (let i = 0; i < threads; i++) {
        const job: RoundJob = { type: 'round', round, flags: header.flags, pages: shares[i] };
        this.#workers[i].postMessage(job, [shares[i].buffer as ArrayBuffer]);
      }
      let records = 0;
      let payloadBytes = 0;
      let done = 0;
      let pagesDone = 0;
      let reported = 0;
      while (done < threads) {
        const item = this.#inbox.shift() ?? (await this.#next());
        const { worker, m } = item;
        if (m.type === 'frame') {
          const frame = new Uint8Array(m.buffer, 0, m.byteLength);
          records += m.records;
          payloadBytes += m.payloadBytes;
          pagesDone += m.pagesDone;
          mergeSamples(this.#samples, m.samples);
          await emit(frame, () => this.#recycle(worker, m.buffer));
          this.#check();
          Atomics.add(this.#credits, worker, 1);
          Atomics.notify(this.#credits, worker);
        } else if (m.type === 'done') {
          if (m.round !== round) throw this.#fail(worker, `answered round ${m.round} during round ${round}`);
          this.#perWorker[worker] = m.counters;
          pagesDone += m.pagesDone;
          mergeSamples(this.#samples, m.samples);
          done++;
        } else {
          throw this.#fail(worker, m.message, m.code);
        }
        if (progress && pagesDone - reported >= 4096) progress((reported = pagesDone));
      }
      this.#mergeCounters();
      if (this.#privateHashes) for (const index of pages) this.#table.setHash(index, this.#privateHashes[index]);
      return { records, payloadBytes };
    } catch (err) {
      // Workers may still be inside the failed round (e.g. emit threw): no later round can start cleanly.
      this.#broken = true;
      throw err;
    } finally {
      for (const w of this.#workers) w.unref();
    }
  }

  /** adaptive only: every worker takes `order` for its next pages (between frames, even mid-round). */
  setPlan(order: PlanOrder): void {
    for (const w of this.#workers) w.postMessage({ type: 'plan', order });
  }

  /** adaptive only: the workers' samples received since the last call (encode times summed over threads). */
  takeSamples(): PlanSamples | undefined {
    const s = this.#samples;
    this.#samples = emptySamples();
    return s;
  }

  /** Frames received from workers and not yet emitted (diagnostics and tests). */
  get framesQueued(): number {
    return this.#inbox.filter((x) => x.m.type === 'frame').length;
  }

  /** Test hook: ends worker `i` abruptly, as a crash would. */
  async terminateWorkerForTest(i: number): Promise<void> {
    await this.#workers[i].terminate();
  }

  /** Terminates the workers; safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#workers.map((w) => w.terminate())).then(() => {});
    return this.#closing;
  }

  #recycle(worker: number, buffer: ArrayBuffer): void {
    // Only whole pooled batches are worth handing back; a worker that is gone needs nothing.
    if (buffer.byteLength !== this.#batchBytes || this.#closing || this.#failure) return;
    try {
      this.#workers[worker].postMessage({ type: 'recycle', buffer }, [buffer]);
    } catch {
      // The transport may still view a buffer it reported sent; then it is simply not reused.
    }
  }

  #mergeCounters(): void {
    const sum = emptyCounters();
    for (const c of this.#perWorker) addCounters(sum, c);
    Object.assign(this.#counters, sum);
  }

  #deliver(worker: number, m: ToMain): void {
    this.#inbox.push({ worker, m });
    this.#wake?.();
  }

  #next(): Promise<{ worker: number; m: ToMain }> {
    return new Promise((resolve, reject) => {
      const look = () => {
        if (this.#failure) return ((this.#wake = null), reject(this.#failure));
        const item = this.#inbox.shift();
        if (item) ((this.#wake = null), resolve(item));
      };
      this.#wake = look;
      look();
    });
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closing) throw new LivemigError('LIVEMIG_E_INTERNAL', 'encodeRound() after close()');
    if (this.#broken) throw new LivemigError('LIVEMIG_E_INTERNAL', 'encodeRound() after a round that failed; close this encoder');
  }

  /** Records the first worker failure, wakes a waiting round and returns the error. */
  #fail(worker: number, why: string, code?: string): LivemigError {
    this.#failure ??= new LivemigError('LIVEMIG_E_ENCODER_WORKER', `Encode worker ${worker} failed: ${why}${code ? ` (${code})` : ''}; the migration stops and the guest keeps running on the source`);
    this.#wake?.();
    return this.#failure;
  }
}

/** Deals `pages` (ascending) to `threads` workers by runs of 64 pages. */
function splitPages(pages: Uint32Array, threads: number): Uint32Array[] {
  const counts = new Uint32Array(threads);
  for (let k = 0; k < pages.length; k++) counts[workerOf(pages[k], threads)]++;
  const shares = Array.from(counts, (n) => new Uint32Array(n));
  const fill = new Uint32Array(threads);
  for (let k = 0; k < pages.length; k++) {
    const i = workerOf(pages[k], threads);
    shares[i][fill[i]++] = pages[k];
  }
  return shares;
}

/** One worker's cache: the capacity split evenly, kept valid for the policy (even / power-of-two slots). */
function partitionOf(cache: PageCache, threads: number): EncodeWorkerData['cache'] {
  let slots = Math.floor(cache.slots / threads);
  if (cache.policy === 'direct') slots = 2 ** Math.floor(Math.log2(Math.max(1, slots)));
  else slots = Math.max(2, slots - (slots % 2));
  return { policy: cache.policy, capacityBytes: slots * cache.pageSize, pageSize: cache.pageSize };
}

/**
 * Builds the round encoder for `threads`: a WorkerRoundEncoder for 2 or more when the guest's memory
 * is a SharedArrayBuffer, else the InlineRoundEncoder (also for an image guest, whose memory is not).
 *
 * @param threads encode threads; 1 (@default) encodes inline on the calling thread.
 */
export function createRoundEncoder(o: RoundEncoderOptions, threads = 1): RoundEncoder {
  if (threads <= 1 || !(o.guest.memory.buffer instanceof SharedArrayBuffer)) return new InlineRoundEncoder(o);
  return new WorkerRoundEncoder(o, { threads });
}
