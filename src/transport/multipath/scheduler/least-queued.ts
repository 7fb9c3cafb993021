/**
 * Least-queued: the subflow whose queue would drain first, i.e. the smallest
 * (queued bytes + this message) / measured rate — the idea of the Linux MPTCP default scheduler
 * (smallest sk_wmem_queued / pacing rate). A subflow whose queue never filled has no measured
 * rate: it takes all it is given, so it counts as twice the best measured rate.
 */
import type { Scheduler, SubflowView } from '../types.js';

/** Rate assumed when nothing is measured yet, in bytes/s (only ratios matter). */
const UNMEASURED_RATE_BYTES_PER_SEC = 1;

export class LeastQueuedScheduler implements Scheduler {
  readonly name = 'least-queued';
  #last = -1;

  pick(subflows: readonly SubflowView[], messageBytes: number): SubflowView {
    let best = UNMEASURED_RATE_BYTES_PER_SEC;
    for (const s of subflows) if (s.rateBytesPerSec > best) best = s.rateBytesPerSec;
    let chosen = subflows[0];
    let chosenDrainSec = Infinity;
    // Ties go round-robin (starting after the last choice), not always to the first subflow.
    const n = subflows.length;
    const start = subflows.findIndex((s) => s.id === this.#last) + 1;
    for (let k = 0; k < n; k++) {
      const s = subflows[(start + k) % n];
      const rate = s.rateBytesPerSec > 0 ? s.rateBytesPerSec : 2 * best;
      const drainSec = (s.queuedBytes + messageBytes) / rate;
      if (drainSec < chosenDrainSec) {
        chosen = s;
        chosenDrainSec = drainSec;
      }
    }
    this.#last = chosen.id;
    return chosen;
  }
}
