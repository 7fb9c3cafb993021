/**
 * The Channel compliance suite (as libp2p's interface-compliance-tests): every Channel — tcp,
 * memory, and later mptcp and multipath — registers these node:test tests through its own factory.
 *
 * Ordering: 'strict' channels deliver in send order; 'barrier' channels (multipath) keep the
 * barrier promise of SendOptions — a barrier is delivered after every message sent before it and
 * before every message sent after it — and may reorder anything between two barriers. The suite
 * marks the first message of every round after the first as a barrier (as livemig marks round
 * boundaries), so every message of round r must arrive before any of round r+1, and the barrier
 * must be the first of its round to arrive. ('within-round' is the former name of 'barrier'.)
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isLivemigError, KiB, MiB } from '../../src/core/index.js';
import type { Channel, ChannelOptions } from '../../src/transport/index.js';
import {
  arrayBufferBytesAfterGc, collect, delay, frame, HEADER_BYTES, lengthPrefixed, seeded, tagged, tagsOf,
} from './helpers.js';

/** Two connected channels and how to dispose of them. */
export interface ChannelPair {
  a: Channel;
  b: Channel;
  /** Releases everything the pair holds (sockets, listeners); safe after the channels closed or broke. */
  teardown(): Promise<void>;
}

/** Builds a connected pair; `optionsB` (default: `optionsA`) apply to `b`. */
export type ChannelPairFactory = (optionsA?: ChannelOptions, optionsB?: ChannelOptions) => Promise<ChannelPair>;

export interface ComplianceOptions {
  /** Delivery order the channel promises. @default 'strict' */
  ordering?: 'strict' | 'barrier' | 'within-round';
  /**
   * Bytes the medium itself may hold in flight (kernel socket buffers, both ends), added to the
   * backpressure bound. @default 0
   */
  mediumBufferBytes?: number;
}

const base: ChannelOptions = { messageLength: lengthPrefixed, idleTimeoutMs: 0 };

async function withPair(
  factory: ChannelPairFactory,
  optionsA: ChannelOptions,
  optionsB: ChannelOptions | undefined,
  body: (a: Channel, b: Channel) => Promise<void>,
): Promise<void> {
  const pair = await factory({ ...base, ...optionsA }, optionsB === undefined ? undefined : { ...base, ...optionsB });
  try {
    await body(pair.a, pair.b);
  } finally {
    await pair.teardown();
  }
}

/** Asserts that `promise` rejects with a LivemigError (optionally of `code`) and returns it. */
async function rejectsLivemig(promise: Promise<unknown>, code?: string): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isLivemigError(err), `expected a LivemigError, got ${String(err)}`);
    if (code !== undefined) assert.equal((err as { code: string }).code, code, (err as Error).message);
    return err as Error;
  }
  assert.fail('expected a rejection');
}

/** Checks received tags against sent ones under the channel's ordering promise. */
function assertOrder(sent: Array<{ round: number; seq: number }>, got: Array<{ round: number; seq: number }>, ordering: string): void {
  assert.equal(got.length, sent.length, 'message count');
  if (ordering === 'strict') {
    assert.deepEqual(got, sent);
    return;
  }
  for (let i = 1; i < got.length; i++) {
    assert.ok(got[i].round >= got[i - 1].round, `round ${got[i].round} delivered after round ${got[i - 1].round}`);
    // Seq 0 of every round after the first is the barrier: nothing of its round may overtake it.
    if (got[i].round > got[i - 1].round) {
      assert.equal(got[i].seq, 0, `round ${got[i].round} began with seq ${got[i].seq}, not with its barrier`);
    }
  }
  const key = (t: { round: number; seq: number }): string => `${t.round}:${t.seq}`;
  assert.deepEqual(got.map(key).sort(), sent.map(key).sort());
}

