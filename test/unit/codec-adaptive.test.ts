import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, isLivemigError } from '../../src/core/index.js';
import { adaptiveCodec, encodeBest, getCodec } from '../../src/codec/index.js';
import { PAGE_CLASSES, makePageSet } from '../helpers/pages.js';

const ORDER_DELTA = ['zero', 'xbzrle', 'lz4-delta', 'lz4', 'raw'];
const ORDER_FULL = ['zero', 'lz4', 'raw'];

/** The smallest encoding by trying each candidate on its own; ties go to the earlier name. */
function expectedBest(old: Uint8Array | null, page: Uint8Array): { name: string; length: number } {
  let best = { name: '', length: Infinity };
  for (const name of old === null ? ORDER_FULL : ORDER_DELTA) {
    const n = getCodec(name).encode(old, page, new Uint8Array(PAGE_SIZE + 64));
    if (n !== null && n < best.length) best = { name, length: n };
  }
  return best;
}

test('encodeBest keeps the smallest applicable encoding (ties to the earlier codec) and writes that codec\'s own payload', () => {
  const out = new Uint8Array(PAGE_SIZE);
  const scratch = new Uint8Array(PAGE_SIZE);
  const seen = new Set<string>();
  for (const kind of PAGE_CLASSES) {
    const set = makePageSet(kind, 16, 9);
    for (let k = 0; k < set.pages.length; k++) {
      for (const old of set.olds ? [set.olds[k], null] : [null, set.pages[(k + 1) % 16]]) {
        const page = set.pages[k];
        const choice = encodeBest(old, page, out, scratch);
        const want = expectedBest(old, page);
        assert.equal(choice.length, want.length, `${kind}#${k}`);
        assert.equal(choice.codec.name, want.name, `${kind}#${k}`);
        seen.add(choice.codec.name);
        const target = old === null ? new Uint8Array(PAGE_SIZE).fill(1) : Uint8Array.from(old);
        choice.codec.decode(out.subarray(0, choice.length), target);
        assert.deepEqual(target, page, `${kind}#${k} via ${choice.codec.name}`);
      }
    }
  }
  for (const name of ['zero', 'xbzrle', 'raw']) assert.ok(seen.has(name), `${name} should win somewhere`);
});

test('encodeBest: a zero page goes as zero even with an old page; an unchanged page as 0 bytes of xbzrle', () => {
  const out = new Uint8Array(PAGE_SIZE);
  const scratch = new Uint8Array(PAGE_SIZE);
  const zero = new Uint8Array(PAGE_SIZE);
  assert.equal(encodeBest(zero, zero, out, scratch).codec.name, 'zero');
  const page = makePageSet('binary', 1, 2).pages[0];
  const choice = encodeBest(Uint8Array.from(page), page, out, scratch);
  assert.equal(choice.codec.name, 'xbzrle');
  assert.equal(choice.length, 0);
});

test('encodeBest refuses an out smaller than a page, since raw must always fit', () => {
  const page = new Uint8Array(PAGE_SIZE).fill(1);
  assert.throws(() => encodeBest(null, page, new Uint8Array(PAGE_SIZE - 1), new Uint8Array(PAGE_SIZE)), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
});

test('adaptive as a PageCodec prefixes the inner codec id and round-trips by itself', () => {
  const set = makePageSet('delta5', 4, 3);
  const out = new Uint8Array(PAGE_SIZE + 1);
  const n = adaptiveCodec.encode(set.olds![0], set.pages[0], out);
  assert.ok(n !== null);
  assert.equal(out[0], getCodec('xbzrle').id);
  const target = Uint8Array.from(set.olds![0]);
  adaptiveCodec.decode(out.subarray(0, n), target);
  assert.deepEqual(target, set.pages[0]);
  // Random data needs the id byte plus a raw page.
  const random = makePageSet('random', 1, 3).pages[0];
  assert.equal(adaptiveCodec.encode(null, random, new Uint8Array(PAGE_SIZE)), null);
  assert.equal(adaptiveCodec.encode(null, random, new Uint8Array(PAGE_SIZE + 1)), PAGE_SIZE + 1);
});

test('adaptive rejects an empty payload, a nested adaptive id and an unknown inner id', () => {
  const page = new Uint8Array(PAGE_SIZE);
  const cases: Array<[Uint8Array, string]> = [
    [new Uint8Array(0), 'LIVEMIG_E_CODEC_TRUNCATED'],
    [Uint8Array.of(adaptiveCodec.id, 0), 'LIVEMIG_E_CODEC_MALFORMED'],
    [Uint8Array.of(200), 'LIVEMIG_E_CODEC_UNKNOWN'],
  ];
  for (const [payload, code] of cases) {
    assert.throws(() => adaptiveCodec.decode(payload, page), (e: unknown) => isLivemigError(e) && e.code === code);
  }
});
