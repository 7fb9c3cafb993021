import { LivemigError, type Clock } from '../core/index.js';
import type { Channel } from '../transport/index.js';
import {
  FrameType, decodeFrame, decodeControl, encodeControl,
  type ControlMessage, type Frame, type FrameTypeValue, type FrameHeaderFields,
} from '../wire/index.js';

type BodyOf<T extends FrameTypeValue> = Extract<ControlMessage, { type: T }>['body'];

/**
 * One side's view of the conversation over a channel: sends frames with a running sequence number
 * and reads frames one at a time, turning a peer's ABORT or a closed channel into a LivemigError.
 */
export class Peer {
  readonly channel: Channel;
  readonly #maxFrameBytes: () => number;
  readonly #iter: AsyncIterator<Uint8Array>;
  #seq = 0;
  wireBytesSent = 0;

  constructor(channel: Channel, maxFrameBytes: () => number) {
    this.channel = channel;
    this.#maxFrameBytes = maxFrameBytes;
    this.#iter = channel[Symbol.asyncIterator]();
  }

  nextSeq(): number {
    return this.#seq++ >>> 0;
  }

  /** Sends a ready-made frame; a barrier is delivered after everything sent before it. */
  async sendFrame(frame: Uint8Array, barrier = false, onSent?: () => void): Promise<void> {
    this.wireBytesSent += frame.length;
    await this.channel.send(frame, barrier || onSent ? { barrier, onSent } : undefined);
  }

  async sendControl<T extends FrameTypeValue>(type: T, body: BodyOf<T>, fields: FrameHeaderFields = {}): Promise<void> {
    const message = { type, body, round: fields.round ?? 0, flags: fields.flags ?? 0, seq: this.nextSeq() } as ControlMessage;
    // Control frames mark round boundaries, so the pages of round r all land before those of r+1.
    await this.sendFrame(encodeControl(message, { maxFrameBytes: this.#maxFrameBytes() }), true);
  }

  /** The next frame, or null when the peer closed cleanly. A peer's ABORT becomes an error here. */
  async next(timeoutMs = 0): Promise<Frame | null> {
    const read = this.#iter.next();
    let timer: NodeJS.Timeout | undefined;
    const result = await (timeoutMs > 0
      ? Promise.race([
          read,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new LivemigError('LIVEMIG_E_TRANSPORT_TIMEOUT', `The peer sent nothing for ${timeoutMs} ms; check that it is running and reachable`)),
              timeoutMs,
            );
          }),
        ])
      : read).finally(() => clearTimeout(timer));
    if (result.done) return null;
    const frame = decodeFrame(result.value, { maxFrameBytes: this.#maxFrameBytes() });
    if (frame.type === FrameType.ABORT) {
      const msg = decodeControl(frame);
      if (msg.type === FrameType.ABORT) throw new LivemigError(msg.body.code, `The peer aborted: ${msg.body.message}`);
    }
    return frame;
  }

  /** The next frame, which must be a control frame of `type`. */
  async expect<T extends FrameTypeValue>(type: T, timeoutMs: number, what: string): Promise<BodyOf<T>> {
    const frame = await this.next(timeoutMs);
    if (!frame) throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The peer closed the connection while livemig waited for ${what}`);
    if (frame.type !== type) {
      throw new LivemigError('LIVEMIG_E_WIRE_SEQUENCE', `Expected ${what} (frame type ${type}), got frame type ${frame.type}`);
    }
    return decodeControl(frame).body as BodyOf<T>;
  }

  /** Tells the peer why we give up; best effort, never throws. */
  async abort(err: unknown, clock?: Clock): Promise<void> {
    const e = err instanceof LivemigError ? err : new LivemigError('LIVEMIG_E_INTERNAL', String((err as Error)?.message ?? err));
    try {
      await Promise.race([
        this.sendControl(FrameType.ABORT, { code: e.code, message: e.message.slice(0, 60000) }),
        clock ? clock.sleep(1000) : new Promise((r) => setTimeout(r, 1000)),
      ]);
    } catch {
      // The channel may already be gone; the local error is what matters.
    }
  }
}