/** Registers the compliance tests for one Channel implementation. */
export function runChannelCompliance(name: string, factory: ChannelPairFactory, options: ComplianceOptions = {}): void {
  const ordering = options.ordering ?? 'strict';
  const mediumBufferBytes = options.mediumBufferBytes ?? 0;

  describe(`${name} channel compliance`, () => {
    test(ordering === 'strict'
      ? 'delivers messages in send order, in both directions at once'
      : 'delivers every round before the next, in both directions at once', { timeout: 60_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        const rnd = seeded(1);
        const sent: Array<{ round: number; seq: number }> = [];
        const sizes: number[] = [];
        for (let round = 0; round < 5; round++) {
          for (let seq = 0; seq < 300; seq++) {
            sent.push({ round, seq });
            sizes.push(12 + rnd.int(rnd.int(4) === 0 ? 200_000 : 3000));
          }
        }
        const send = async (ch: Channel): Promise<void> => {
          for (let i = 0; i < sent.length; i++) {
            const { round, seq } = sent[i];
            await ch.send(tagged(round, seq, sizes[i]), { barrier: round > 0 && seq === 0 });
          }
          await ch.close();
        };
        const [, , fromA, fromB] = await Promise.all([send(a), send(b), collect(b), collect(a)]);
        assertOrder(sent, fromA.map(tagsOf), ordering);
        assertOrder(sent, fromB.map(tagsOf), ordering);
      });
    });

    test('preserves message boundaries and contents from 5 bytes to 6 MiB', { timeout: 60_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        const rnd = seeded(2);
        const sizes = [5, 6, 7, 8, 9, 100, 4095, 4096, 4097, 65_535, 65_536, 65_537, 65_540, 1 * MiB, 6 * MiB + 3];
        // Runs of tiny messages land many to a TCP segment; big ones span many reads.
        for (let i = 0; i < 200; i++) sizes.push(5 + rnd.int(40));
        for (let i = 0; i < 20; i++) sizes.push(5 + rnd.int(300_000));
        const messages = sizes.map((n) => frame(n, rnd.bytes(Math.min(n, 997))));
        const received = collect(b);
        for (const m of messages) await a.send(m);
        await a.close();
        const got = await received;
        assert.equal(got.length, messages.length);
        if (ordering === 'strict') {
          for (let i = 0; i < got.length; i++) {
            assert.equal(got[i].length, messages[i].length, `length of message ${i}`);
            assert.ok(Buffer.from(got[i].buffer, got[i].byteOffset, got[i].length).equals(messages[i]), `contents of message ${i}`);
          }
        } else {
          const digest = (m: Uint8Array): string => createHash('sha256').update(m).digest('hex');
          assert.deepEqual(got.map(digest).sort(), messages.map(digest).sort());
        }
      });
    });

    test('stops the producer after a bounded number of bytes when the consumer stops reading, then resumes', { timeout: 120_000 }, async (t) => {
      const highWaterBytes = 1 * MiB;
      const messageBytes = 64 * KiB;
      // send HWM + receive HWM, plus one message on each side of each mark, one read chunk, and the medium.
      const boundBytes = 2 * highWaterBytes + 4 * messageBytes + 64 * KiB + mediumBufferBytes;
      const count = Math.ceil((boundBytes + 32 * MiB) / messageBytes);
      await withPair(factory, { sendHighWaterBytes: highWaterBytes, receiveHighWaterBytes: highWaterBytes }, undefined, async (a, b) => {
        const fill = seeded(3).bytes(4096);
        const baselineBytes = arrayBufferBytesAfterGc();
        let acceptedBytes = 0;
        let producerError: unknown;
        const producer = (async () => {
          for (let i = 0; i < count; i++) {
            await a.send(tagged(0, i, messageBytes, fill));
            acceptedBytes += messageBytes;
          }
          await a.close();
        })().catch((err) => { producerError = err; });

        // Wait until the producer stalls: no progress for 400 ms (bounded: 20 s).
        let last = -1;
        let stillMs = 0;
        for (let waitedMs = 0; stillMs < 400; waitedMs += 50) {
          assert.ok(waitedMs < 20_000, `the producer never stalled (${acceptedBytes} bytes accepted)`);
          await delay(50);
          stillMs = acceptedBytes === last ? stillMs + 50 : 0;
          last = acceptedBytes;
        }
        assert.equal(producerError, undefined);
        assert.ok(acceptedBytes >= highWaterBytes, `only ${acceptedBytes} bytes flowed before the stall`);
        assert.ok(acceptedBytes <= boundBytes, `${acceptedBytes} bytes accepted, more than the bound of ${boundBytes}`);
        assert.ok(acceptedBytes < count * messageBytes, 'the producer finished: nothing stopped it');

        // The producer keeps trying; memory must stay flat.
        await delay(500);
        assert.equal(acceptedBytes, last, 'the producer progressed while nobody read');
        const grownBytes = arrayBufferBytesAfterGc() - baselineBytes;
        t.diagnostic(`stalled after ${(acceptedBytes / MiB).toFixed(2)} MiB (bound ${(boundBytes / MiB).toFixed(2)} MiB); buffers grew ${(grownBytes / MiB).toFixed(2)} MiB`);
        assert.ok(grownBytes < 32 * MiB, `buffers grew by ${(grownBytes / MiB).toFixed(1)} MiB while the consumer was stopped`);

        // Resume: every message arrives, and the producer finishes.
        let n = 0;
        for await (const m of b) {
          if (ordering === 'strict') assert.equal(tagsOf(m).seq, n);
          n++;
        }
        await producer;
        assert.equal(producerError, undefined);
        assert.equal(n, count);
      });
    });

    test('ends the consumer loop after the last message on close; the other direction stays open', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        for (let i = 0; i < 10; i++) await a.send(tagged(0, i, 1000));
        await a.close();
        const got = await collect(b);
        const seqs = got.map((m) => tagsOf(m).seq);
        // Without barriers a 'barrier' channel may reorder: compare as sets there.
        assert.deepEqual(ordering === 'strict' ? seqs : seqs.sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        await rejectsLivemig(a.send(tagged(0, 10, 100)), 'LIVEMIG_E_TRANSPORT_CLOSED');
        // Half-close: b still answers a.
        await b.send(tagged(1, 0, 50));
        await b.close();
        const reply = await collect(a);
        assert.equal(reply.length, 1);
        assert.deepEqual(tagsOf(reply[0]), { round: 1, seq: 0 });
      });
    });

    test('lets a consumer leave its loop and continue with the next message in a new loop', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        for (let i = 0; i < 3; i++) await a.send(tagged(0, i, 20));
        await a.close();
        let first = -1;
        for await (const m of b) {
          first = tagsOf(m).seq;
          break;
        }
        if (ordering === 'strict') assert.equal(first, 0);
        const rest = (await collect(b)).map((m) => tagsOf(m).seq);
        assert.equal(rest.length, 2);
        assert.deepEqual([first, ...rest].sort((x, y) => x - y), [0, 1, 2]);
      });
    });

    test('makes the peer\'s iteration and sends fail with a LivemigError when one side is destroyed', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        await a.send(tagged(0, 0, 100));
        const first = await b[Symbol.asyncIterator]().next();
        assert.equal(first.done, false);
        const reason = new Error('operator abort');
        const local = collect(a);
        a.destroy(reason);
        await assert.rejects(local, (err) => err === reason);
        await assert.rejects(a.send(tagged(0, 1, 100)), (err) => err === reason);
        await rejectsLivemig(collect(b));
        await rejectsLivemig(b.send(tagged(0, 0, 100)));
      });
    });

    test('transfers 256 MiB in 256 KiB messages with contents intact (running hash)', { timeout: 300_000 }, async (t) => {
      const messageBytes = 256 * KiB;
      const count = (256 * MiB) / messageBytes;
      await withPair(factory, {}, undefined, async (a, b) => {
        const rnd = seeded(4);
        const blocks = [0, 1, 2, 3].map(() => rnd.bytes(messageBytes));
        const startedMs = Date.now();
        const sentHash = createHash('sha256');
        const sentDigests: string[] = [];
        const producer = (async () => {
          for (let i = 0; i < count; i++) {
            const m = Buffer.allocUnsafeSlow(messageBytes);
            m.set(blocks[i % 4]);
            m.writeUInt32BE(messageBytes - HEADER_BYTES, 0);
            m.writeUInt32BE(i, HEADER_BYTES);
            sentHash.update(m);
            if (ordering !== 'strict') sentDigests.push(createHash('sha256').update(m).digest('hex'));
            await a.send(m);
          }
          await a.close();
        })();
        const gotHash = createHash('sha256');
        const gotDigests: string[] = [];
        let n = 0;
        let bytes = 0;
        for await (const m of b) {
          gotHash.update(m);
          if (ordering !== 'strict') gotDigests.push(createHash('sha256').update(m).digest('hex'));
          n++;
          bytes += m.length;
        }
        await producer;
        t.diagnostic(`256 MiB in ${Date.now() - startedMs} ms, hashing included`);
        assert.equal(n, count);
        assert.equal(bytes, 256 * MiB);
        if (ordering === 'strict') assert.equal(gotHash.digest('hex'), sentHash.digest('hex'));
        else assert.deepEqual(gotDigests.sort(), sentDigests.sort());
      });
    });

    test('counts bytes and messages exactly, on both sides and per path', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        const rnd = seeded(5);
        const run = async (from: Channel, to: Channel, n: number): Promise<number> => {
          let total = 0;
          const received = collect(to);
          for (let i = 0; i < n; i++) {
            const size = 5 + rnd.int(70_000);
            total += size;
            await from.send(frame(size));
          }
          await from.close();
          await received;
          return total;
        };
        const ab = await run(a, b, 300);
        const ba = await run(b, a, 77);
        const sa = a.stats();
        const sb = b.stats();
        assert.deepEqual(
          [sa.bytesSent, sa.messagesSent, sa.bytesReceived, sa.messagesReceived],
          [ab, 300, ba, 77],
        );
        assert.deepEqual(
          [sb.bytesSent, sb.messagesSent, sb.bytesReceived, sb.messagesReceived],
          [ba, 77, ab, 300],
        );
        for (const s of [sa, sb]) {
          assert.ok(s.paths.length >= 1);
          assert.equal(s.paths.reduce((t, p) => t + p.bytesSent, 0), s.bytesSent);
          assert.equal(s.paths.reduce((t, p) => t + p.bytesReceived, 0), s.bytesReceived);
        }
      });
    });

    test('times out a silent peer with LIVEMIG_E_TRANSPORT_TIMEOUT after idleTimeoutMs', { timeout: 30_000 }, async () => {
      await withPair(factory, { idleTimeoutMs: 0 }, { idleTimeoutMs: 150 }, async (a, b) => {
        const started = Date.now();
        const err = await rejectsLivemig(collect(b), 'LIVEMIG_E_TRANSPORT_TIMEOUT');
        const elapsedMs = Date.now() - started;
        // The idle timer starts when the channel is made, a little before this callback runs.
        assert.ok(elapsedMs >= 100 && elapsedMs < 5000, `timed out after ${elapsedMs} ms`);
        assert.match(err.message, /150 ms/);
        // The peer learns that the channel broke.
        await rejectsLivemig(collect(a));
      });
    });

    test('does not time out while messages keep flowing', { timeout: 30_000 }, async () => {
      await withPair(factory, { idleTimeoutMs: 400 }, undefined, async (a, b) => {
        const received = collect(b);
        // 14 gaps of 100 ms: 1.4 s in all, well past the 400 ms idle timeout, never idle for it.
        for (let i = 0; i < 14; i++) {
          await a.send(tagged(0, i, 64));
          await delay(100);
        }
        await a.close();
        assert.equal((await received).length, 14);
        await b.close();
        assert.equal((await collect(a)).length, 0);
      });
    });

    test('aborts with the error of messageLength when a length header is malformed', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, undefined, async (a, b) => {
        await a.send(tagged(0, 0, 100));
        await a.send(Uint8Array.from([0x80, 0, 0, 1, 0])).catch(() => undefined);
        const got: Uint8Array[] = [];
        const err = await rejectsLivemig((async () => { for await (const m of b) got.push(m); })(), 'LIVEMIG_E_WIRE_MALFORMED');
        assert.match(err.message, /reserved bit/);
        assert.ok(got.length <= 1);
        await rejectsLivemig(collect(a));
      });
    });

    test('aborts when the peer sends a message above maxMessageBytes; rejects such a send locally', { timeout: 30_000 }, async () => {
      await withPair(factory, {}, { maxMessageBytes: 64 * KiB }, async (a, b) => {
        await assert.rejects(b.send(frame(64 * KiB + 1)), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_TOO_LARGE'));
        await b.send(frame(64 * KiB));
        assert.equal((await a[Symbol.asyncIterator]().next()).value?.length, 64 * KiB);
        await a.send(frame(64 * KiB)).catch(() => undefined);
        await a.send(frame(128 * KiB)).catch(() => undefined);
        const err = await rejectsLivemig(collect(b), 'LIVEMIG_E_TRANSPORT_TOO_LARGE');
        assert.match(err.message, /131072-byte message.*maxMessageBytes \(65536\)/);
      });
    });
  });
}
