import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isLivemigError } from '../../src/core/index.js';
import { PageHashTable, hashPage, memoryDigest } from '../../src/guest/index.js';

const P = 4096;

test('a page hash table kept up to date has the root memoryDigest computes from scratch', () => {
  const memory = new Uint8Array(randomBytes(64 * P));
  memory.fill(0, 5 * P, 9 * P);
  const table = new PageHashTable(64);
  for (let i = 63; i >= 0; i--) table.set(i, memory.subarray(i * P, (i + 1) * P));
  const digest = memoryDigest(memory, P);
  assert.match(digest, /^[0-9a-f]{16}$/);
  assert.equal(table.root(), digest);
  assert.equal(PageHashTable.fromMemory(memory, P).root(), digest);
  assert.equal(table.get(7), hashPage(new Uint8Array(P)));
});

test('the digest changes when one byte changes, and the table follows once the page is set again', () => {
  const memory = new Uint8Array(randomBytes(32 * P));
  const table = PageHashTable.fromMemory(memory, P);
  const before = table.root();
  memory[17 * P + 4095] ^= 1;
  const after = memoryDigest(memory, P);
  assert.notEqual(after, before);
  assert.equal(table.root(), before, 'the table only knows what it was told');
  table.set(17, memory.subarray(17 * P, 18 * P));
  assert.equal(table.root(), after);
});

test('the digest covers the geometry and order of pages', () => {
  const memory = new Uint8Array(randomBytes(8 * P));
  assert.notEqual(memoryDigest(memory, P), memoryDigest(memory, P / 2));
  const swapped = memory.slice();
  swapped.set(memory.subarray(0, P), P);
  swapped.set(memory.subarray(P, 2 * P), 0);
  assert.notEqual(memoryDigest(swapped, P), memoryDigest(memory, P));
  assert.throws(() => memoryDigest(new Uint8Array(P + 1), P), (e) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  assert.throws(() => new PageHashTable(4).set(4, new Uint8Array(P)), (e) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
});
