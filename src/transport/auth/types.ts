/**
 * Authentication at the transport boundary: options and listener figures. The engine never sees any
 * of it: a Channel handed to it has already proved the pre-shared key (or the TLS certificate).
 */

/** Options of the pre-shared-key handshake run on every fresh connection. */
export interface AuthOptions {
  /** The pre-shared key, at least 16 bytes; both ends must hold the same one. */
  key: Uint8Array;
  /** Time allowed for the whole handshake, in ms; a peer that has not proved the key by then is dropped. @default 10000 */
  handshakeTimeoutMs?: number;
  /**
   * listen side: a message the peer's protocol understands (livemig: a wire ABORT), sent to a peer
   * that speaks without authenticating first, so it reports why it was dropped. @default none
   */
  refusalMessage?: (err: Error) => Uint8Array;
}

/** What a securing listener did with the connections it saw. */
export interface SecureListenerStats {
  /** Connections that proved the key (or certificate) and were handed to accept(). */
  accepted: number;
  /** Connections refused: wrong key or certificate, garbage, timeout, over a limit. */
  refused: number;
  /** Refusals per LivemigError code, e.g. { LIVEMIG_E_AUTH: 2, LIVEMIG_E_TRANSPORT_TIMEOUT: 1 }. */
  refusedByCode: Record<string, number>;
  /** Handshakes under way now. */
  pending: number;
}

/** Default time allowed for the authenticating handshake, in ms. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
/** Shortest pre-shared key accepted, in bytes (128 bits). */
export const MIN_KEY_BYTES = 16;
