import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivemigError } from '../../src/core/index.js';
import { MessageSplitter } from '../../src/transport/index.js';
import { frame, lengthPrefixed, seeded } from '../transport/helpers.js';

/** Feeds `stream` to a splitter cut at the given points; returns the messages. */
function split(stream: Uint8Array, cuts: number[], maxMessageBytes = 1 << 24): Uint8Array[] {
  const splitter = new MessageSplitter(lengthPrefixed, maxMessageBytes);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    splitter.push(stream.subarray(from, cut), (m) => out.push(Uint8Array.from(m)));
    from = cut;
  }
  splitter.end();
  return out;
}

test('splits a stream cut at random points into the same messages (500 random cuttings)', () => {
  const rnd = seeded(11);
  for (let iter = 0; iter < 500; iter++) {
    const messages: Buffer[] = [];
    const n = 1 + rnd.int(30);
    for (let i = 0; i < n; i++) {
      const size = 4 + (rnd.int(3) === 0 ? rnd.int(5) : rnd.int(rnd.int(4) === 0 ? 70_000 : 300));
      messages.push(frame(size, rnd.bytes(1 + rnd.int(50))));
    }
    const stream = Buffer.concat(messages);
    const cutCount = rnd.int(4) === 0 ? stream.length : rnd.int(40);
    const cuts = [...new Set(Array.from({ length: cutCount }, () => rnd.int(stream.length + 1)))].sort((x, y) => x - y);
    const got = split(stream, cuts);
    assert.equal(got.length, messages.length, `iteration ${iter}`);
    for (let i = 0; i < got.length; i++) assert.ok(Buffer.from(got[i]).equals(messages[i]), `iteration ${iter}, message ${i}`);
  }
});

test('returns a message inside one chunk as a view, without copying', () => {
  const chunk = Buffer.concat([frame(10), frame(20)]);
  const splitter = new MessageSplitter(lengthPrefixed, 1024);
  const out: Uint8Array[] = [];
  splitter.push(chunk, (m) => out.push(m));
  assert.equal(out.length, 2);
  assert.equal(out[1].buffer, chunk.buffer);
  assert.equal(splitter.buffered, 0);
});

test('ending inside a message, or a message above maxMessageBytes, or a bad length throws a LivemigError', () => {
  const m = frame(100);
  assert.throws(() => split(m.subarray(0, 50), []), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED'));
  assert.throws(() => split(m, [], 99), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_TOO_LARGE'));
  const never = new MessageSplitter(() => null, 1000);
  assert.throws(() => never.push(new Uint8Array(1001), () => undefined), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_TOO_LARGE'));
  const zero = new MessageSplitter(() => 0, 1000);
  assert.throws(() => zero.push(new Uint8Array(1), () => undefined), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_MALFORMED'));
});
