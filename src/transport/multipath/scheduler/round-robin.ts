/**
 * Round-robin: each message to the next subflow in slot order that has room (QEMU multifd's
 * next_channel scan). Work-conserving: a full subflow is skipped, not waited for.
 */
import type { Scheduler, SubflowView } from '../types.js';

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'round-robin';
  #last = -1;

  pick(subflows: readonly SubflowView[]): SubflowView {
    // The first slot after the last one used, wrapping to the lowest.
    let next: SubflowView | undefined;
    let lowest = subflows[0];
    for (const s of subflows) {
      if (s.id < lowest.id) lowest = s;
      if (s.id > this.#last && (next === undefined || s.id < next.id)) next = s;
    }
    const chosen = next ?? lowest;
    this.#last = chosen.id;
    return chosen;
  }
}
