import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LivemigError } from '../../src/core/errors.js';
import { QemuStreamParser, serializeEvents, type StreamEvent } from '../../src/qemu/stream/index.js';
import { makePrng } from '../helpers/prng.js';
import { loadQemuFixture } from '../helpers/qemu-fixtures.js';

test('mutated QEMU streams parse to an exact rewrite or a LivemigError, never a hang or a wrong stream', () => {
  const original = loadQemuFixture('xbzrle10').subarray(0, 400_000);
  const prng = makePrng(0xf022);
  const rssBefore = process.memoryUsage().rss;
  let errors = 0;
  let passthrough = 0;
  for (let run = 0; run < 120; run++) {
    const bytes = new Uint8Array(original);
    // Mutations concentrate on the structured head (headers, block list, first records) half the time.
    const span = run % 2 === 0 ? 3000 : bytes.length;
    for (let k = prng.int(1, 6); k > 0; k--) bytes[prng.int(0, span)] = prng.u32() & 0xff;
    if (prng.chance(0.2)) bytes.copyWithin(prng.int(0, span), prng.int(0, bytes.length), prng.int(0, bytes.length));
    const parser = new QemuStreamParser({ expectVmdesc: false });
    const events: StreamEvent[] = [];
    try {
      for (let at = 0; at < bytes.length;) {
        const next = Math.min(bytes.length, at + prng.int(1, 70_000));
        events.push(...parser.push(bytes.subarray(at, next)));
        at = next;
      }
      events.push(...parser.end());
    } catch (err) {
      assert.ok(err instanceof LivemigError, `run ${run}: ${String(err)}`);
      errors++;
    }
    if (events.some((e) => e.kind === 'passthrough')) passthrough++;
    const rebuilt = serializeEvents(events);
    assert.ok(Buffer.from(rebuilt).equals(Buffer.from(bytes.subarray(0, rebuilt.length))), `run ${run}: rebuilt bytes are not a prefix of the input`);
  }
  assert.ok(errors + passthrough > 0, 'mutations were noticed');
  assert.ok(process.memoryUsage().rss - rssBefore < 512 * 1024 * 1024, 'memory stays bounded');
});
