/**
 * The synthetic guest's "vCPU": a worker thread that runs the workload found in guest memory.
 * It parks between steps when asked to (pause) and keeps no state of its own across a park: on
 * every start it reloads the workload from the header, so a destination starts where memory says.
 *
 * Pacing: time is cut into 10 ms periods. A throttle f holds the thread back for f of each period,
 * as QEMU's auto-converge sleeps a vCPU; in the rest it writes at its natural rate (`dirtyRate`
 * pages/s), so the effective rate is dirtyRate × (1 - f). With dirtyRate 0 it writes flat out.
 */
import { workerData } from 'node:worker_threads';
import { ACK, C, REQ, type WorkerData } from './control.js';
import { H, MemoryViews } from './layout.js';
import { WorkloadRunner } from './workloads.js';

const PERIOD_MS = 10;
const RATE_WINDOW_MS = 250;

const data = workerData as WorkerData;
const ctl = new Int32Array(data.control);
const views = new MemoryViews(data.memory, data.pageSize);
const runner = new WorkloadRunner(views, new Int32Array(data.dirty));

let rateStart = performance.now();
let rateWrites = 0;

function publishRate(now: number, parked: boolean): void {
  if (parked) {
    Atomics.store(ctl, C.RATE, 0);
    rateStart = now;
    rateWrites = 0;
    return;
  }
  const dt = now - rateStart;
  if (dt >= RATE_WINDOW_MS) {
    Atomics.store(ctl, C.RATE, Math.round((rateWrites * 1000) / dt));
    rateStart = now;
    rateWrites = 0;
  }
}

function park(request: number): void {
  publishRate(performance.now(), true);
  Atomics.store(ctl, C.ACK, ACK.PARKED);
  Atomics.notify(ctl, C.ACK);
  Atomics.wait(ctl, C.REQUEST, request);
}

/** Runs the workload until the request changes; returns when it does. */
function run(): void {
  const failure = runner.load();
  Atomics.store(ctl, C.FAILURE, failure);
  if (failure !== 0) {
    Atomics.store(ctl, C.ACK, ACK.FAILED);
    Atomics.notify(ctl, C.ACK);
    Atomics.wait(ctl, C.REQUEST, REQ.RUN);
    return;
  }
  Atomics.store(ctl, C.ACK, ACK.RUNNING);
  Atomics.notify(ctl, C.ACK);
  if (runner.workload === 'none') {
    Atomics.wait(ctl, C.REQUEST, REQ.RUN);
    return;
  }
  const rate = views.words[H.DIRTY_RATE];
  let credit = 0;
  let last = performance.now();
  while (Atomics.load(ctl, C.REQUEST) === REQ.RUN) {
    const periodStart = performance.now();
    const throttle = Atomics.load(ctl, C.THROTTLE_PERMILLE) / 1000;
    const workEnd = periodStart + PERIOD_MS * (1 - throttle);
    let quota = Infinity;
    if (rate > 0) {
      // Credit follows the clock, not the nominal period, so late wake-ups do not lower the rate;
      // it is capped so a thread that fell behind (CPU contention) does not burst afterwards.
      credit = Math.min(credit + (rate * (periodStart - last) * (1 - throttle)) / 1000, rate * 0.05 + 1);
      quota = Math.floor(credit);
      credit -= quota;
    }
    last = periodStart;
    let done = 0;
    while (done < quota) {
      runner.step();
      done++;
      // Look at the clock and the request every few steps only: both cost more than a step's bookkeeping.
      if ((done & 7) === 0) {
        if (Atomics.load(ctl, C.REQUEST) !== REQ.RUN || performance.now() >= workEnd) break;
      }
    }
    if (rate > 0) credit += quota - done;
    Atomics.add(ctl, C.WRITES, done);
    rateWrites += done;
    const now = performance.now();
    publishRate(now, false);
    const rest = periodStart + PERIOD_MS - now;
    if (rest > 0) Atomics.wait(ctl, C.REQUEST, REQ.RUN, rest);
  }
}

/** Runs exactly STEP_BUDGET steps at full speed, then parks itself (deterministic tests). */
function runSteps(): void {
  const failure = runner.load();
  Atomics.store(ctl, C.FAILURE, failure);
  const initial = failure === 0 ? Atomics.load(ctl, C.STEP_BUDGET) : 0;
  let budget = initial;
  while (budget > 0 && Atomics.load(ctl, C.REQUEST) === REQ.RUN_STEPS) {
    if (runner.workload !== 'none') runner.step();
    budget--;
  }
  Atomics.store(ctl, C.STEP_BUDGET, budget);
  Atomics.add(ctl, C.WRITES, runner.workload === 'none' ? 0 : initial - budget);
  // The thread parks itself; the guest sees PARKED (and FAILURE, if the header was unusable).
  Atomics.compareExchange(ctl, C.REQUEST, REQ.RUN_STEPS, REQ.PAUSE);
}

for (;;) {
  const request = Atomics.load(ctl, C.REQUEST);
  if (request === REQ.EXIT) break;
  if (request === REQ.PAUSE) park(REQ.PAUSE);
  else if (request === REQ.RUN) run();
  else if (request === REQ.RUN_STEPS) runSteps();
}
Atomics.store(ctl, C.ACK, ACK.EXITED);
Atomics.notify(ctl, C.ACK);
