/**
 * Driver B's parallel compression (`--compress-threads N`): up to N staged blocks compress at once
 * on libuv's thread pool, through the addon (BlockCodec.encodeAsync), while the source agent's
 * thread parses and stages the next pages. Each block becomes a frame of its own, numbered by the
 * caller, who emits the frames in stream order (StreamSourceEncoder).
 *
 * Why the pool and not worker_threads: a worker is a second isolate, and every block crossed to it
 * and back by postMessage. Over the captured 485 MB text stream (zstd-delta) one worker thread
 * encoded at 353-368 MB/s for 1.80-1.90 CPU-s, no faster than the agent's own thread (349-367 MB/s,
 * 1.43-1.52 CPU-s); two pool threads encode at 434-462 MB/s for 1.55-1.62 CPU-s (docs/FIGURES.md).
 */
import { LivemigError } from '../../core/errors.js';
import { PageBatchBuilder } from '../../wire/index.js';
import { allocStagedBlockBuffers, writeStagedBlockAsync, type BlockSink, type StagedBlock, type StagedBlockBuffers } from './page-blocks.js';

interface Job {
  block: StagedBlock;
  buffers: StagedBlockBuffers;
  seq: number;
  maxFrameBytes: number;
  resolve(r: { frame: Uint8Array; payloadBytes: number }): void;
  reject(err: LivemigError): void;
}

function closedError(): LivemigError {
  return new LivemigError('LIVEMIG_E_INTERNAL', 'the block compressors are closed', { phase: 'qemu-stream' });
}

/** A sink over one frame's builder: a record that does not fit is a bug (the caller sized the frame). */
function builderSink(b: PageBatchBuilder): BlockSink {
  return {
    reserve: (n) => {
      const out = b.reserve(n);
      if (out === null) throw new LivemigError('LIVEMIG_E_INTERNAL', `a ${n}-byte record does not fit a ${b.maxFrameBytes}-byte frame`, { phase: 'qemu-stream' });
      return out;
    },
    commit: (index, id, length) => b.commit(index, id, length),
  };
}

/**
 * At most `threads` blocks compressing at once; the rest wait in order. libuv runs UV_THREADPOOL_SIZE
 * jobs at once (4 unless set before the process starts), so more threads than that only queue there.
 * Buffers and frame builders are reused from block to block: fresh 256 KiB buffers per block cost
 * page faults and zeroing.
 */
export class BlockCompressors {
  readonly #threads: number;
  readonly #pageSize: number;
  readonly #free: StagedBlockBuffers[] = [];
  readonly #builders: PageBatchBuilder[] = [];
  readonly #waiting: Job[] = [];
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(threads: number, pageSize: number) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected compress threads to be a positive integer, got ${threads}`);
    }
    this.#threads = threads;
    this.#pageSize = pageSize;
  }

  /** Buffers to take the next block into (BlockStage.take): one a finished block gave back, or new. */
  buffers(): StagedBlockBuffers {
    // With `pages`, so that one set serves full and delta blocks alike.
    return this.#free.pop() ?? allocStagedBlockBuffers(this.#pageSize, true);
  }

  /**
   * Compresses `block`, taken into `buffers`, into a PAGES frame numbered `seq`. The buffers are
   * the compressors' until the frame is done, then serve buffers() again.
   */
  compress(block: StagedBlock, buffers: StagedBlockBuffers, seq: number, maxFrameBytes: number): Promise<{ frame: Uint8Array; payloadBytes: number }> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#waiting.push({ block, buffers, seq, maxFrameBytes, resolve, reject });
      this.#startNext();
    });
  }

  #startNext(): void {
    while (this.#running.size < this.#threads && this.#waiting.length > 0) {
      const run = this.#run(this.#waiting.shift()!).finally(() => {
        this.#running.delete(run);
        this.#startNext();
      });
      this.#running.add(run);
    }
  }

  async #run(job: Job): Promise<void> {
    let builder = this.#builders.pop();
    if (builder?.maxFrameBytes !== job.maxFrameBytes) builder = new PageBatchBuilder(job.maxFrameBytes);
    try {
      const payloadBytes = await writeStagedBlockAsync(job.block, builderSink(builder));
      if (this.#closed) throw closedError();
      job.resolve({ frame: builder.finish({ seq: job.seq }), payloadBytes });
    } catch (err) {
      builder.reset();
      job.reject(err instanceof LivemigError ? err : new LivemigError('LIVEMIG_E_INTERNAL', `block compression: ${String(err)}`, { phase: 'qemu-stream' }));
    } finally {
      this.#free.push(job.buffers);
      this.#builders.push(builder);
    }
  }

  /** Fails the blocks not yet started and those still compressing; resolves once none runs. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) job.reject(closedError());
    await Promise.all(this.#running);
  }
}
