import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCpioNewc } from '../../../src/qemu/guests/cpio-newc.js';

/** Reads a newc archive back (a reference reader for the test only). */
function readNewc(buf: Buffer): { name: string; mode: number; rdev: [number, number]; data: Buffer }[] {
  const out = [];
  let off = 0;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701');
    const f = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, size, rmaj, rmin, namesize] = [f(1), f(6), f(9), f(10), f(11)];
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    off += 110 + namesize;
    off += (4 - (off % 4)) % 4;
    const data = buf.subarray(off, off + size);
    off += size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, rdev: [rmaj, rmin] as [number, number], data });
  }
}

test('files, directories, symlinks and device nodes round-trip through a newc archive', () => {
  const archive = buildCpioNewc([
    { kind: 'dir', path: '/bin' },
    { kind: 'file', path: 'bin/x', data: Buffer.from('hello'), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'char-device', path: 'dev/console', major: 5, minor: 1 },
  ]);
  assert.equal(archive.length % 4, 0);
  const entries = readNewc(archive);
  assert.deepEqual(entries.map((e) => e.name), ['bin', 'bin/x', 'bin/sh', 'dev/console']);
  assert.equal(entries[0].mode, 0o040755);
  assert.equal(entries[1].mode, 0o100755);
  assert.equal(entries[1].data.toString(), 'hello');
  assert.equal(entries[2].mode & 0o170000, 0o120000);
  assert.equal(entries[2].data.toString(), 'busybox');
  assert.deepEqual([entries[3].mode, entries[3].rdev], [0o020600, [5, 1]]);
});
