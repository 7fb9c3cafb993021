/** Reading a pre-shared key from a file (--key-file). */
import { readFileSync, statSync } from 'node:fs';
import { LivemigError } from '../../core/index.js';
import { validateKey } from './hmac-handshake.js';

/** Largest key file read, in bytes: a key is short; anything bigger is the wrong file. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * The key held in `path`: its bytes as they are (binary or text alike; a trailing newline is part
 * of the key, so both sides must use the same file). Throws LIVEMIG_E_INVALID_OPTION naming the file
 * when it cannot be read, is empty, shorter than 16 bytes or larger than 4 KiB.
 */
export function readKeyFile(path: string): Uint8Array {
  let bytes: Buffer;
  try {
    const size = statSync(path).size;
    if (size > MAX_KEY_FILE_BYTES) {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --key-file ${path} to hold a key of at most ${MAX_KEY_FILE_BYTES} bytes, it has ${size}`, { phase: 'cli' });
    }
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof LivemigError) throw err;
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Could not read --key-file ${path}: ${(err as Error).message}`, { phase: 'cli', cause: err });
  }
  try {
    return validateKey(new Uint8Array(bytes));
  } catch (err) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `--key-file ${path}: ${(err as Error).message}`, { phase: 'cli' });
  }
}
