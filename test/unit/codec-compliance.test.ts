/**
 * The PageCodec compliance suite: every registered codec runs the same contract tests.
 *
 * - encode returns a length within `out`, or null ("does not pay"); it never writes past `out`;
 * - a non-null encoding decodes back to the page, from the old page for delta codecs and from any
 *   garbage for full-page codecs;
 * - decode never writes outside `page` (neighbours hold canaries);
 * - a smaller `out` gives null or a (possibly different) encoding that still fits and decodes;
 * - malformed payloads raise LivemigError (the fuzz suite covers this in depth).
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, isLivemigError } from '../../src/core/index.js';
import { CODEC_IDS, codecNames, defaultCodecRegistry, getCodec, getCodecById, type PageCodec } from '../../src/codec/index.js';
import { Prng } from '../helpers/prng.js';
import { PAGE_CLASSES, assertCanariesIntact, guardedPage, makePageSet, type PageClass } from '../helpers/pages.js';

const PAGES_PER_CLASS = 24;
const OUT_GUARD = 32;
const GUARD_BYTE = 0xc3;

interface Case {
  kind: PageClass;
  index: number;
  old: Uint8Array | null;
  page: Uint8Array;
}

/** Pages of every class; delta codecs get the class's old pages, or the previous page of a full-page class. */
function casesFor(codec: PageCodec): Case[] {
  const cases: Case[] = [];
  for (const kind of PAGE_CLASSES) {
    const set = makePageSet(kind, PAGES_PER_CLASS, 5);
    for (let k = 0; k < set.pages.length; k++) {
      const old = set.olds ? set.olds[k] : codec.delta ? set.pages[(k + 1) % set.pages.length] : null;
      cases.push({ kind, index: k, old, page: set.pages[k] });
    }
  }
  return cases;
}

/** Encodes into an `outSize` window followed by guard bytes; checks the guard. */
function encodeGuarded(codec: PageCodec, c: Case, outSize: number): Uint8Array | null {
  const backing = new Uint8Array(outSize + OUT_GUARD).fill(GUARD_BYTE);
  const out = backing.subarray(0, outSize);
  const n = codec.encode(c.old, c.page, out);
  for (let k = outSize; k < backing.length; k++) {
    if (backing[k] !== GUARD_BYTE) assert.fail(`${codec.name} ${c.kind}#${c.index}: encode wrote past out (byte ${k - outSize})`);
  }
  if (n === null) return null;
  assert.ok(Number.isInteger(n) && n >= 0 && n <= outSize, `${codec.name} ${c.kind}#${c.index}: length ${n} outside 0..${outSize}`);
  return out.slice(0, n);
}

/** Decodes into a canary-guarded page that starts as the old page (delta) or garbage (full-page). */
function decodeGuarded(codec: PageCodec, c: Case, payload: Uint8Array): Uint8Array {
  const start = c.old ?? new Prng(c.index).bytes(c.page.length);
  const g = guardedPage(c.page.length, start);
  codec.decode(payload, g.page);
  assertCanariesIntact(g, `${codec.name} ${c.kind}#${c.index}`);
  return g.page;
}

test('the registry lists every codec name once, with the wire ids of CODEC_IDS', () => {
  assert.deepEqual(codecNames(), ['zero', 'raw', 'lz4', 'xbzrle', 'lz4-delta', 'adaptive', 'zstd', 'zstd-delta']);
  for (const name of codecNames()) {
    const codec = getCodec(name);
    assert.equal(codec.name, name);
    assert.equal(codec.id, CODEC_IDS[name]);
    assert.equal(getCodecById(codec.id), codec);
  }
});

