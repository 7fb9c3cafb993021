/**
 * The synthetic guest: memory in a SharedArrayBuffer, a dirty bitmap (one bit per page, also
 * shared) and a worker thread that runs a workload over them. All workload state is in memory
 * (layout.ts), so `createDestinationGuest` needs nothing but the description and the migrated bytes.
 */
import { Worker } from 'node:worker_threads';
import { LivemigError } from '../../core/index.js';
import type {
  Guest, GuestDescription, SelfCheckResult, SyntheticGuestOptions, WorkloadName,
} from '../types.js';
import { ACK, C, CONTROL_WORDS, REQ, type WorkerData } from './control.js';
import {
  H, HEADER_MAGIC, LAYOUT_VERSION, MemoryViews, WORKLOAD_IDS, layoutFor, pageChecksum, type SyntheticWorkload,
} from './layout.js';
import { fillInitialContent, type ContentStats } from './initial-content.js';
import { checkSyntheticMemory } from './self-check.js';
import { DEFAULT_DIRTY_RATE, LOAD_FAILURE, scatterMultiplier, seedPrng } from './workloads.js';

const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 4096;
const MAX_MEMORY_BYTES = 8 * 1024 * 1024 * 1024;
const MIN_DATA_PAGES = 16;
const DEFAULT_ANSWER_TIMEOUT_MS = 5000;
const POLL_MS = 20;

/** Atomics.waitAsync (Node ≥ 16) is in lib es2024, newer than this project's target: typed here. */
type WaitAsync = (
  array: Int32Array, index: number, value: number, timeoutMs: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

function configError(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_GUEST_CONFIG', message);
}

/** Validates the memory geometry; returns the page count. */
function checkGeometry(memoryBytes: number, pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw configError(`Expected pageSize to be a power of two from 1024 to 65536 bytes, got ${pageSize}`);
  }
  if (!Number.isInteger(memoryBytes) || memoryBytes <= 0 || memoryBytes % pageSize !== 0 || memoryBytes > MAX_MEMORY_BYTES) {
    throw configError(
      `Expected memoryBytes to be a positive multiple of the page size (${pageSize}) up to 8 GiB, got ${memoryBytes}`,
    );
  }
  const pageCount = memoryBytes / pageSize;
  const { firstData } = layoutFor(pageSize, pageCount);
  if (pageCount - firstData < MIN_DATA_PAGES) {
    throw configError(`memoryBytes ${memoryBytes} is too small: the header needs ${firstData} pages and at least ${MIN_DATA_PAGES} data pages must remain`);
  }
  return pageCount;
}

