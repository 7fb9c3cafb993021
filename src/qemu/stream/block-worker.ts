/**
 * A compression worker of BlockCompressors: writes each staged block it gets into a PAGES frame of
 * its own (the frame number comes with the job) and posts the frame back.
 */
import { parentPort } from 'node:worker_threads';
import { PageBatchBuilder } from '../../wire/index.js';
import { writeStagedBlock, type StagedBlock } from './page-blocks.js';

/** A job: one staged block and the frame it becomes. */
export interface BlockJob {
  id: number;
  seq: number;
  maxFrameBytes: number;
  block: StagedBlock;
}

/** The answer: the frame and its codec payload bytes, or the error. */
export type BlockJobResult =
  | { id: number; frame: Uint8Array; payloadBytes: number }
  | { id: number; error: { code?: string; message: string } };

const port = parentPort!;
port.on('message', (job: BlockJob) => {
  try {
    const builder = new PageBatchBuilder(job.maxFrameBytes);
    const payloadBytes = writeStagedBlock(job.block, {
      reserve: (n) => {
        const out = builder.reserve(n);
        if (out === null) throw new Error(`a ${n}-byte record does not fit a ${job.maxFrameBytes}-byte frame`);
        return out;
      },
      commit: (index, id, length) => builder.commit(index, id, length),
    });
    const frame = builder.finish({ seq: job.seq });
    port.postMessage({ id: job.id, frame, payloadBytes } satisfies BlockJobResult, [frame.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    port.postMessage({ id: job.id, error: { code: e.code, message: e.message ?? String(err) } } satisfies BlockJobResult);
  }
});
