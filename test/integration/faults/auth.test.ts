/**
 * Authentication at the transport boundary: the pre-shared-key handshake over tcp, TLS with mutual
 * certificates, and multipath's own key. Refused connections are counted and never disturb a
 * migration in progress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { MiB, LivemigError } from '../../../src/core/index.js';
import { createSyntheticGuest, createDestinationGuest } from '../../../src/guest/index.js';
import { createPageCache } from '../../../src/cache/index.js';
import {
  AUTH_MAGIC, AuthMessageType, authenticateChannel, authFraming, connectMultipath, connectTcp, connectTls, listenMultipath, listenTcp, listenTls, readTlsFiles,
  SecureListener, type Channel,
} from '../../../src/transport/index.js';
import { checkFrame, encodeAbortFor } from '../../../src/wire/index.js';
import { runDestination, runSource } from '../../../src/engine/index.js';
import { makeCerts, tempKeys } from './kit.js';

const framing = authFraming(checkFrame);

function isCode(code: string) {
  return (e: unknown) => e instanceof LivemigError && e.code === code;
}

/** A listener that admits only holders of `key`, counting the others. */
async function keyedListener(key: Uint8Array, handshakeTimeoutMs = 10_000): Promise<SecureListener> {
  const inner = await listenTcp({ host: '127.0.0.1', port: 0 }, { messageLength: framing });
  return new SecureListener(inner, (ch) => authenticateChannel(ch, 'listen', { key, handshakeTimeoutMs, refusalMessage: encodeAbortFor }));
}

async function connectKeyed(port: number, key: Uint8Array): Promise<Channel> {
  const ch = await connectTcp({ host: '127.0.0.1', port }, { messageLength: framing });
  return authenticateChannel(ch, 'connect', { key });
}

/** Opens a raw socket, writes `bytes` (or nothing), and resolves when the listener drops it. */
function rawPeer(port: number, bytes: Uint8Array | null): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      if (bytes) s.write(bytes);
    });
    s.on('data', () => {});
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

test('holders of the key migrate; wrong-key, key-less, garbage and silent connections are refused and counted while a migration runs', async () => {
  const key = randomBytes(32);
  const listener = await keyedListener(key, 1500);
  const guest = await createSyntheticGuest({ memoryBytes: 16 * MiB, workload: 'hotset', seed: 11 });
  try {
    const destP = listener.accept().then((channel) => runDestination({ channel, createGuest: createDestinationGuest }));
    const channel = await connectKeyed(listener.address.port, key);
    // Slow enough that the attacks below land while it runs.
    const srcP = runSource({ guest, channel, codec: 'lz4-delta', cache: createPageCache('2way', { capacityBytes: 4 * MiB }), maxBandwidthBytesPerSec: 8e6 });

    await assert.rejects(connectKeyed(listener.address.port, randomBytes(32)), isCode('LIVEMIG_E_AUTH'));
    // A livemig source without the key is told why (the listener answers with a wire ABORT).
    const plain = await connectTcp(listener.address, { messageLength: checkFrame });
    const plainGuest = await createSyntheticGuest({ memoryBytes: 4 * MiB, workload: 'idle', seed: 2 });
    await assert.rejects(runSource({ guest: plainGuest, channel: plain, codec: 'lz4' }), (e: unknown) => e instanceof LivemigError && /--key-file/.test(e.message));
    assert.equal(plainGuest.running, true, 'the refused source keeps its guest');
    await plainGuest.close();
    await rawPeer(listener.address.port, randomBytes(4096));
    await rawPeer(listener.address.port, Buffer.from('LMAU\x01\x01\x00\x00' + 'x'.repeat(32), 'latin1')); // a challenge, then nothing
    await rawPeer(listener.address.port, null); // silent: the handshake timeout drops it

    const [report, dest] = await Promise.all([srcP, destP]);
    assert.equal(report.verified, true);
    assert.equal(dest.verified, true);
    assert.equal(report['self-check']?.ok, true);
    const stats = listener.stats();
    assert.equal(stats.accepted, 1);
    assert.equal(stats.refused, 5, JSON.stringify(stats));
    assert.ok((stats.refusedByCode.LIVEMIG_E_TRANSPORT_TIMEOUT ?? 0) >= 2, JSON.stringify(stats));
    assert.equal(stats.pending, 0);
  } finally {
    await guest.close();
    await listener.close();
  }
});

