import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecNames } from '../../src/codec/index.js';
import { fuzzInChild } from './run-child.js';

const CASES = 100_000;
const SEED = 20240607;

for (const codec of codecNames()) {
  test(`${codec} decoder: ${CASES} random and mutated payloads only ever decode or raise LivemigError, inside the page, without hanging`, async () => {
    const result = await fuzzInChild(codec, CASES, SEED, 60_000);
    assert.deepEqual(result.failures, []);
    assert.equal(result.cases, CASES);
    // A fuzzer that never gets past the first check proves little: both outcomes must occur.
    assert.ok(result.accepted > 0 && result.rejected > 0, `${codec}: accepted ${result.accepted}, rejected ${result.rejected}`);
  });
}
