/**
 * Direct RAM delivery (DirectRam) on the captured QEMU streams, without QEMU: the destination
 * decoder writes the main RAM block's pages into a buffer standing for the destination QEMU's
 * shared memory file. That buffer must equal what QEMU would have loaded from the original stream,
 * and the rebuilt stream must be the original without that block's records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCodec } from '../../../src/codec/index.js';
import { xbzrleDecode } from '../../../src/codec/xbzrle.js';
import {
  DirectRam, QemuStreamParser, StreamDestinationDecoder, StreamSourceEncoder, serializeEvents, type RamPageEvent, type StreamEvent, type StreamPipelineOptions,
} from '../../../src/qemu/stream/index.js';
import { decodeFrame } from '../../../src/wire/index.js';
import { QEMU_FIXTURES, loadQemuFixture } from '../../helpers/qemu-fixtures.js';

const PAGE = 4096;

function events(bytes: Uint8Array): StreamEvent[] {
  const parser = new QemuStreamParser();
  const out = [...parser.push(bytes)];
  parser.end();
  return out;
}

/** The largest RAM block of the stream (the guest's RAM) and its length. */
function mainBlock(evs: StreamEvent[]): { name: string; lengthBytes: number } {
  const list = evs.find((e) => e.kind === 'ram-blocks');
  assert.ok(list && list.kind === 'ram-blocks');
  return list.blocks.reduce((a, b) => (b.lengthBytes > a.lengthBytes ? b : a));
}

/** What QEMU's loader leaves in `block` after the whole stream (starting from `initial`). */
function loadedByQemu(evs: StreamEvent[], block: string, initial: Uint8Array): Uint8Array {
  const ram = new Uint8Array(initial);
  for (const e of evs) {
    if (e.kind !== 'ram-page' || e.block !== block) continue;
    const page = ram.subarray(e.offsetInBlock, e.offsetInBlock + PAGE);
    if (e.record === 'page') page.set(e.data);
    else if (e.record === 'zero') page.fill(0);
    else xbzrleDecode(e.data, page);
  }
  return ram;
}

/** Source encoder → frames → decoder with direct RAM over `ram`; returns the rebuilt stream. */
function throughDirect(bytes: Uint8Array, options: StreamPipelineOptions, direct: DirectRam): { rebuilt: Buffer; decoder: StreamDestinationDecoder } {
  const parser = new QemuStreamParser();
  const frames: Uint8Array[] = [];
  const encoder = new StreamSourceEncoder(options, (f) => frames.push(f));
  const decoder = new StreamDestinationDecoder({ ...options, directRam: direct });
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 50_000) {
    for (const e of parser.push(bytes.subarray(at, at + 50_000))) encoder.write(e);
    encoder.flush({ keepBlockOpen: true });
    for (const f of frames.splice(0)) out.push(decoder.rebuild(decodeFrame(f)));
  }
  parser.end();
  encoder.flush();
  for (const f of frames.splice(0)) out.push(decoder.rebuild(decodeFrame(f)));
  return { rebuilt: Buffer.concat(out), decoder };
}

for (const name of QEMU_FIXTURES) {
  test(`${name}: direct RAM holds what QEMU would load, and the stream keeps everything else`, () => {
    const bytes = loadQemuFixture(name);
    const evs = events(bytes);
    const block = mainBlock(evs);
    // Garbage where the file starts: ZERO records must clear it, as QEMU's loader does.
    const initial = new Uint8Array(block.lengthBytes).fill(0xa5);
    const expected = loadedByQemu(evs, block.name, initial);
    const rest = Buffer.from(serializeEvents(evs.filter((e) => !(e.kind === 'ram-page' && e.block === block.name))));
    const pagesOfBlock = evs.filter((e): e is RamPageEvent => e.kind === 'ram-page' && e.block === block.name).length;
    for (const [codec, extra] of [['lz4-delta', {}], ['zstd-delta', {}], ['raw', {}], ['adaptive', {}], ['lz4-delta', { mirrorBytes: 0, blockPages: 1 }]] as const) {
      const ram = new Uint8Array(initial);
      const direct = new DirectRam(block.name, ram, PAGE);
      const { rebuilt, decoder } = throughDirect(bytes, { codec: getCodec(codec), ...extra }, direct);
      const label = `${name} ${codec} ${JSON.stringify(extra)}`;
      assert.ok(Buffer.from(ram).equals(Buffer.from(expected)), `${label}: direct RAM differs from what QEMU loads`);
      assert.ok(rebuilt.equals(rest), `${label}: rebuilt stream (${rebuilt.length} bytes) is not the original without ${block.name} (${rest.length})`);
      const s = decoder.directRamStats()!;
      assert.equal(s.pages + s.zeroPages + s.xbzrlePages, pagesOfBlock, `${label}: every record of ${block.name} applied directly`);
      assert.equal(rebuilt.length + s.bytes, bytes.length, `${label}: socket bytes + direct bytes = the source's stream`);
    }
  });
}

test('XBZRLE records of the direct block are applied onto the page in place', () => {
  const bytes = loadQemuFixture('xbzrle10');
  const evs = events(bytes);
  const block = mainBlock(evs);
  const ram = new Uint8Array(block.lengthBytes);
  const direct = new DirectRam(block.name, ram, PAGE);
  // The mirror off: XBZRLE records travel verbatim and reach DirectRam.xbzrle.
  throughDirect(bytes, { codec: getCodec('lz4-delta'), mirrorBytes: 0 }, direct);
  assert.ok(direct.stats().xbzrlePages > 0, 'the fixture has XBZRLE records of the main block');
  assert.ok(Buffer.from(ram).equals(Buffer.from(loadedByQemu(evs, block.name, new Uint8Array(block.lengthBytes)))));
});

test('a page beyond the mapped block is a clear error, not a write out of bounds', () => {
  const bytes = loadQemuFixture('paused10');
  const evs = events(bytes);
  const block = mainBlock(evs);
  // A mapping one page short of the block: the block's last page does not fit.
  const direct = new DirectRam(block.name, new Uint8Array(block.lengthBytes - PAGE), PAGE);
  assert.throws(() => throughDirect(bytes, { codec: getCodec('lz4-delta') }, direct), (err: Error & { code?: string }) =>
    err.code === 'LIVEMIG_E_QEMU_STREAM_MALFORMED' && /offset \d+ of block/.test(err.message));
  assert.throws(() => new DirectRam('pc.ram', new Uint8Array(PAGE + 1), PAGE), /whole number of 4096-byte pages/);
});
