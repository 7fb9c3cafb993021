/**
 * The control block shared by a synthetic guest and its workload thread: an Int32Array over a
 * SharedArrayBuffer. The guest writes REQUEST and THROTTLE; the worker writes ACK, WRITES and RATE.
 *
 * ```
 *            resume()                      worker sees RUN
 *  PARKED ───────────▶ (ACK=PENDING, REQ=RUN) ─────────────▶ RUNNING
 *    ▲                                                          │ pause(): REQ=PAUSE, notify
 *    └────────────── worker finishes its step, ACK=PARKED ◀─────┘
 * ```
 */

/** Word indexes in the control block. */
export const C = {
  /** What the guest asks for: one of REQ. */
  REQUEST: 0,
  /** What the worker is doing: one of ACK. */
  ACK: 1,
  /** Share of time held back, in thousandths (0..990). */
  THROTTLE_PERMILLE: 2,
  /** Page writes since the worker started (wraps at 2^32). */
  WRITES: 3,
  /** Page writes per second over the last ~250 ms while running; 0 when parked. */
  RATE: 4,
  /** Steps left for RUN_STEPS. */
  STEP_BUDGET: 5,
  /** Why the worker could not load the workload from memory: one of LOAD_FAILURE; 0 = loaded. */
  FAILURE: 6,
} as const;
export const CONTROL_WORDS = 8;

export const REQ = { PAUSE: 0, RUN: 1, EXIT: 2, RUN_STEPS: 3 } as const;
export const ACK = { PENDING: -1, PARKED: 0, RUNNING: 1, EXITED: 2, FAILED: 3 } as const;

/** What the guest hands the worker thread. */
export interface WorkerData {
  memory: SharedArrayBuffer;
  dirty: SharedArrayBuffer;
  control: SharedArrayBuffer;
  pageSize: number;
}
