import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxGuestAppend, parseWorkloadLines } from '../../../src/qemu/guests/workload-log.js';

test('status lines are parsed out of a serial log with kernel noise and CRLF', () => {
  const log = '[    2.3] Run /init\r\nLMW ready mib=48 pages=12288 hot=3072\r\nLMW t=1 mode=hotset pass=559 passes/s=558.4 errors=0\r\nLMW t=2 mode=hotset pass=1121 passes/s=561.5 errors=3\r\n';
  assert.deepEqual(parseWorkloadLines(log), [
    { t: 1, mode: 'hotset', pass: 559, passesPerSec: 558.4, errors: 0 },
    { t: 2, mode: 'hotset', pass: 1121, passesPerSec: 561.5, errors: 3 },
  ]);
});

test('the kernel command line carries the workload spec the guest init reads', () => {
  assert.match(linuxGuestAppend({ mode: 'memstress', mib: 64 }), /(^| )lmw=memstress,64,10( |$)/);
  assert.match(linuxGuestAppend(), /console=ttyS0/);
});
