import type { Channel, ChannelStats, SendOptions } from '../transport/index.js';

/** How long a refused source gets to read our ABORT before the connection is reset, in ms. */
const LINGER_MS = 2000;

/**
 * A Channel whose destroy() first closes our side and waits (up to 2 s) for the peer to hang up,
 * then destroys: the destination engine destroys its channel right after sending an ABORT, and a
 * reset that overtakes the ABORT would leave the source with "connection reset" instead of the
 * reason (a limit, a refused guest).
 */
export class LingerChannel implements Channel {
  readonly #inner: Channel;
  #destroying = false;

  constructor(inner: Channel) {
    this.#inner = inner;
  }

  get transport(): Channel['transport'] {
    return this.#inner.transport;
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  destroy(err?: Error): void {
    if (this.#destroying) return;
    this.#destroying = true;
    const inner = this.#inner;
    const timer = setTimeout(() => inner.destroy(err), LINGER_MS);
    void (async () => {
      try {
        await inner.close();
        for await (const _ of inner) { /* discard until the peer hangs up */ }
      } catch {
        // Broken already: nothing to wait for.
      } finally {
        clearTimeout(timer);
        inner.destroy(err);
      }
    })();
  }

  stats(): ChannelStats {
    return this.#inner.stats();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#inner[Symbol.asyncIterator]();
  }
}
