/**
 * The receiver's state machine (PROTOCOL.md draws it): which frame may arrive when. The
 * destination feeds every frame it receives to `observe`; a frame out of order raises
 * LIVEMIG_E_WIRE_SEQUENCE. It checks order only: counting a round's records against ROUND_START /
 * STOP_COPY / ROUND_END and the per-round barrier are the engine's job.
 *
 * PAGES may trail their round: on a multipath channel, records of round r can arrive after
 * ROUND_END(r) or after ROUND_START(r+1), so PAGES of any round up to the open one are in order.
 */

import { LivemigError } from '../core/errors.js';
import { frameTypeName } from './frame-header.js';
import { FrameType, type FrameTypeValue } from './types.js';

/** Receiver states. */
export type ReceiverState =
  | 'await-hello'
  | 'negotiated'
  | 'in-round'
  | 'between-rounds'
  | 'stop-copy'
  | 'verifying'
  | 'done'
  | 'aborted';

/** Tracks the receiving side of a migration and rejects frames that break the protocol's order. */
export class ReceiverSequence {
  #state: ReceiverState = 'await-hello';
  #round = -1;

  /** The current state. */
  get state(): ReceiverState {
    return this.#state;
  }

  /** The latest round opened by ROUND_START or STOP_COPY, or -1 before the first. */
  get round(): number {
    return this.#round;
  }

  /**
   * Advances on one received frame (type and header round). Returns the new state; throws
   * LIVEMIG_E_WIRE_SEQUENCE if the frame may not arrive now.
   */
  observe(type: FrameTypeValue, round: number): ReceiverState {
    const s = this.#state;
    if (s === 'done' || s === 'aborted') this.#reject(type, round, 'the migration is over');
    if (type === FrameType.ABORT) return (this.#state = 'aborted');
    if (s === 'await-hello') {
      if (type !== FrameType.HELLO) this.#reject(type, round, 'the first frame must be HELLO');
      return (this.#state = 'negotiated');
    }
    switch (type) {
      case FrameType.PING:
      case FrameType.PONG:
        return s;
      case FrameType.ROUND_START:
        if (s !== 'negotiated' && s !== 'between-rounds') this.#reject(type, round, 'a round is already open');
        this.#open(type, round);
        return (this.#state = 'in-round');
      case FrameType.PAGES:
        if (s !== 'in-round' && s !== 'between-rounds' && s !== 'stop-copy') this.#reject(type, round, 'no round is open');
        if (round > this.#round) this.#reject(type, round, `round ${round} has not started (latest is ${this.#round})`);
        return s;
      case FrameType.ROUND_END:
        if ((s !== 'in-round' && s !== 'stop-copy') || round !== this.#round) this.#reject(type, round, `round ${round} is not the open round`);
        // The stop-and-copy round ends too, announcing its record count; DIGEST follows.
        return s === 'stop-copy' ? s : (this.#state = 'between-rounds');
      case FrameType.STOP_COPY:
        if (s !== 'negotiated' && s !== 'between-rounds') this.#reject(type, round, 'a round is still open');
        this.#open(type, round);
        return (this.#state = 'stop-copy');
      case FrameType.DIGEST:
        if (s !== 'stop-copy') this.#reject(type, round, 'DIGEST comes only after STOP_COPY');
        return (this.#state = 'verifying');
      default:
        return this.#reject(type, round, 'a destination never receives this frame');
    }
  }

  /** Marks the migration finished once the destination has sent RESULT. */
  resultSent(): void {
    if (this.#state !== 'verifying') this.#reject(FrameType.RESULT, this.#round, 'RESULT is sent only after DIGEST');
    this.#state = 'done';
  }

  #open(type: FrameTypeValue, round: number): void {
    if (round !== this.#round + 1) this.#reject(type, round, `expected round ${this.#round + 1}`);
    this.#round = round;
  }

  #reject(type: number, round: number, why: string): never {
    throw new LivemigError(
      'LIVEMIG_E_WIRE_SEQUENCE',
      `${frameTypeName(type) ?? `type ${type}`} (round ${round}) arrived in state '${this.#state}': ${why}`,
    );
  }
}