function checkNumber(name: string, value: number, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw configError(`Expected ${name} to be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function checkWorkload(workload: WorkloadName): SyntheticWorkload {
  if (!(workload in WORKLOAD_IDS)) {
    throw configError(`Expected workload to be one of ${Object.keys(WORKLOAD_IDS).join(', ')}, got '${workload}'`);
  }
  return workload as SyntheticWorkload;
}

/** A synthetic guest. Build one with `createSyntheticGuest` or `createDestinationGuest`. */
export class SyntheticGuest implements Guest {
  readonly description: GuestDescription;
  readonly pageSize: number;
  readonly pageCount: number;
  readonly memory: Uint8Array;
  /** Initial content mix (source guests only). */
  readonly contentStats: ContentStats | null;
  /** Time taken to allocate and fill memory, in ms (0 for a destination). */
  readonly buildMs: number;
  readonly #views: MemoryViews;
  readonly #dirty: Int32Array;
  readonly #ctl: Int32Array;
  readonly #worker: Worker;
  readonly #answerTimeoutMs: number;
  readonly #scratch: Uint32Array;
  #firstSync = true;
  #dead: Error | null = null;
  #closed = false;
  /** Serialises pause/resume/runSteps/close so their handshakes with the worker never interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  /** @internal use the factories. */
  constructor(
    description: GuestDescription, memory: SharedArrayBuffer, stats: ContentStats | null, buildMs: number,
    answerTimeoutMs: number,
  ) {
    this.description = description;
    this.pageSize = description.pageSize;
    this.#views = new MemoryViews(memory, description.pageSize);
    this.pageCount = this.#views.pageCount;
    this.memory = this.#views.bytes;
    this.contentStats = stats;
    this.buildMs = buildMs;
    this.#answerTimeoutMs = answerTimeoutMs;
    this.#scratch = new Uint32Array(this.pageCount);
    const dirty = new SharedArrayBuffer(Math.ceil(this.pageCount / 32) * 4);
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    this.#dirty = new Int32Array(dirty);
    this.#ctl = new Int32Array(control);
    this.#ctl[C.REQUEST] = REQ.PAUSE;
    this.#ctl[C.ACK] = ACK.PENDING;
    const workerData: WorkerData = { memory, dirty, control, pageSize: this.pageSize };
    this.#worker = new Worker(new URL('./workload-worker.js', import.meta.url), { workerData });
    // A forgotten close() must not keep the process alive: the thread only ever waits or writes memory.
    this.#worker.unref();
    this.#worker.on('error', (err) => {
      this.#dead ??= err;
    });
    this.#worker.on('exit', (code) => {
      this.#dead ??= new Error(`workload thread exited with code ${code}`);
    });
  }

  /** Waits until the worker has started and parked. */
  async ready(): Promise<void> {
    await this.#waitAck((a) => a === ACK.PARKED, this.#answerTimeoutMs * 2);
  }

  page(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.pageCount) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a page index from 0 to ${this.pageCount - 1}, got ${index}`);
    }
    return this.#views.page(index);
  }

  syncDirty(): Uint32Array {
    const bitmap = this.#dirty;
    if (this.#firstSync) {
      this.#firstSync = false;
      for (let k = 0; k < bitmap.length; k++) Atomics.exchange(bitmap, k, 0);
      const all = new Uint32Array(this.pageCount);
      for (let i = 0; i < all.length; i++) all[i] = i;
      return all;
    }
    const out = this.#scratch;
    let n = 0;
    for (let k = 0; k < bitmap.length; k++) {
      // Read-and-clear: a bit set after this exchange stays for the next sync (see WorkloadRunner#markDirty).
      let bits = Atomics.exchange(bitmap, k, 0);
      while (bits !== 0) {
        const low = bits & -bits;
        out[n++] = k * 32 + (31 - Math.clz32(low));
        bits ^= low;
      }
    }
    return out.slice(0, n);
  }

  get running(): boolean {
    return !this.#closed && Atomics.load(this.#ctl, C.REQUEST) === REQ.RUN;
  }

  resume(): Promise<void> {
    return this.#serial(async () => {
      this.#checkUsable();
      if (Atomics.load(this.#ctl, C.REQUEST) === REQ.RUN) return;
      Atomics.store(this.#ctl, C.ACK, ACK.PENDING);
      Atomics.store(this.#ctl, C.REQUEST, REQ.RUN);
      Atomics.notify(this.#ctl, C.REQUEST);
      const ack = await this.#waitAck((a) => a === ACK.RUNNING || a === ACK.FAILED, this.#answerTimeoutMs);
      if (ack === ACK.FAILED) {
        await this.#park();
        throw this.#loadError();
      }
    });
  }

  pause(): Promise<void> {
    return this.#serial(async () => {
      this.#checkUsable();
      await this.#park();
    });
  }

  /**
   * Runs exactly `steps` workload steps at full speed from a paused state, then stays paused.
   * Two guests with equal memory that run the same number of steps end with equal memory.
   */
  runSteps(steps: number): Promise<void> {
    return this.#serial(async () => {
      this.#checkUsable();
      checkNumber('steps', steps, 0, 2 ** 31 - 1, true);
      if (Atomics.load(this.#ctl, C.REQUEST) !== REQ.PAUSE) {
        throw new LivemigError('LIVEMIG_E_GUEST_CONFIG', 'runSteps() needs a paused guest: call pause() first');
      }
      Atomics.store(this.#ctl, C.STEP_BUDGET, steps);
      Atomics.store(this.#ctl, C.ACK, ACK.PENDING);
      Atomics.store(this.#ctl, C.REQUEST, REQ.RUN_STEPS);
      Atomics.notify(this.#ctl, C.REQUEST);
      await this.#waitAck((a) => a === ACK.PARKED, Math.max(this.#answerTimeoutMs, 60_000));
      if (Atomics.load(this.#ctl, C.FAILURE) !== 0) throw this.#loadError();
    });
  }

  setThrottle(fraction: number): void {
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 0.99)) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected the throttle to be a fraction from 0 to 0.99, got ${fraction}`);
    }
    Atomics.store(this.#ctl, C.THROTTLE_PERMILLE, Math.round(fraction * 1000));
  }

  /** The throttle currently applied, 0..0.99. */
  get throttle(): number {
    return Atomics.load(this.#ctl, C.THROTTLE_PERMILLE) / 1000;
  }

  dirtyRatePagesPerSec(): number {
    return Atomics.load(this.#ctl, C.RATE);
  }

  /** Page writes recorded in guest memory since the workload began (on the source). */
  totalWrites(): number {
    return this.#views.writes();
  }

  /** Checks the workload invariants; a running guest is paused for the check and resumed after. */
  async selfCheck(): Promise<SelfCheckResult> {
    const wasRunning = this.running;
    if (wasRunning) await this.pause();
    try {
      return checkSyntheticMemory(this.#views);
    } finally {
      if (wasRunning) await this.resume();
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    Atomics.store(this.#ctl, C.REQUEST, REQ.EXIT);
    Atomics.notify(this.#ctl, C.REQUEST);
    return this.#worker.terminate().then(() => undefined);
  }

  /** @internal for tests: kills the workload thread as a crash would. */
  async killWorkerForTest(): Promise<void> {
    await this.#worker.terminate();
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #checkUsable(): void {
    if (this.#closed) throw new LivemigError('LIVEMIG_E_GUEST_WORKER', 'the synthetic guest is closed');
  }

  async #park(): Promise<void> {
    Atomics.store(this.#ctl, C.REQUEST, REQ.PAUSE);
    Atomics.notify(this.#ctl, C.REQUEST);
    await this.#waitAck((a) => a === ACK.PARKED, this.#answerTimeoutMs);
  }

  #loadError(): LivemigError {
    const code = Atomics.load(this.#ctl, C.FAILURE);
    return configError(`cannot run the workload: ${LOAD_FAILURE[code] ?? `failure ${code}`}; a destination needs the source's memory before resume()`);
  }

  /** Waits, without blocking the event loop, for the worker's ACK to satisfy `done`; rejects if it died. */
  async #waitAck(done: (ack: number) => boolean, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ack = Atomics.load(this.#ctl, C.ACK);
      if (done(ack)) return ack;
      if (this.#dead !== null || ack === ACK.EXITED) {
        throw new LivemigError('LIVEMIG_E_GUEST_WORKER', `the workload thread is gone (${this.#dead?.message ?? 'exited'}); close this guest and build a new one`, { cause: this.#dead ?? undefined });
      }
      if (performance.now() > deadline) {
        throw new LivemigError('LIVEMIG_E_GUEST_WORKER', `the workload thread did not answer within ${timeoutMs} ms; the machine may be overloaded`);
      }
      const wait = waitAsync(this.#ctl, C.ACK, ack, POLL_MS);
      if (wait.async) {
        // A pending waitAsync does not keep Node's event loop alive; this timer does.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([wait.value, new Promise((resolve) => { timer = setTimeout(resolve, POLL_MS + 5); })]);
        clearTimeout(timer);
      }
    }
  }
}

/** The description a synthetic source guest sends to its destination. */
function describe(workload: SyntheticWorkload, memoryBytes: number, pageSize: number, params: GuestDescription['params']): GuestDescription {
  return { kind: 'synthetic', workload, memoryBytes, pageSize, params };
}

/**
 * Builds a synthetic source guest: fills memory with the initial content for the seed, writes the
 * workload header and page table, and starts the workload thread (running unless `running: false`).
 */
export async function createSyntheticGuest(options: SyntheticGuestOptions = {}): Promise<SyntheticGuest> {
  const workload = checkWorkload(options.workload ?? 'hotset');
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const pageCount = checkGeometry(memoryBytes, pageSize);
  const param = (name: string): number | undefined => {
    const value = options.params?.[name];
    return value === undefined ? undefined : Number(value);
  };
  const seed = checkNumber('seed', options.seed ?? param('seed') ?? 1, 0, 2 ** 32 - 1, true);
  const hotPercent = checkNumber('hotPercent', options.hotPercent ?? param('hotPercent') ?? 10, 0.001, 100, false);
  const dirtyRate = checkNumber('dirtyRate', options.dirtyRate ?? param('dirtyRate') ?? DEFAULT_DIRTY_RATE[workload], 0, 100_000_000, true);
  const zipfS = checkNumber('zipfS', options.zipfS ?? param('zipfS') ?? 0.99, 0.001, 5, false);
  const answerTimeoutMs = checkNumber('answerTimeoutMs', options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS, 1, 600_000, false);

  const started = performance.now();
  const buffer = new SharedArrayBuffer(memoryBytes);
  const v = new MemoryViews(buffer, pageSize);
  const stats = fillInitialContent(v, seed);
  const nData = pageCount - v.firstData;
  if (workload === 'qemu-test') {
    // QEMU's guest starts every test page with the same first byte.
    for (let i = v.firstData; i < pageCount; i++) v.bytes[i * pageSize] = 0;
  }
  for (let i = v.firstData; i < pageCount; i++) v.setEntry(i, 0, pageChecksum(v.page(i), i));
  const w = v.words;
  w[H.MAGIC] = HEADER_MAGIC;
  w[H.VERSION] = LAYOUT_VERSION;
  w[H.WORKLOAD] = WORKLOAD_IDS[workload];
  w[H.PAGE_SIZE] = pageSize;
  w[H.PAGE_COUNT] = pageCount;
  w[H.FIRST_DATA] = v.firstData;
  w[H.SEED] = seed;
  w[H.HOT_PERCENT] = Math.round(hotPercent);
  w[H.DIRTY_RATE] = dirtyRate;
  w[H.ZIPF_S_MILLI] = Math.round(zipfS * 1000);
  seedPrng(seed ^ 0xa5a5a5a5, w, H.PRNG);
  w[H.HOT_COUNT] = Math.max(1, Math.floor((nData * hotPercent) / 100));
  w[H.SCATTER_MUL] = scatterMultiplier(seed, nData);
  v.sealHeader();
  const buildMs = performance.now() - started;

  const description = describe(workload, memoryBytes, pageSize, { seed, hotPercent, dirtyRate, zipfS });
  const guest = new SyntheticGuest(description, buffer, stats, buildMs, answerTimeoutMs);
  try {
    await guest.ready();
    if (options.running ?? true) await guest.resume();
  } catch (err) {
    await guest.close();
    throw err;
  }
  return guest;
}

/**
 * Builds a paused synthetic destination guest from a source's description: zeroed memory and no
 * initialisation. resume() runs the workload found in memory, so call it once the memory has arrived.
 */
export async function createDestinationGuest(
  description: GuestDescription, options: { answerTimeoutMs?: number } = {},
): Promise<SyntheticGuest> {
  if (description.kind !== 'synthetic') {
    throw configError(`createDestinationGuest builds synthetic guests; the description is of kind '${description.kind}'`);
  }
  checkWorkload(description.workload);
  checkGeometry(description.memoryBytes, description.pageSize);
  const answerTimeoutMs = checkNumber('answerTimeoutMs', options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS, 1, 600_000, false);
  const started = performance.now();
  const buffer = new SharedArrayBuffer(description.memoryBytes);
  const guest = new SyntheticGuest(
    { ...description, params: { ...description.params } }, buffer, null, performance.now() - started, answerTimeoutMs,
  );
  try {
    await guest.ready();
  } catch (err) {
    await guest.close();
    throw err;
  }
  return guest;
}
