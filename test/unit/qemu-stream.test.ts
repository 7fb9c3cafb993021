import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivemigError } from '../../src/core/errors.js';
import {
  QemuStreamParser, RamFlag, parseStream, serializeEvents, type RamPageEvent, type StreamEvent,
} from '../../src/qemu/stream/index.js';
import { makePrng } from '../helpers/prng.js';
import { QEMU_FIXTURES, loadQemuFixture } from '../helpers/qemu-fixtures.js';

function parseSplit(bytes: Uint8Array, cuts: number[]): { events: StreamEvent[]; error: unknown } {
  const parser = new QemuStreamParser();
  const events: StreamEvent[] = [];
  let at = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      events.push(...parser.push(bytes.subarray(at, cut)));
      at = cut;
    }
    events.push(...parser.end());
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

/** A comparable digest of events: kinds, fields, and bytes re-serialised. */
function shape(events: StreamEvent[]): string[] {
  return events.filter((e) => e.kind !== 'opaque').map((e) => (e.kind === 'ram-page'
    ? `${e.record}:${e.block}:${e.offsetInBlock}:${e.flags}:${Buffer.from(e.data).toString('base64').slice(0, 16)}:${e.data.length}`
    : JSON.stringify(e)));
}

for (const name of QEMU_FIXTURES) {
  test(`${name}: parse then rewrite reproduces the captured stream byte for byte`, () => {
    const bytes = loadQemuFixture(name);
    const events = parseStream(bytes);
    assert.ok(events.some((e) => e.kind === 'ram-page'), 'the fixture has RAM records');
    assert.deepEqual(Buffer.from(serializeEvents(events)), Buffer.from(bytes));
  });

  test(`${name}: chunks split at random points give the same events and bytes`, () => {
    const bytes = loadQemuFixture(name);
    const whole = parseStream(bytes);
    const prng = makePrng(0x5eed + name.length);
    for (let run = 0; run < 6; run++) {
      const n = run < 2 ? 2000 : prng.int(1, 60);
      const cuts = Array.from({ length: n }, () => prng.int(0, bytes.length)).sort((a, b) => a - b);
      const { events, error } = parseSplit(bytes, cuts);
      assert.equal(error, undefined);
      assert.deepEqual(shape(events), shape(whole));
      assert.ok(Buffer.from(serializeEvents(events)).equals(Buffer.from(bytes)), `run ${run}: rebuilt bytes differ`);
    }
  });
}

test('a stream cut anywhere ends in LIVEMIG_E_QEMU_STREAM_TRUNCATED, and what was emitted is an exact prefix', () => {
  const prng = makePrng(42);
  for (const name of ['paused10', 'xbzrle10'] as const) {
    const bytes = loadQemuFixture(name);
    const cutsAt = [0, 1, 7, 8, 20, 30, bytes.length - 1, bytes.length - 2];
    for (let i = 0; i < 20; i++) cutsAt.push(prng.int(0, bytes.length));
    for (const cut of cutsAt) {
      const prefix = bytes.subarray(0, cut);
      const { events, error } = parseSplit(prefix, [prng.int(0, cut + 1)].sort((a, b) => a - b));
      assert.ok(isLivemigError(error, 'LIVEMIG_E_QEMU_STREAM_TRUNCATED'), `cut at ${cut} of ${name}: ${String(error)}`);
      assert.equal((error as Error).message.includes('cut at byte'), true);
      const emitted = serializeEvents(events);
      assert.ok(Buffer.from(emitted).equals(Buffer.from(prefix.subarray(0, emitted.length))), `cut at ${cut}: emitted bytes are not a prefix`);
    }
  }
});

// ---- synthetic streams ------------------------------------------------------------------------

function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
function be64(n: number): number[] {
  return [...be32(Math.floor(n / 2 ** 32)), ...be32(n % 2 ** 32)];
}
function str(s: string): number[] {
  return [...Buffer.from(s, 'latin1')];
}

