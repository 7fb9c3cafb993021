import type { Channel, ChannelStats, SendOptions } from '../../src/transport/index.js';

/** A Channel that passes everything to a real one; fault-injecting wrappers override what they break. */
export class DelegatingChannel implements Channel {
  protected readonly inner: Channel;

  constructor(inner: Channel) {
    this.inner = inner;
  }

  get transport(): Channel['transport'] {
    return this.inner.transport;
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  destroy(err?: Error): void {
    this.inner.destroy(err);
  }

  stats(): ChannelStats {
    return this.inner.stats();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inner[Symbol.asyncIterator]();
  }
}

/**
 * A faulty link: `mutate` sees each outgoing message (and its index) and may change its bytes in
 * place before the real channel sends it.
 */
export class FaultyChannel extends DelegatingChannel {
  readonly #mutate: (message: Uint8Array, index: number) => void;
  #sent = 0;

  constructor(inner: Channel, mutate: (message: Uint8Array, index: number) => void) {
    super(inner);
    this.#mutate = mutate;
  }

  override send(message: Uint8Array, options?: SendOptions): Promise<void> {
    this.#mutate(message, this.#sent++);
    return super.send(message, options);
  }
}
