/** auth/: the pre-shared-key handshake at the transport boundary, and a listener that admits only channels that pass it. */
export type { AuthOptions, SecureListenerStats } from './types.js';
export { DEFAULT_AUTH_TIMEOUT_MS, MIN_KEY_BYTES } from './types.js';
export { AUTH_MAGIC, AuthMessageType, authFraming, authenticateChannel, validateKey } from './hmac-handshake.js';
export { DEFAULT_MAX_PENDING_HANDSHAKES, SecureListener } from './secure-listener.js';
export { readKeyFile } from './key-file.js';
