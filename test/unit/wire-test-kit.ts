/** Shared fixtures of the wire tests: a valid Hello and an assertion on LivemigError codes. */

import assert from 'node:assert/strict';
import { isLivemigError, type ErrorCode } from '../../src/core/errors.js';
import type { Hello } from '../../src/wire/index.js';

/** Asserts that `fn` throws a LivemigError with `code` (and a message matching `message`). */
export function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLivemigError(err, code), `expected ${code}, got ${String(err)}`);
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

/** A fresh, valid Hello as a source would send it. */
export function sampleHello(): Hello {
  return {
    protocolVersion: 1,
    sessionId: 'mig-2024-01-01T00:00:00Z-1',
    codecs: ['lz4-delta', 'xbzrle', 'lz4', 'raw', 'zero'],
    pageSize: 4096,
    guest: { kind: 'synthetic', workload: 'hotset', memoryBytes: 1 << 30, pageSize: 4096, params: { 'hot-percent': 10, seed: 'abc' } },
    transport: 'multipath',
    maxFrameBytes: 4 << 20,
    features: ['auto-converge'],
  };
}
