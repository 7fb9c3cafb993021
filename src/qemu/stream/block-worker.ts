/**
 * A compression worker of BlockCompressors: writes each staged block it gets into a PAGES frame of
 * its own (the frame number comes with the job) and posts the frame back.
 */
import { parentPort } from 'node:worker_threads';
import { PageBatchBuilder } from '../../wire/index.js';
import { stagedBlockTransfer, writeStagedBlock, type StagedBlock } from './page-blocks.js';

/** A job: one staged block and the frame it becomes. */
export interface BlockJob {
  id: number;
  seq: number;
  maxFrameBytes: number;
  block: StagedBlock;
}

/** The answer: the frame, its codec payload bytes and the job's block (its buffers handed back), or the error. */
export type BlockJobResult =
  | { id: number; frame: Uint8Array; payloadBytes: number; block: StagedBlock }
  | { id: number; error: { code?: string; message: string } };

const port = parentPort!;
// One builder while the frame bound stays the same: a fresh one per job would allocate its buffer each time.
let builder: PageBatchBuilder | null = null;
port.on('message', (job: BlockJob) => {
  try {
    if (builder?.maxFrameBytes !== job.maxFrameBytes) builder = new PageBatchBuilder(job.maxFrameBytes);
    const b = builder;
    const payloadBytes = writeStagedBlock(job.block, {
      reserve: (n) => {
        const out = b.reserve(n);
        if (out === null) throw new Error(`a ${n}-byte record does not fit a ${job.maxFrameBytes}-byte frame`);
        return out;
      },
      commit: (index, id, length) => b.commit(index, id, length),
    });
    // A small frame is copied out of the builder's buffer, a large one hands it over: either way its own.
    const frame = b.finish({ seq: job.seq });
    port.postMessage({ id: job.id, frame, payloadBytes, block: job.block } satisfies BlockJobResult, [frame.buffer as ArrayBuffer, ...stagedBlockTransfer(job.block)]);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    port.postMessage({ id: job.id, error: { code: e.code, message: e.message ?? String(err) } } satisfies BlockJobResult);
  }
});
