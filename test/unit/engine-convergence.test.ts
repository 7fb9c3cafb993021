import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConvergencePolicy, RateMeter, TokenBucket, mergeSorted } from '../../src/engine/index.js';
import { FakeClock, LivemigError } from '../../src/core/index.js';

const obs = (o: Partial<Parameters<ConvergencePolicy['decide']>[0]>) => ({
  round: 1, elapsedMs: 1000, bandwidthBytesPerSec: 125e6, dirtyPages: 1000, wireBytesPerPage: 4096, wireBytesInRound: 100e6, ...o,
});

test('stops and copies once the compressed remainder fits the downtime limit at the measured bandwidth', () => {
  const p = new ConvergencePolicy({ downtimeLimitMs: 300 });
  // 26214 hot pages at 4096 B raw: 107 MB at 125 MB/s is 859 ms: over the limit.
  const raw = p.decide(obs({ dirtyPages: 26214, wireBytesPerPage: 4096 }));
  assert.equal(raw.action, 'continue');
  assert.ok(Math.abs(raw.expectedDowntimeMs - 858.96) < 0.1);
  // The same pages as 60-byte deltas: 1.6 MB, 12.6 ms: converged.
  const delta = p.decide(obs({ dirtyPages: 26214, wireBytesPerPage: 60 }));
  assert.equal(delta.action, 'stop-copy');
  assert.ok(delta.expectedDowntimeMs < 13);
});

test('an empty dirty set converges even before bandwidth is known', () => {
  const p = new ConvergencePolicy();
  assert.equal(p.decide(obs({ dirtyPages: 0, bandwidthBytesPerSec: 0 })).action, 'stop-copy');
  assert.equal(p.decide(obs({ dirtyPages: 5, bandwidthBytesPerSec: 0 })).action, 'continue');
});

test('the round limit forces stop-and-copy, or aborts, as configured', () => {
  const force = new ConvergencePolicy({ maxRounds: 3 });
  assert.equal(force.decide(obs({ round: 1, dirtyPages: 1e6 })).action, 'continue');
  const d = force.decide(obs({ round: 2, dirtyPages: 1e6 }));
  assert.equal(d.action, 'force-stop-copy');
  assert.match(d.reason, /reached 3 rounds/);
  const abort = new ConvergencePolicy({ maxRounds: 3, onLimit: 'abort' });
  assert.equal(abort.decide(obs({ round: 2, dirtyPages: 1e6 })).action, 'abort');
});

test('the time limit applies like the round limit', () => {
  const p = new ConvergencePolicy({ maxTotalMs: 5000 });
  assert.equal(p.decide(obs({ elapsedMs: 4999, dirtyPages: 1e6 })).action, 'continue');
  assert.equal(p.decide(obs({ elapsedMs: 5000, dirtyPages: 1e6 })).action, 'force-stop-copy');
});

test('auto-converge throttles after two high-dirty periods in a row, then steps up to the maximum', () => {
  const p = new ConvergencePolicy({ maxRounds: 1000 });
  const high = obs({ dirtyPages: 100_000, wireBytesInRound: 100e6 }); // 410 MB dirty vs 100 MB sent
  assert.equal(p.decide({ ...high, round: 1 }).throttle, 0);
  assert.equal(p.decide({ ...high, round: 2 }).throttle, 0.2);
  assert.equal(p.decide({ ...high, round: 3 }).throttle, 0.2);
  assert.ok(Math.abs(p.decide({ ...high, round: 4 }).throttle - 0.3) < 1e-9);
  for (let r = 5; r < 60; r++) p.decide({ ...high, round: r });
  assert.equal(p.throttle, 0.99);
  // A low-dirty period resets the count without lowering the throttle.
  assert.equal(p.decide(obs({ round: 61, dirtyPages: 10_000, wireBytesInRound: 1e9 })).throttle, 0.99);
});

