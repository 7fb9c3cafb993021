/**
 * Splits a byte stream into messages with an injected `MessageLength`.
 *
 * Received chunks are kept in a list, never concatenated as they arrive (which would be quadratic):
 * a message that lies inside one chunk is returned as a view of it (no copy); only a message that
 * spans chunks is copied, once, into its own buffer. When a header itself spans chunks, the first
 * chunk is grown by a doubling prefix of the next one until `messageLength` can answer.
 *
 * `messageLength` must return the length as soon as the header is complete; returning null until a
 * whole message is buffered still works, but costs copies (bounded by maxMessageBytes).
 */
import { LivemigError } from '../core/index.js';
import type { MessageLength } from './types.js';

/** Smallest prefix moved into the first chunk when a header spans chunks, in bytes. */
const MIN_HEADER_PROBE_BYTES = 64;

export class MessageSplitter {
  readonly #messageLength: MessageLength;
  readonly #maxMessageBytes: number;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  #buffered = 0;
  #needed: number | null = null;

  constructor(messageLength: MessageLength, maxMessageBytes: number) {
    this.#messageLength = messageLength;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Bytes buffered that do not yet form a whole message. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Length of the message being assembled, once its header has been read; else null. */
  get pendingMessageBytes(): number | null {
    return this.#needed;
  }

  /**
   * Adds received bytes; calls `onMessage` for every message they complete, in order.
   * Throws the error of `messageLength`, or a LivemigError for an invalid or too large length.
   */
  push(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered > 0) {
      if (this.#needed === null) {
        const length = this.#probe();
        if (length === null) {
          if (this.#buffered > this.#maxMessageBytes) {
            throw new LivemigError(
              'LIVEMIG_E_TRANSPORT_TOO_LARGE',
              `No message header found in the first ${this.#buffered} bytes, more than maxMessageBytes `
              + `(${this.#maxMessageBytes}); the peer speaks another protocol or a larger message size`,
            );
          }
          return;
        }
        this.#needed = length;
      }
      if (this.#buffered < this.#needed) return;
      const message = this.#take(this.#needed);
      this.#needed = null;
      onMessage(message);
    }
  }

  /** The stream ended; throws if it ended inside a message. */
  end(): void {
    if (this.#buffered === 0) return;
    const of = this.#needed === null ? 'a message header' : `a ${this.#needed}-byte message`;
    throw new LivemigError(
      'LIVEMIG_E_TRANSPORT_CLOSED',
      `The peer closed the connection in the middle of ${of} (${this.#buffered} bytes received); `
      + 'check the peer\'s log for why it stopped',
    );
  }

  #probe(): number | null {
    let first = this.#chunks[this.#head].subarray(this.#offset);
    let length = this.#check(first);
    while (length === null && this.#head + 1 < this.#chunks.length) {
      // The header spans chunks: grow the first chunk by a doubling prefix of the next one.
      const next = this.#chunks[this.#head + 1];
      const take = Math.min(next.length, Math.max(first.length, MIN_HEADER_PROBE_BYTES));
      const merged = new Uint8Array(first.length + take);
      merged.set(first, 0);
      merged.set(next.subarray(0, take), first.length);
      this.#chunks[this.#head] = merged;
      this.#offset = 0;
      if (take === next.length) this.#chunks.splice(this.#head + 1, 1);
      else this.#chunks[this.#head + 1] = next.subarray(take);
      first = merged;
      length = this.#check(first);
    }
    return length;
  }

  #check(view: Uint8Array): number | null {
    const length = this.#messageLength(view);
    if (length === null) return null;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1) {
      throw new LivemigError(
        'LIVEMIG_E_TRANSPORT_MALFORMED',
        `messageLength returned ${String(length)}; expected a whole number of bytes >= 1 or null (a bug in the message format's length check)`,
      );
    }
    if (length > this.#maxMessageBytes) {
      throw new LivemigError(
        'LIVEMIG_E_TRANSPORT_TOO_LARGE',
        `The peer sent a ${length}-byte message, more than maxMessageBytes (${this.#maxMessageBytes}); `
        + 'raise maxMessageBytes on this side or send smaller messages',
      );
    }
    return length;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[this.#head];
    let message: Uint8Array;
    if (first.length - this.#offset >= n) {
      // Inside one chunk: a view, no copy.
      message = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) this.#dropHead();
    } else {
      // Spans chunks: one copy into a buffer of its own (allocUnsafeSlow: not a shared pool slab).
      message = Buffer.allocUnsafeSlow(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.#chunks[this.#head];
        const part = Math.min(chunk.length - this.#offset, n - filled);
        message.set(chunk.subarray(this.#offset, this.#offset + part), filled);
        filled += part;
        this.#offset += part;
        if (this.#offset === chunk.length) this.#dropHead();
      }
    }
    this.#buffered -= n;
    return message;
  }

  #dropHead(): void {
    this.#chunks[this.#head++] = undefined as unknown as Uint8Array;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
