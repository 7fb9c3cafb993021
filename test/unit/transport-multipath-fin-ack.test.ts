/**
 * The peer's FIN is acknowledged before the consumer's loop ends, so a process that exits as soon
 * as its loop ends (bench/paths-peer.ts did) does not leave the other side's close() waiting for an
 * ACK that never comes. Regression test for a fix in multipath-channel.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multipathPair, numbered } from './transport-multipath-kit.js';

test('a multipath peer that drops its subflows right after its loop ends still lets the other side close', { timeout: 20_000 }, async () => {
  // A short rejoin timeout: without the ACK, b's close() fails after it instead of hanging for 5 s.
  const pair = await multipathPair(2, { rejoinTimeoutMs: 500, rejoinIntervalMs: 10_000 });
  try {
    const { a, b } = pair;
    await a.send(numbered(0, 4096));
    await a.close();
    for await (const _ of b) { /* one message, then a's FIN */ }
    const bClosed = b.close();
    bClosed.catch(() => undefined);
    for await (const _ of a) { /* nothing: b only closes */ }
    // As a process exit would: every socket of a goes at once, in the same turn as the loop's end.
    for (const s of pair.aSockets.values()) s.destroy();
    await assert.doesNotReject(bClosed, 'b.close() must resolve: a acknowledged b\'s FIN before its loop ended');
  } finally {
    await pair.teardown();
  }
});