test('auto-converge stays off when disabled', () => {
  const p = new ConvergencePolicy({ autoConverge: false, maxRounds: 1000 });
  for (let r = 1; r < 10; r++) p.decide(obs({ round: r, dirtyPages: 100_000 }));
  assert.equal(p.throttle, 0);
});

test('invalid policy options are refused with precise messages', () => {
  assert.throws(() => new ConvergencePolicy({ downtimeLimitMs: 0 }), (e: unknown) => e instanceof LivemigError && /downtimeLimitMs/.test(e.message));
  assert.throws(() => new ConvergencePolicy({ maxRounds: 1.5 }), /maxRounds/);
  assert.throws(() => new ConvergencePolicy({ onLimit: 'maybe' as never }), /onLimit/);
});

test('the rate meter measures bytes per second over its window under a fake clock', () => {
  const clock = new FakeClock();
  const m = new RateMeter(clock, 1000);
  m.record(0);
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    m.record(10e6); // 100 MB/s
  }
  assert.ok(Math.abs(m.bytesPerSec() - 100e6) / 100e6 < 0.11, `got ${m.bytesPerSec()}`);
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    m.record(1e6); // drops to 10 MB/s; the window forgets the fast past
  }
  assert.ok(Math.abs(m.bytesPerSec() - 10e6) / 10e6 < 0.11, `got ${m.bytesPerSec()}`);
  assert.equal(m.totalBytes, 220e6);
});

test('the token bucket holds a sender to its rate', async () => {
  const clock = new FakeClock();
  const b = new TokenBucket(clock, 125e6, 1e6);
  const start = clock.now();
  for (let i = 0; i < 250; i++) await b.take(1e6); // 250 MB
  const seconds = (clock.now() - start) / 1000;
  assert.ok(seconds > 1.98 && seconds < 2.01, `took ${seconds} s for 250 MB at 125 MB/s`);
  const free = new TokenBucket(clock, 0);
  const t = clock.now();
  await free.take(1e12);
  assert.equal(clock.now(), t);
});

test('mergeSorted unions two ascending page lists without duplicates', () => {
  const r = mergeSorted(Uint32Array.of(1, 4, 9), Uint32Array.of(0, 4, 10));
  assert.deepEqual(Array.from(r), [0, 1, 4, 9, 10]);
  assert.deepEqual(Array.from(mergeSorted(new Uint32Array(0), Uint32Array.of(3))), [3]);
});

test('the switchover round trip counts toward the expected downtime', () => {
  const p = new ConvergencePolicy({ downtimeLimitMs: 300 });
  // 250 ms of transfer fits alone, but not with a 60 ms verdict round trip.
  const o = obs({ dirtyPages: 1000, wireBytesPerPage: 31250, bandwidthBytesPerSec: 125e6 });
  assert.equal(p.decide(o).action, 'stop-copy');
  const d = p.decide({ ...o, switchoverMs: 60 });
  assert.equal(d.action, 'continue');
  assert.ok(Math.abs(d.expectedDowntimeMs - 310) < 1e-6);
});

test('the page encoder ages its cache once per round, so the direct cache accepts new pages after two syncs', async () => {
  const { PageEncoder } = await import('../../src/engine/index.js');
  const { createPageCache } = await import('../../src/cache/index.js');
  const cache = createPageCache('direct', { capacityBytes: 4 * 4096 });
  const enc = new PageEncoder('xbzrle', cache, 4096, 64);
  const page = new Uint8Array(4096).fill(7);
  const out = new Uint8Array(8192);
  enc.encode(0, page, 0, out); // slot 0 holds page 0 (age 0)
  enc.encode(4, page, 1, out); // same slot, synced once: refused
  assert.equal(cache.stats().rejected, 1);
  enc.encode(4, page, 2, out); // two syncs later: page 0's slot may be taken
  assert.equal(cache.stats().rejected, 1);
  assert.ok(cache.lookup(4) !== null);
});
