/**
 * Multipath reliability: a subflow killed mid-transfer, every subflow killed, joins with a wrong
 * proof or an unknown token — the transfer completes with nothing lost or duplicated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { isLivemigError, KiB } from '../../src/core/index.js';
import type { MultipathChannel } from '../../src/transport/index.js';
import { clientHandshake } from '../../src/transport/multipath/handshake.js';
import { checkNumbered, multipathPair, numbered, until } from './transport-multipath-kit.js';

/** Sends `count` numbered messages from a; b checks each; `during(receivedCount)` runs once per message. */
async function transfer(
  a: MultipathChannel, b: MultipathChannel, count: number, bytes: number, during: (received: number) => void | Promise<void>,
): Promise<{ seqs: number[] }> {
  const producer = (async () => {
    for (let i = 0; i < count; i++) await a.send(numbered(i, bytes));
    await a.close();
  })();
  const seqs: number[] = [];
  for await (const m of b) {
    seqs.push(checkNumbered(m));
    await during(seqs.length);
  }
  await producer;
  return { seqs };
}

function assertExactlyOnce(seqs: number[], count: number): void {
  assert.equal(seqs.length, count, 'message count');
  const seen = new Set(seqs);
  assert.equal(seen.size, count, 'duplicates delivered');
  for (let i = 0; i < count; i++) assert.ok(seen.has(i), `message ${i} lost`);
}

for (const [side, ordering] of [['sender', 'barrier'], ['receiver', 'strict'], ['sender', 'strict']] as const) {
  test(`multipath (${ordering}): a subflow destroyed on the ${side} side mid-transfer loses and duplicates nothing, then rejoins`, { timeout: 60_000 }, async () => {
    const pair = await multipathPair(4, { ordering, rejoinIntervalMs: 100 });
    const { a, b } = pair;
    try {
      const count = 1500;
      let inflightAtKill = 0;
      const { seqs } = await transfer(a, b, count, 32 * KiB, (n) => {
        if (n !== 300) return;
        // The subflow with the most unacknowledged bytes: its loss must be repaired.
        const paths = a.stats().paths;
        const slot = paths.reduce((best, p, i) => (p.inflightBytes > paths[best].inflightBytes ? i : best), 0);
        inflightAtKill = paths[slot].inflightBytes;
        (side === 'sender' ? pair.aSockets : pair.bSockets).get(slot)?.destroy();
      });
      assertExactlyOnce(seqs, count);
      if (ordering === 'strict') assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      const sa = a.stats();
      assert.ok(inflightAtKill > 0, 'the killed subflow carried nothing');
      assert.ok(sa.retransmittedBytes > 0, `nothing was retransmitted (${JSON.stringify(sa)})`);
      assert.equal(sa.paths.reduce((t, p) => t + p.bytesSent, 0), sa.bytesSent);
      assert.equal(b.stats().bytesReceived, sa.bytesSent);
      await until(() => a.stats().rejoins >= 1 && a.stats().subflowsUp === 4, 5000);
    } finally {
      await pair.teardown();
    }
  });
}

test('multipath: when every subflow dies the channel survives a rejoin within rejoinTimeoutMs', { timeout: 60_000 }, async () => {
  const pair = await multipathPair(2, { rejoinIntervalMs: 50, rejoinTimeoutMs: 3000 });
  const { a, b } = pair;
  try {
    const count = 800;
    const { seqs } = await transfer(a, b, count, 32 * KiB, (n) => {
      if (n === 200) for (const s of pair.aSockets.values()) s.destroy();
    });
    assertExactlyOnce(seqs, count);
    assert.ok(a.stats().rejoins >= 2);
  } finally {
    await pair.teardown();
  }
});

test('multipath: the channel fails when no subflow rejoins within rejoinTimeoutMs', { timeout: 20_000 }, async () => {
  const pair = await multipathPair(2, { rejoinIntervalMs: 60_000, rejoinTimeoutMs: 300 });
  const { a, b } = pair;
  try {
    await a.send(numbered(0, 100));
    const started = Date.now();
    for (const s of pair.aSockets.values()) s.destroy();
    const [ea, eb] = await Promise.all([
      (async () => { for await (const _ of a) { /* nothing */ } })().then(() => null, (e: unknown) => e),
      (async () => { for await (const _ of b) { /* drain */ } })().then(() => null, (e: unknown) => e),
    ]);
    const elapsedMs = Date.now() - started;
    for (const e of [ea, eb]) {
      assert.ok(isLivemigError(e, 'LIVEMIG_E_TRANSPORT_CLOSED'), String(e));
      assert.match((e as Error).message, /none rejoined within 300 ms/);
    }
    assert.ok(elapsedMs >= 250 && elapsedMs < 5000, `failed after ${elapsedMs} ms`);
  } finally {
    await pair.teardown();
  }
});

/** A join attempt from outside: a raw TCP connection that runs the client handshake. */
async function rogueJoin(port: number, token: Buffer, sessionKey: Buffer, psk: Uint8Array): Promise<unknown> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  try {
    await clientHandshake(socket, { slot: 7, psk, windowBytes: 1 << 20, timeoutMs: 2000, join: { token, sessionKey } });
    return null;
  } catch (err) {
    return err;
  } finally {
    socket.destroy();
  }
}

test('multipath: joins with a wrong proof or an unknown token are refused and counted while a transfer completes', { timeout: 60_000 }, async () => {
  const key = Buffer.from('the pre-shared key');
  const pair = await multipathPair(2, { key });
  const { a, b, listener } = pair;
  try {
    const count = 1200;
    const rogues: Array<Promise<unknown>> = [];
    const { seqs } = await transfer(a, b, count, 32 * KiB, (n) => {
      if (n === 100) {
        // The real token (no secret, as MPTCP's), but not the session key.
        rogues.push(rogueJoin(listener.address.port, Buffer.from(a.token, 'hex'), randomBytes(32), key));
        rogues.push(rogueJoin(listener.address.port, randomBytes(16), randomBytes(32), key));
      }
    });
    assertExactlyOnce(seqs, count);
    const [wrongProof, unknownToken] = await Promise.all(rogues);
    assert.ok(isLivemigError(wrongProof, 'LIVEMIG_E_AUTH'), String(wrongProof));
    assert.ok(isLivemigError(unknownToken, 'LIVEMIG_E_AUTH') && /no session/.test((unknownToken as Error).message), String(unknownToken));
    await until(() => listener.stats().refusedJoins === 2, 2000);
    assert.deepEqual(listener.stats(), { sessions: 1, joins: 1, refusedJoins: 2, refusedSessions: 0 });
    assert.equal(a.stats().subflowsUp, 2);
    assert.equal(b.stats().subflowsUp, 2);
    assert.equal(b.stats().paths.length, 2, 'a refused join added a path');
  } finally {
    await pair.teardown();
  }
});
