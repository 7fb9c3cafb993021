/**
 * A Listener that hands out only channels that passed a securing step (the key handshake): every
 * incoming channel is secured in the background, concurrently, so a silent or slow peer never holds
 * up the next one, and a refused one is counted and dropped without reaching accept().
 */
import { LivemigError, isLivemigError } from '../../core/index.js';
import type { Channel, Listener } from '../types.js';
import type { SecureListenerStats } from './types.js';

/** Most handshakes run at once; connections beyond are refused at once (a flood must not pile up). @default 64 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/** Most secured channels waiting for accept(); more are refused. */
const MAX_READY = 64;

export class SecureListener implements Listener {
  readonly #inner: Listener;
  readonly #secure: (channel: Channel) => Promise<Channel>;
  readonly #maxPending: number;
  readonly #ready: Channel[] = [];
  readonly #waiters: Array<{ resolve(ch: Channel): void; reject(err: unknown): void }> = [];
  readonly #stats: SecureListenerStats = { accepted: 0, refused: 0, refusedByCode: {}, pending: 0 };
  readonly #onRefused: ((err: unknown) => void) | undefined;
  #closed = false;
  #closedError: unknown;

  /**
   * @param inner the listener whose channels are secured
   * @param secure resolves with the channel once secured; rejects (having destroyed it) to refuse it
   * @param options.onRefused called with each refusal's error (for a log line)
   * @param options.maxPendingHandshakes @default 64
   */
  constructor(
    inner: Listener,
    secure: (channel: Channel) => Promise<Channel>,
    options: { onRefused?: (err: unknown) => void; maxPendingHandshakes?: number } = {},
  ) {
    this.#inner = inner;
    this.#secure = secure;
    this.#onRefused = options.onRefused;
    this.#maxPending = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    void this.#acceptLoop();
  }

  get address(): { host: string; port: number } {
    return this.#inner.address;
  }

  /** Accepted and refused connections so far, refusals of a securing inner listener (TLS) included. */
  stats(): SecureListenerStats {
    const out = { ...this.#stats, refusedByCode: { ...this.#stats.refusedByCode } };
    const inner = (this.#inner as { stats?: () => Partial<SecureListenerStats> }).stats?.();
    if (inner !== undefined && typeof inner.refused === 'number') {
      out.refused += inner.refused;
      for (const [code, n] of Object.entries(inner.refusedByCode ?? {})) out.refusedByCode[code] = (out.refusedByCode[code] ?? 0) + n;
    }
    return out;
  }

  accept(): Promise<Channel> {
    const ch = this.#ready.shift();
    if (ch !== undefined) return Promise.resolve(ch);
    if (this.#closed) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#shutdown(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', `The listener on ${this.address.host}:${this.address.port} is closed`));
    await this.#inner.close();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let ch: Channel;
      try {
        ch = await this.#inner.accept();
      } catch (err) {
        if (this.#closed) return;
        // The inner listener closed under us: fail the waiters; otherwise one connection was refused below us.
        if (isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED')) {
          this.#shutdown(err);
          return;
        }
        this.#refuse(err);
        continue;
      }
      if (this.#closed) {
        ch.destroy();
        return;
      }
      if (this.#stats.pending >= this.#maxPending) {
        const err = new LivemigError('LIVEMIG_E_AUTH', `Too many connections are authenticating at once (${this.#maxPending}); refused one`, { phase: 'handshake' });
        ch.destroy(err);
        this.#refuse(err);
        continue;
      }
      this.#stats.pending++;
      this.#secure(ch).then(
        (secured) => {
          this.#stats.pending--;
          this.#deliver(secured);
        },
        (err) => {
          this.#stats.pending--;
          this.#refuse(err);
        },
      );
    }
  }

  #deliver(ch: Channel): void {
    if (this.#closed || this.#ready.length >= MAX_READY) {
      ch.destroy();
      this.#refuse(new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'The listener closed or its accept queue is full'));
      return;
    }
    this.#stats.accepted++;
    const w = this.#waiters.shift();
    if (w !== undefined) w.resolve(ch);
    else this.#ready.push(ch);
  }

  #refuse(err: unknown): void {
    this.#stats.refused++;
    const code = isLivemigError(err) ? err.code : 'OTHER';
    this.#stats.refusedByCode[code] = (this.#stats.refusedByCode[code] ?? 0) + 1;
    this.#onRefused?.(err);
  }

  #shutdown(err: unknown): void {
    this.#closed = true;
    this.#closedError = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
    for (const ch of this.#ready.splice(0)) ch.destroy();
  }
}
