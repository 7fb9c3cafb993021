/**
 * Weighted by measured throughput: a virtual clock per subflow advances by bytes / rate for every
 * message it takes, and the subflow with the earliest clock goes next (weighted fair queueing), so
 * each subflow's share of the bytes follows its share of the measured rate.
 */
import type { Scheduler, SubflowView } from '../types.js';

export class WeightedScheduler implements Scheduler {
  readonly name = 'weighted';
  readonly #clock = new Map<number, number>();
  /** System virtual time: the earliest clock among the last candidates. */
  #now = 0;
  /** Subflows offered at the last pick. */
  #offered = new Set<number>();

  pick(subflows: readonly SubflowView[], messageBytes: number): SubflowView {
    let best = 1;
    for (const s of subflows) if (s.rateBytesPerSec > best) best = s.rateBytesPerSec;
    // Unmeasured means its queue never filled: it takes all it is given, so it counts as fastest.
    const unmeasured = 2 * best;
    let chosen = subflows[0];
    let chosenFinish = Infinity;
    let earliest = Infinity;
    const offered = new Set<number>();
    for (const s of subflows) {
      offered.add(s.id);
      let clock = this.#clock.get(s.id);
      // A subflow left out last time (idle, or its queue full) banks no credit: pulled up to now.
      if (clock === undefined || !this.#offered.has(s.id)) clock = Math.max(clock ?? this.#now, this.#now);
      this.#clock.set(s.id, clock);
      earliest = Math.min(earliest, clock);
      // A slow subflow still gets a trickle (1% of the best), so that its rate can be re-measured.
      const rate = Math.max(s.rateBytesPerSec > 0 ? s.rateBytesPerSec : unmeasured, best / 100);
      const finish = clock + messageBytes / rate;
      if (finish < chosenFinish) {
        chosen = s;
        chosenFinish = finish;
      }
    }
    this.#offered = offered;
    this.#now = earliest;
    this.#clock.set(chosen.id, chosenFinish);
    return chosen;
  }
}
