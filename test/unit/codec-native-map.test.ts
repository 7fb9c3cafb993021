/**
 * The addon's mapSharedFile, which direct RAM uses to write into a destination QEMU's RAM file:
 * writes through the mapping reach the file, and bad paths or lengths are clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeBinding } from '../../src/codec/native.js';

test('mapSharedFile maps a file shared: bytes written through it are in the file, and it sees the file\'s bytes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-map-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ram');
  const initial = Buffer.alloc(3 * 4096);
  initial.write('already here', 4096);
  writeFileSync(file, initial);
  const mem = new Uint8Array(nativeBinding().mapSharedFile(file, 2 * 4096));
  assert.equal(mem.length, 2 * 4096);
  assert.equal(Buffer.from(mem.subarray(4096, 4096 + 12)).toString(), 'already here');
  mem.set(Buffer.from('written through the map'), 100);
  assert.equal(readFileSync(file).subarray(100, 123).toString(), 'written through the map');
});

test('mapSharedFile refuses a missing file, a directory and a file shorter than asked, with LIVEMIG_E_SHARED_RAM', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-map-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const short = join(dir, 'short');
  writeFileSync(short, Buffer.alloc(4096));
  const map = (path: string, n: number) => () => nativeBinding().mapSharedFile(path, n);
  const fails = (why: RegExp) => (err: Error & { code?: string }) => err.code === 'LIVEMIG_E_SHARED_RAM' && why.test(err.message);
  assert.throws(map(join(dir, 'nope'), 4096), fails(/No such file/));
  assert.throws(map(dir, 4096), fails(/directory/));
  assert.throws(map(short, 8192), fails(/shorter than the length/));
  assert.throws(map(short, 0), /length must be a positive integer/);
  assert.throws(map('', 4096), /path must be a non-empty string/);
});