test('unknown codec names and ids raise LIVEMIG_E_CODEC_UNKNOWN listing the known names', () => {
  for (const attempt of [() => getCodec('brotli'), () => getCodecById(99), () => getCodecById(-1)]) {
    assert.throws(attempt, (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_UNKNOWN') && /xbzrle/.test(e.message) && /lz4-delta/.test(e.message));
  }
});

for (const codec of defaultCodecRegistry.list()) {
  describe(`PageCodec compliance: ${codec.name}`, () => {
    const cases = casesFor(codec);

    test('every page of every class either does not pay (null) or round-trips exactly', () => {
      const encodedPerClass = new Map<PageClass, number>();
      for (const c of cases) {
        const payload = encodeGuarded(codec, c, PAGE_SIZE + 64);
        if (payload === null) continue;
        encodedPerClass.set(c.kind, (encodedPerClass.get(c.kind) ?? 0) + 1);
        const got = decodeGuarded(codec, c, payload);
        if (Buffer.compare(got, c.page) !== 0) assert.fail(`${codec.name} ${c.kind}#${c.index}: decoded page differs`);
      }
      // Each codec must actually handle the pages it exists for.
      const expectEncoded: Record<string, PageClass[]> = {
        zero: ['zero'],
        raw: [...PAGE_CLASSES],
        lz4: ['zero', 'text'],
        xbzrle: ['delta1', 'delta5', 'delta20', 'scatter5'],
        'lz4-delta': ['zero', 'delta1', 'delta5'],
        adaptive: [...PAGE_CLASSES],
        zstd: ['zero', 'text'],
        'zstd-delta': ['zero', 'delta1', 'delta5'],
      };
      for (const kind of expectEncoded[codec.name] ?? []) {
        assert.equal(encodedPerClass.get(kind), PAGES_PER_CLASS, `${codec.name} should encode every ${kind} page`);
      }
    });

    test('a smaller out gives null or a shorter encoding that still fits and round-trips', () => {
      const rng = new Prng(codec.id + 100);
      for (const c of cases) {
        const full = encodeGuarded(codec, c, PAGE_SIZE + 64);
        const limit = full === null ? rng.int(0, PAGE_SIZE) : rng.int(0, full.length + 1);
        const payload = encodeGuarded(codec, c, limit);
        if (payload === null) continue;
        const got = decodeGuarded(codec, c, payload);
        if (Buffer.compare(got, c.page) !== 0) assert.fail(`${codec.name} ${c.kind}#${c.index} (out ${limit}): decoded page differs`);
      }
    });

    test('encoding is deterministic and pure: same input, same bytes; inputs untouched', () => {
      for (const c of cases.filter((_, k) => k % 7 === 0)) {
        const page = Uint8Array.from(c.page);
        const old = c.old === null ? null : Uint8Array.from(c.old);
        const a = encodeGuarded(codec, c, PAGE_SIZE + 64);
        const b = encodeGuarded(codec, c, PAGE_SIZE + 64);
        assert.deepEqual(a, b);
        assert.deepEqual(c.page, page);
        if (old !== null) assert.deepEqual(c.old, old);
      }
    });

    test('decode of a page at an odd offset inside a larger buffer stays within the page', () => {
      for (const c of cases.filter((_, k) => k % 5 === 0)) {
        const payload = encodeGuarded(codec, c, PAGE_SIZE + 64);
        if (payload === null) continue;
        const backing = new Uint8Array(3 * PAGE_SIZE).fill(0x77);
        const page = backing.subarray(PAGE_SIZE + 3, 2 * PAGE_SIZE + 3);
        if (c.old !== null) page.set(c.old);
        codec.decode(payload, page);
        assert.deepEqual(page, c.page);
        assert.ok(backing.subarray(0, PAGE_SIZE + 3).every((b) => b === 0x77), 'bytes before the page changed');
        assert.ok(backing.subarray(2 * PAGE_SIZE + 3).every((b) => b === 0x77), 'bytes after the page changed');
      }
    });

    test('a truncated or garbage payload raises LivemigError and never writes outside the page', () => {
      const rng = new Prng(codec.id + 200);
      for (const c of cases.filter((_, k) => k % 3 === 0)) {
        const payload = encodeGuarded(codec, c, PAGE_SIZE + 64);
        const inputs = [rng.bytes(rng.int(1, 64)), Uint8Array.of(0xff, 0xff, 0xff, 0xff)];
        if (payload !== null && payload.length > 1) inputs.push(payload.subarray(0, payload.length - 1));
        for (const input of inputs) {
          const g = guardedPage(c.page.length, c.old ?? undefined);
          try {
            codec.decode(input, g.page);
          } catch (err) {
            assert.ok(isLivemigError(err), `${codec.name}: ${String(err)} is not a LivemigError`);
          }
          assertCanariesIntact(g, `${codec.name} ${c.kind}#${c.index}`);
        }
      }
    });
  });
}

test('zero: only an all-zero page encodes (to 0 bytes); an empty payload zero-fills, any other is malformed', () => {
  const zero = getCodec('zero');
  const page = new Uint8Array(PAGE_SIZE);
  assert.equal(zero.encode(null, page, new Uint8Array(0)), 0);
  page[PAGE_SIZE - 1] = 1;
  assert.equal(zero.encode(null, page, new Uint8Array(PAGE_SIZE)), null);
  assert.equal(zero.encode(null, new Uint8Array(100_000), new Uint8Array(0)), 0, 'pages of other sizes work too');
  const odd = new Uint8Array(100_000);
  odd[99_999] = 1;
  assert.equal(zero.encode(null, odd, new Uint8Array(0)), null);
  zero.decode(new Uint8Array(0), page);
  assert.ok(page.every((b) => b === 0));
  assert.throws(() => zero.decode(Uint8Array.of(0), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_MALFORMED'));
});

test('raw: needs exactly one page of payload', () => {
  const raw = getCodec('raw');
  const page = new Uint8Array(PAGE_SIZE);
  assert.equal(raw.encode(null, page, new Uint8Array(PAGE_SIZE - 1)), null);
  assert.throws(() => raw.decode(new Uint8Array(PAGE_SIZE - 1), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_TRUNCATED'));
  assert.throws(() => raw.decode(new Uint8Array(PAGE_SIZE + 1), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_OVERRUN'));
});
