import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostBusyCpuMs, processCpuMs, startHostCpuSpan } from '../../src/core/host-cpu.js';

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

test('processCpuMs grows with this process\'s own work and is null for a process that does not exist', () => {
  const before = processCpuMs(process.pid);
  assert.equal(typeof before, 'number', 'this suite runs on Linux, where /proc/<pid>/stat exists');
  const until = performance.now() + 200;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const after = processCpuMs(process.pid)!;
  assert.ok(x > 0 && after - before! >= 150, `${after - before!} ms of CPU over a 200 ms spin`);
  // pid_max is at most 2^22 on Linux, so this pid cannot exist.
  assert.equal(processCpuMs(2 ** 22 + 1), null);
});
