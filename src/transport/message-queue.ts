/**
 * The receive side shared by every channel: a FIFO of whole messages that a consumer iterates.
 * It counts the bytes not yet consumed, so the channel can stop reading from its peer above the
 * receive high-water mark, and calls `onConsume` after each message so it can start again.
 */

interface Waiter {
  resolve(result: IteratorResult<Uint8Array>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };

export class MessageQueue {
  #items: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #ended = false;
  #failed = false;
  #error: unknown = undefined;
  #waiters: Waiter[] = [];
  readonly #onConsume: () => void;

  /** @param onConsume called after a message has been handed to the consumer */
  constructor(onConsume: () => void) {
    this.#onConsume = onConsume;
  }

  /** Bytes received and not yet handed to the consumer. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Messages received and not yet handed to the consumer. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** True once the queue ended or failed: nothing more will be pushed. */
  get finished(): boolean {
    return this.#ended || this.#failed;
  }

  push(message: Uint8Array): void {
    if (this.#ended || this.#failed) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      // A consumer is already waiting: hand the message over without queueing it.
      waiter.resolve({ done: false, value: message });
      this.#onConsume();
      return;
    }
    this.#items.push(message);
    this.#bytes += message.length;
  }

  /** No more messages: the consumer's loop ends after the queued ones. */
  end(): void {
    if (this.#ended || this.#failed) return;
    this.#ended = true;
    if (this.length === 0) this.#settleWaiters();
  }

  /**
   * The channel broke. With `immediate`, queued messages are dropped and the consumer sees `err`
   * at once (a local abort); otherwise it first receives what already arrived whole (a peer reset).
   */
  fail(err: unknown, immediate: boolean): void {
    if (this.#failed && !immediate) return;
    if (!this.#failed) {
      this.#failed = true;
      this.#error = err;
    }
    if (immediate) {
      this.#items = [];
      this.#head = 0;
      this.#bytes = 0;
    }
    if (this.length === 0) this.#settleWaiters();
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#head < this.#items.length) {
      const message = this.#items[this.#head];
      this.#items[this.#head++] = undefined as unknown as Uint8Array;
      // Compact now and then instead of shift(), which is O(n) per message.
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      this.#bytes -= message.length;
      this.#onConsume();
      return Promise.resolve({ done: false, value: message });
    }
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #settleWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (this.#failed) w.reject(this.#error);
      else w.resolve(DONE);
    }
  }

  /** An async iterator over the queue; `return()` (a loop's break) leaves the queue as it is. */
  iterator(): AsyncIterableIterator<Uint8Array> {
    const it: AsyncIterableIterator<Uint8Array> = {
      next: () => this.next(),
      return: () => Promise.resolve(DONE),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}
