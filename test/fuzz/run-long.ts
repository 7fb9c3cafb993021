/**
 * Long fuzzing run over every registered decoder (or one):
 *
 *   node dist/test/fuzz/run-long.js [--cases 1000000] [--seed N] [--codec xbzrle]
 *   node dist/test/fuzz/run-long.js --codec lz4 --seed N --show-case K    (print case K's input)
 *
 * Prints cases/s per decoder; exits 1 when a decoder fails or hangs.
 */

import { parseArgs } from 'node:util';
import { codecNames } from '../../src/codec/index.js';
import { fuzzDecoder } from './harness.js';
import { fuzzInChild } from './run-child.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      codec: { type: 'string' },
      'show-case': { type: 'string' },
    },
  });
  const cases = Number(values.cases);
  const seed = Number(values.seed);
  if (!Number.isInteger(cases) || cases <= 0) throw new Error(`Expected --cases to be a positive integer, got '${values.cases}'`);
  if (!Number.isInteger(seed)) throw new Error(`Expected --seed to be an integer, got '${values.seed}'`);
  const codecs = values.codec ? [values.codec] : codecNames();
  if (values['show-case'] !== undefined) {
    const showCase = Number(values['show-case']);
    for (const codec of codecs) {
      const r = fuzzDecoder({ codec, cases: showCase + 1, seed, showCase });
      console.log(`${codec} seed ${seed} case ${showCase}\ninput: ${r.shown?.input}\nstart page: ${r.shown?.start}`);
    }
    return 0;
  }
  console.log(`fuzzing ${codecs.join(', ')}: ${cases} cases each, seed ${seed}`);
  let failed = false;
  for (const codec of codecs) {
    try {
      // Generous: ~1 ms per case before a run counts as hung.
      const r = await fuzzInChild(codec, cases, seed, Math.max(60_000, cases));
      const rate = Math.round(r.cases / (r.elapsedMs / 1000));
      console.log(`${codec.padEnd(10)} ${String(r.cases).padStart(9)} cases  ${String(rate).padStart(8)} cases/s  accepted ${r.accepted}, rejected ${r.rejected}${r.failures.length ? '  FAILED' : ''}`);
      for (const f of r.failures) console.log(`  ${f}`);
      failed ||= r.failures.length > 0;
    } catch (err) {
      console.log(`${codec.padEnd(10)} FAILED: ${(err as Error).message}`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
