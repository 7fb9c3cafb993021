import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ERROR_CODES, ERROR_CODE_NUMBERS, LivemigError, errorCodeFromNumber, isLivemigError, type ErrorCode,
} from '../../src/core/index.js';

test('every error code is LIVEMIG_E_*, has a phase and summary, and round-trips through its number', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  assert.ok(codes.length > 10);
  const numbers = new Set<number>();
  for (const code of codes) {
    assert.match(code, /^LIVEMIG_E_[A-Z0-9_]+$/);
    const err = new LivemigError(code, 'what to do');
    assert.equal(err.code, code);
    assert.equal(err.phase, ERROR_CODES[code].phase);
    assert.ok(ERROR_CODES[code].summary.length > 10, `${code} needs a summary`);
    assert.ok(isLivemigError(err, code));
    const n = ERROR_CODE_NUMBERS[code];
    assert.ok(!numbers.has(n), `number ${n} used twice`);
    numbers.add(n);
    assert.equal(errorCodeFromNumber(n), code);
  }
  assert.equal(errorCodeFromNumber(0), undefined);
  assert.equal(errorCodeFromNumber(codes.length + 1), undefined);
});

test('a LivemigError keeps an explicit phase and its cause', () => {
  const cause = new Error('socket hang up');
  const err = new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'peer went away', { phase: 'stop-copy', cause });
  assert.equal(err.phase, 'stop-copy');
  assert.equal(err.cause, cause);
  assert.ok(err instanceof Error);
  assert.equal(isLivemigError(new Error('x')), false);
});
