/** `--codec zstd | zstd-delta` and `--zstd-level` through the CLI options and the PageEncoder. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, isLivemigError } from '../../src/core/index.js';
import { createPageCache } from '../../src/cache/index.js';
import { CODEC_IDS, getCodecById } from '../../src/codec/index.js';
import { PageEncoder, MIGRATION_CODECS } from '../../src/engine/index.js';
import { sourceConfig } from '../../src/cli/options.js';
import { makePageSet } from '../helpers/pages.js';

test('--zstd-level defaults to 1, accepts 1..19 and -7..-1, refuses 0 and out-of-range values', () => {
  assert.equal(sourceConfig({}).zstdLevel, 1);
  assert.equal(sourceConfig({ 'zstd-level': '19' }).zstdLevel, 19);
  assert.equal(sourceConfig({ 'zstd-level': '-7', codec: 'zstd-delta' }).zstdLevel, -7);
  assert.equal(sourceConfig({ codec: 'zstd' }).codec, 'zstd');
  for (const bad of ['0', '20', '-8', '1.5', 'x']) {
    assert.throws(() => sourceConfig({ 'zstd-level': bad }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION') && /--zstd-level/.test(e.message), bad);
  }
  assert.ok(MIGRATION_CODECS.includes('zstd') && MIGRATION_CODECS.includes('zstd-delta'));
});

test('PageEncoder zstd-delta: full pages go as zstd, re-dirtied pages as zstd-delta, unchanged ones not at all', () => {
  const set = makePageSet('delta5', 8, 3);
  const cache = createPageCache('2way', { capacityBytes: 64 * PAGE_SIZE });
  const enc = new PageEncoder('zstd-delta', cache, PAGE_SIZE, 8, { zstdLevel: 3 });
  assert.equal(enc.usesCache, true);
  const out = new Uint8Array(2 * PAGE_SIZE);
  const dest = set.olds!.map(() => new Uint8Array(PAGE_SIZE));
  const send = (k: number, page: Uint8Array, round: number): number | null => {
    const r = enc.encode(k, page, round, out);
    if (r === null) return null;
    getCodecById(r.codecId).decode(out.subarray(0, r.length), dest[k]);
    return r.codecId;
  };
  for (let k = 0; k < 8; k++) assert.equal(send(k, set.olds![k], 0), CODEC_IDS.zstd);
  for (let k = 0; k < 8; k++) assert.equal(send(k, set.pages[k], 1), CODEC_IDS['zstd-delta']);
  for (let k = 0; k < 8; k++) assert.equal(send(k, set.pages[k], 2), null);
  for (let k = 0; k < 8; k++) assert.deepEqual(dest[k], set.pages[k]);
  assert.equal(enc.counters.unchangedPages, 8);
});

test('PageEncoder zstd uses no cache and passes the level through (a bad level is refused)', () => {
  const cache = createPageCache('2way', { capacityBytes: 64 * PAGE_SIZE });
  const enc = new PageEncoder('zstd', cache, PAGE_SIZE, 8);
  assert.equal(enc.usesCache, false);
  const page = makePageSet('text', 1, 1).pages[0];
  const r = enc.encode(0, page, 0, new Uint8Array(2 * PAGE_SIZE));
  assert.equal(r?.codecId, CODEC_IDS.zstd);
  assert.throws(() => new PageEncoder('zstd', null, PAGE_SIZE, 8, { zstdLevel: 42 }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  assert.throws(() => new PageEncoder('zstd-delta', cache, PAGE_SIZE, 8, { zstdLevel: 0 }), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
});
