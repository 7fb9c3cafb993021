/**
 * One encode worker of a WorkerRoundEncoder: encodes its share of each round's pages straight from
 * the guest's shared memory, with its own PageEncoder and cache partition, and posts whole PAGES
 * frames to the main thread. Protocol in encode-worker-protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPageCache } from '../cache/index.js';
import { copyBytes } from '../codec/index.js';
import { hashPage, zeroPageHash } from '../guest/digest.js';
import { PageBatchBuilder } from '../wire/index.js';
import { FramePool } from './frame-pool.js';
import { PageEncoder } from './page-encoder.js';
import { PageRecordWriter, blockSettingsOf } from './page-record-writer.js';
import { localIndexOf, localPageCount, type EncodeWorkerData, type RoundJob, type ToMain, type ToWorker } from './encode-worker-protocol.js';

const data = workerData as EncodeWorkerData;
const port = parentPort!;
const memory = new Uint8Array(data.memory, data.memoryOffset, data.memoryBytes);
const hashes = new BigUint64Array(data.hashes);
const credits = new Int32Array(data.credits);
const me = data.worker;
const pageSize = data.pageSize;
const cache = data.cache ? createPageCache(data.cache.policy, { capacityBytes: data.cache.capacityBytes, pageSize: data.cache.pageSize }) : null;
const encoder = new PageEncoder(data.codec, cache, pageSize, localPageCount(data.pageCount, data.threads), data.codecOptions);
const pool = new FramePool(data.batchBytes);
const builder = new PageBatchBuilder(data.batchBytes, pool.allocate);
const cur = new Uint8Array(pageSize);
const zeroHash = zeroPageHash(pageSize);
const writer = new PageRecordWriter(encoder, builder, pageSize, blockSettingsOf(data.codec, data.blockPages, data.codecOptions),
  (index, bytes) => (hashes[index] = bytes === null ? zeroHash : hashPage(bytes)));
// Frame seq is informational (the destination orders nothing by it): each worker numbers its own
// frames, interleaved with the others' so that numbers stay distinct.
let framesPosted = 0;

const post = (m: ToMain, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Waits (blocking this thread only) until the main thread has room for another frame. */
function takeCredit(): void {
  while (Atomics.load(credits, me) <= 0) Atomics.wait(credits, me, Atomics.load(credits, me), 100);
  Atomics.sub(credits, me, 1);
}

async function encodeRound(job: RoundJob): Promise<void> {
  const { round, flags, pages } = job;
  const stable = encoder.usesCache;
  const threads = data.threads;
  let sinceFrame = 0;
  const flush = async () => {
    if (builder.count === 0) return;
    // Pages, not records: a block record counts each page it carries.
    const records = writer.takeBatchPages();
    const payloadBytes = builder.payloadBytes;
    const frame = builder.finish({ round, seq: (framesPosted++ * threads + me) >>> 0, flags });
    takeCredit();
    post({ type: 'frame', buffer: frame.buffer as ArrayBuffer, byteLength: frame.byteLength, records, payloadBytes, pagesDone: sinceFrame, samples: encoder.takeSamples() }, [frame.buffer as ArrayBuffer]);
    sinceFrame = 0;
    // Lets recycled buffers in before the next batch is allocated.
    await yieldToLoop();
  };
  for (let k = 0; k < pages.length; k++) {
    const index = pages[k];
    let page: Uint8Array = memory.subarray(index * pageSize, (index + 1) * pageSize);
    // Same rule as the inline encoder: delta codecs work on a stable copy of the page.
    if (stable) page = (copyBytes(page, cur), cur);
    const wait = writer.page(index, localIndexOf(index, threads), page, round, flush);
    if (wait) await wait;
    sinceFrame++;
  }
  await writer.end(flush);
  await flush();
  post({ type: 'done', round, counters: { ...encoder.counters }, pagesDone: sinceFrame, samples: encoder.takeSamples() });
}

// Rounds arrive one at a time (the main thread waits for every worker's `done`), so a chain keeps them in order.
let chain = Promise.resolve();
port.on('message', (m: ToWorker) => {
  if (m.type === 'recycle') {
    pool.release(new Uint8Array(m.buffer));
    return;
  }
  if (m.type === 'plan') {
    encoder.setPlan(m.order);
    return;
  }
  chain = chain.then(() => encodeRound(m)).catch((err: unknown) => {
    const e = err as { message?: string; code?: string };
    post({ type: 'error', message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined });
  });
});
