import type { Channel, ChannelStats, SendOptions } from '../../src/transport/index.js';

/**
 * A Channel that delegates to a real one but lets a test damage what it sends: `mutate` sees each
 * outgoing message (and its index) and may change its bytes in place, as a faulty link would.
 */
export class FaultyChannel implements Channel {
  readonly #inner: Channel;
  readonly #mutate: (message: Uint8Array, index: number) => void;
  #sent = 0;

  constructor(inner: Channel, mutate: (message: Uint8Array, index: number) => void) {
    this.#inner = inner;
    this.#mutate = mutate;
  }

  get transport(): Channel['transport'] {
    return this.#inner.transport;
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    this.#mutate(message, this.#sent++);
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  destroy(err?: Error): void {
    this.#inner.destroy(err);
  }

  stats(): ChannelStats {
    return this.#inner.stats();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#inner[Symbol.asyncIterator]();
  }
}