/** A small valid stream: one 2-page block; START, one PART with the given records, END, EOF, vmdesc. */
function synthetic(records: number[]): Uint8Array {
  const json = str('{"page_size":4096,"devices":[]}');
  return Uint8Array.from([
    ...str('QEVM'), ...be32(3),
    0x07, ...be32(4), ...str('pc-x'),
    0x01, ...be32(1), 3, ...str('ram'), ...be32(0), ...be32(4),
    ...be64(8192 + RamFlag.MEM_SIZE), 6, ...str('pc.ram'), ...be64(8192), ...be64(RamFlag.MULTIFD_FLUSH), ...be64(RamFlag.EOS),
    0x7e, ...be32(1),
    0x02, ...be32(1), ...records, ...be64(RamFlag.EOS), 0x7e, ...be32(1),
    0x08, 0x00, 0x0b, 0x00, 0x00,
    0x03, ...be32(1), ...be64(RamFlag.MULTIFD_FLUSH), ...be64(RamFlag.EOS), 0x7e, ...be32(1),
    0x00, 0x06, ...be32(json.length), ...json,
  ]);
}

const page = (fill: number): number[] => new Array(4096).fill(fill);

test('RAM records of every type, CONTINUE and MULTIFD_FLUSH are parsed and rewritten exactly', () => {
  const stream = synthetic([
    ...be64(0 + RamFlag.PAGE), 6, ...str('pc.ram'), ...page(7),
    ...be64(4096 + RamFlag.ZERO + RamFlag.CONTINUE), 0,
    ...be64(0 + RamFlag.XBZRLE + RamFlag.CONTINUE), 1, 0, 3, 0x05, 0x01, 0x09,
  ]);
  const events = parseStream(stream);
  const pages = events.filter((e): e is RamPageEvent => e.kind === 'ram-page');
  assert.deepEqual(pages.map((p) => [p.record, p.block, p.offsetInBlock]), [['page', 'pc.ram', 0], ['zero', 'pc.ram', 4096], ['xbzrle', 'pc.ram', 0]]);
  assert.equal(events.filter((e) => e.kind === 'opaque' && e.part === 'multifd-flush').length, 2);
  assert.equal(events.some((e) => e.kind === 'passthrough'), false);
  assert.ok(Buffer.from(serializeEvents(events)).equals(Buffer.from(stream)));
});

test('an unknown flag, block or CONTINUE without a block switches to pass-through and keeps every byte', () => {
  const cases: Array<[number[], RegExp]> = [
    [[...be64(RamFlag.HOOK), 1, 2, 3], /flags 0x80/],
    [[...be64(RamFlag.PAGE), 3, ...str('xyz'), ...page(1)], /unknown block 'xyz'/],
    [[...be64(RamFlag.PAGE + RamFlag.CONTINUE), ...page(1)], /no block was named/],
    [[...be64(8192 + RamFlag.PAGE), 6, ...str('pc.ram'), ...page(1)], /past the end of block/],
    [[...be64(RamFlag.XBZRLE), 6, ...str('pc.ram'), 1, 0, 1, 0x05], /not valid XBZRLE/],
  ];
  for (const [records, reason] of cases) {
    const stream = synthetic(records);
    const events = parseStream(stream);
    const pass = events.find((e) => e.kind === 'passthrough');
    assert.ok(pass !== undefined && pass.kind === 'passthrough' && reason.test(pass.reason), `expected ${reason}, got ${JSON.stringify(pass)}`);
    assert.ok(Buffer.from(serializeEvents(events)).equals(Buffer.from(stream)));
  }
});

test('a stream that is not QEMU\'s is rejected with LIVEMIG_E_QEMU_STREAM_MALFORMED', () => {
  assert.throws(() => parseStream(Uint8Array.from(str('LMIG\0\0\0\x03'))), (err) => isLivemigError(err, 'LIVEMIG_E_QEMU_STREAM_MALFORMED'));
});

test('the writer refuses a ram-page event that cannot be a valid record', () => {
  const base: RamPageEvent = { kind: 'ram-page', record: 'page', block: 'pc.ram', blockIndex: 0, offsetInBlock: 0, flags: RamFlag.PAGE, data: new Uint8Array(4096) };
  const bad: RamPageEvent[] = [
    { ...base, data: new Uint8Array(100) },
    { ...base, flags: RamFlag.ZERO },
    { ...base, offsetInBlock: 100 },
    { ...base, block: '' },
    { ...base, record: 'zero', flags: RamFlag.ZERO, data: new Uint8Array(2) },
  ];
  for (const e of bad) assert.throws(() => serializeEvents([e]), (err) => isLivemigError(err, 'LIVEMIG_E_QEMU_STREAM_MALFORMED'));
  assert.equal(serializeEvents([base]).length, 8 + 7 + 4096);
});
