/**
 * Multipath schedulers and barrier delivery under a slowed subflow: round-robin spreads messages
 * evenly; least-queued and weighted move traffic off a throttled subflow; a barrier is never
 * overtaken, although messages between barriers do overtake each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { KiB } from '../../src/core/index.js';
import { LeastQueuedScheduler, RoundRobinScheduler, WeightedScheduler, type SchedulerName, type SubflowView } from '../../src/transport/index.js';
import { tagsOf } from '../transport/helpers.js';
import { checkNumbered, multipathPair, numbered } from './transport-multipath-kit.js';

/** Throttles a socket's sending: corked (held in userland) for `offMs` of every `periodMs`. */
function throttle(socket: Socket, periodMs: number, offMs: number): () => void {
  let corked = false;
  let timer: NodeJS.Timeout | undefined;
  const step = (): void => {
    if (corked) {
      socket.uncork();
      corked = false;
      timer = setTimeout(step, periodMs - offMs);
    } else {
      socket.cork();
      corked = true;
      timer = setTimeout(step, offMs);
    }
  };
  step();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    if (corked) socket.uncork();
  };
}

const view = (id: number, queuedBytes: number, rateBytesPerSec: number): SubflowView => ({ id, label: `s${id}`, queuedBytes, rateBytesPerSec, scheduledBytes: 0 });

test('schedulers (pure): round-robin cycles, least-queued takes the shortest drain time, weighted follows rates', () => {
  const rr = new RoundRobinScheduler();
  const three = [view(0, 0, 0), view(1, 0, 0), view(2, 0, 0)];
  assert.deepEqual([0, 1, 2, 3, 4].map(() => rr.pick(three).id), [0, 1, 2, 0, 1]);
  const lq = new LeastQueuedScheduler();
  // 1 MB queued at 100 MB/s drains before 200 KB at 10 MB/s.
  assert.equal(lq.pick([view(0, 1_000_000, 100e6), view(1, 200_000, 10e6)], 1000).id, 0);
  assert.equal(lq.pick([view(0, 3_000_000, 100e6), view(1, 200_000, 10e6)], 1000).id, 1);
  const w = new WeightedScheduler();
  const counts = [0, 0];
  for (let i = 0; i < 400; i++) counts[w.pick([view(0, 0, 300e6), view(1, 0, 100e6)], 1000).id]++;
  assert.ok(Math.abs(counts[0] - 300) <= 2 && Math.abs(counts[1] - 100) <= 2, `weighted 3:1 gave ${counts}`);
});

async function distribution(scheduler: SchedulerName, throttled: boolean): Promise<number[]> {
  const pair = await multipathPair(3, { scheduler, subflowWriteHighWaterBytes: 128 * KiB });
  const { a, b } = pair;
  const stop = throttled ? throttle(pair.aSockets.get(0) as Socket, 50, 45) : () => undefined;
  try {
    // Long enough for a dozen rate samples (50 ms each) after the start.
    const count = throttled ? 4000 : 1200;
    const producer = (async () => {
      for (let i = 0; i < count; i++) await a.send(numbered(i, 16 * KiB));
      await a.close();
    })();
    let n = 0;
    for await (const m of b) {
      checkNumbered(m);
      n++;
    }
    await producer;
    assert.equal(n, count);
    return a.stats().paths.map((p) => p.messagesSent);
  } finally {
    stop();
    await pair.teardown();
  }
}

test('round-robin sends about the same number of messages on every subflow', { timeout: 60_000 }, async (t) => {
  const counts = await distribution('round-robin', false);
  t.diagnostic(`messages per subflow: ${counts.join(' / ')}`);
  const mean = counts.reduce((x, y) => x + y, 0) / counts.length;
  for (const c of counts) assert.ok(Math.abs(c - mean) <= 0.2 * mean, `round-robin gave ${counts}`);
});

for (const scheduler of ['least-queued', 'weighted'] as const) {
  test(`${scheduler} sends less on a throttled subflow (congestion equality)`, { timeout: 60_000 }, async (t) => {
    const counts = await distribution(scheduler, true);
    t.diagnostic(`messages per subflow, subflow 0 throttled (corked 45 of every 50 ms): ${counts.join(' / ')}`);
    const others = (counts[1] + counts[2]) / 2;
    assert.ok(counts[0] < 0.5 * others, `${scheduler} gave ${counts}`);
  });
}

for (const ordering of ['barrier', 'strict'] as const) {
  test(`${ordering} mode: with one subflow slowed, messages after a barrier never arrive before it`, { timeout: 60_000 }, async (t) => {
    const pair = await multipathPair(3, { ordering, scheduler: 'round-robin' });
    const { a, b } = pair;
    const stop = throttle(pair.aSockets.get(1) as Socket, 40, 30);
    try {
      const rounds = 12;
      const perRound = 150;
      const producer = (async () => {
        for (let r = 0; r < rounds; r++) {
          for (let s = 0; s < perRound; s++) await a.send(numbered(s, 2 * KiB + (s % 7) * 1000, r), { barrier: r > 0 && s === 0 });
        }
        await a.close();
      })();
      const got: Array<{ round: number; seq: number }> = [];
      for await (const m of b) {
        checkNumbered(m);
        got.push(tagsOf(m));
      }
      await producer;
      assert.equal(got.length, rounds * perRound);
      let overtakes = 0;
      for (let i = 1; i < got.length; i++) {
        const [p, c] = [got[i - 1], got[i]];
        assert.ok(c.round >= p.round, `round ${c.round} seq ${c.seq} arrived after round ${p.round}`);
        if (c.round > p.round) assert.equal(c.seq, 0, `round ${c.round} began with seq ${c.seq}, before its barrier`);
        if (c.round === p.round && c.seq < p.seq) overtakes++;
      }
      t.diagnostic(`${overtakes} messages overtook an earlier one of their round`);
      // Barrier mode lets a slow subflow's messages be overtaken; strict never does.
      if (ordering === 'barrier') assert.ok(overtakes > 0, 'nothing overtook: the slowed subflow held everything up');
      else assert.equal(overtakes, 0);
    } finally {
      stop();
      await pair.teardown();
    }
  });
}
