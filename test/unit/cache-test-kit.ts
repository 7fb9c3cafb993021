/** Shared imports and checks of the cache tests (not a test file itself). */
import { LivemigError, type ErrorCode } from '../../src/core/index.js';

export * from '../../src/cache/index.js';

/** True when `e` is a LivemigError with `code` whose message matches `message`; fails loudly otherwise. */
export function isLivemigErrorLike(e: unknown, code: ErrorCode, message: RegExp): boolean {
  if (!(e instanceof LivemigError)) throw new Error(`expected a LivemigError, got ${String(e)}`);
  if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
  if (!message.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
  return true;
}
