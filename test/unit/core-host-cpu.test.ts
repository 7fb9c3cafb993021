import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostBusyCpuMs, startHostCpuSpan } from '../../src/core/host-cpu.js';

test('a span of busy work on this host shows busy CPU of about its length', () => {
  assert.equal(typeof hostBusyCpuMs(), 'number', 'this suite runs on Linux, where /proc/stat exists');
  const span = startHostCpuSpan();
  const until = performance.now() + 300;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const r = span.end();
  assert.ok(r && x > 0);
  assert.ok(r.wallMs >= 300);
  // One core spun the whole span; ticks are 10 ms and other processes only add.
  assert.ok(r.busyMs >= 250, `busy ${r.busyMs} ms over ${r.wallMs.toFixed(0)} ms`);
});
