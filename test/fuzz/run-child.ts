/**
 * Runs the fuzz harness for one codec in a child process with a watchdog: a decoder that hangs,
 * even inside native code, is killed and reported with the case it was stuck on.
 */

import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzResult } from './harness.js';

/** Fuzzes `codec` for `cases` cases in a child; rejects after `timeoutMs` naming the stuck case. */
export function fuzzInChild(codec: string, cases: number, seed: number, timeoutMs: number): Promise<FuzzResult> {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-fuzz-'));
  const progressFile = join(dir, 'progress');
  const child = fork(fileURLToPath(new URL('./fuzz-child.js', import.meta.url)), [JSON.stringify({ codec, cases, seed }), progressFile], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const stuckAt = (): string => {
    try {
      return String(new Int32Array(new Uint8Array(readFileSync(progressFile)).buffer, 0, 1)[0]);
    } catch {
      return 'unknown';
    }
  };
  return new Promise<FuzzResult>((resolve, reject) => {
    let result: FuzzResult | undefined;
    const timer = setTimeout(() => {
      const at = stuckAt();
      child.kill('SIGKILL');
      reject(new Error(`${codec}: no answer within ${timeoutMs} ms, stuck at case ${at} (seed ${seed}): a hang. ` +
        `Show its input with: node dist/test/fuzz/run-long.js --codec ${codec} --seed ${seed} --show-case ${at}`));
    }, timeoutMs);
    child.on('message', (m: FuzzResult) => {
      result = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else if (signal !== 'SIGKILL') reject(new Error(`${codec}: fuzz child died (code ${code}, signal ${signal}) at case ${stuckAt()} (seed ${seed})`));
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}