test('a connector that skips the server check and sends a forged proof is refused by the listener', async () => {
  const listener = await keyedListener(randomBytes(32));
  try {
    const ch = await connectTcp(listener.address, { messageLength: framing });
    const header = (type: number) => Uint8Array.from([...AUTH_MAGIC, type, 1, 0, 0]);
    await ch.send(Buffer.concat([header(AuthMessageType.CHALLENGE), randomBytes(32)]));
    const it = ch[Symbol.asyncIterator]();
    const resp = await it.next();
    assert.equal(resp.value?.[4], AuthMessageType.RESPONSE);
    await ch.send(Buffer.concat([header(AuthMessageType.PROOF), randomBytes(32)]));
    const verdict = await it.next().catch(() => ({ done: true, value: undefined }));
    assert.ok(verdict.done || verdict.value?.[4] === AuthMessageType.REFUSE, 'no WELCOME for a forged proof');
    const deadline = Date.now() + 5000;
    while (listener.stats().refused < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([listener.stats().accepted, listener.stats().refusedByCode.LIVEMIG_E_AUTH], [0, 1]);
    ch.destroy();
  } finally {
    await listener.close();
  }
});

test('the handshake is mutual: a listener with another key is detected by the connector', async () => {
  const listener = await keyedListener(randomBytes(32));
  try {
    await assert.rejects(connectKeyed(listener.address.port, randomBytes(32)), (e: unknown) => e instanceof LivemigError && e.code === 'LIVEMIG_E_AUTH' && /receiver could not prove/.test(e.message));
    // A key that is too short is an option error, before any byte is sent.
    await assert.rejects(connectKeyed(listener.address.port, randomBytes(8)), isCode('LIVEMIG_E_INVALID_OPTION'));
  } finally {
    await listener.close();
  }
});

test('TLS with mutual certificates carries a migration; a client with a foreign certificate is refused and counted', async () => {
  const keys = tempKeys();
  try {
    const c = makeCerts(keys.dir);
    const server = readTlsFiles({ cert: c.serverCert, key: c.serverKey, ca: c.ca });
    const client = readTlsFiles({ cert: c.clientCert, key: c.clientKey, ca: c.ca });
    const rogue = readTlsFiles({ cert: c.rogueCert, key: c.rogueKey, ca: c.ca });
    const listener = await listenTls({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame, tls: server });
    const guest = await createSyntheticGuest({ memoryBytes: 8 * MiB, workload: 'hotset', seed: 4 });
    try {
      const destP = listener.accept().then((channel) => runDestination({ channel, createGuest: createDestinationGuest }));
      const channel = await connectTls(listener.address, { messageLength: checkFrame, tls: client });
      const report = await runSource({ guest, channel, codec: 'lz4-delta', cache: createPageCache('2way', { capacityBytes: 4 * MiB }) });
      assert.equal(report.verified, true);
      assert.equal((await destP).verified, true);
      // A client certificate from another CA: the listener refuses it (the client may only see the reset).
      // (TLS 1.3: the client learns of it only when it reads, as an alert or a closed connection.)
      let delivered = 0;
      try {
        const ch = await connectTls(listener.address, { messageLength: checkFrame, tls: rogue });
        for await (const _ of ch) delivered++;
      } catch (err) {
        assert.ok(err instanceof LivemigError, String(err));
      }
      assert.equal(delivered, 0);
      // A client that does not trust the listener's CA refuses the listener.
      const distrust = { ...client, ca: readTlsFiles({ cert: c.rogueCert, key: c.rogueKey, ca: c.rogueCa }).ca };
      await assert.rejects(connectTls(listener.address, { messageLength: checkFrame, tls: distrust }), isCode('LIVEMIG_E_AUTH'));
      // Plain bytes at a TLS listener.
      await rawPeer(listener.address.port, randomBytes(512));
      const deadline = Date.now() + 10_000;
      while (listener.stats().refused < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(listener.stats().accepted, 1);
      assert.ok(listener.stats().refused >= 3, JSON.stringify(listener.stats()));
    } finally {
      await guest.close();
      await listener.close();
    }
  } finally {
    keys.cleanup();
  }
});

test('multipath with a pre-shared key: the right key carries messages, a wrong one is refused and counted', async () => {
  const key = randomBytes(32);
  const listener = await listenMultipath({ local: { host: '127.0.0.1', port: 0 }, messageLength: checkFrame, key });
  try {
    const acceptP = listener.accept();
    const ok = await connectMultipath({ remote: listener.address, messageLength: checkFrame, key, subflows: 2 });
    const peer = await acceptP;
    await ok.send(encodeAbortFor(new LivemigError('LIVEMIG_E_ABORTED', 'hello')));
    const it = peer[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    await assert.rejects(connectMultipath({ remote: listener.address, messageLength: checkFrame, key: randomBytes(32) }), LivemigError);
    const deadline = Date.now() + 10_000;
    while (listener.stats().refusedSessions < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(listener.stats().refusedSessions, 1, JSON.stringify(listener.stats()));
    assert.equal(listener.stats().sessions, 1);
    ok.destroy();
    peer.destroy();
  } finally {
    await listener.close();
  }
});
