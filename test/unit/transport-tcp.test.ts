import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { isLivemigError, MiB } from '../../src/core/index.js';
import { connectTcp, createTransport, listenTcp } from '../../src/transport/index.js';
import { runChannelCompliance } from '../transport/compliance.js';
import { collect, lengthPrefixed, tagged, tagsOf } from '../transport/helpers.js';

/** Largest kernel socket buffers (send + receive), from /proc, for the backpressure bound. */
function kernelBufferBytes(): number {
  try {
    const max = (file: string): number => Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
    const sum = max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
    return Number.isFinite(sum) ? sum : 48 * MiB;
  } catch {
    return 48 * MiB;
  }
}

const LOOPBACK = { host: '127.0.0.1', port: 0 };

runChannelCompliance('tcp', async (optionsA, optionsB) => {
  const listener = await listenTcp(LOOPBACK, optionsB ?? optionsA);
  const [a, b] = await Promise.all([connectTcp(listener.address, optionsA), listener.accept()]);
  return {
    a,
    b,
    teardown: async () => {
      a.destroy();
      b.destroy();
      await listener.close();
    },
  };
}, { mediumBufferBytes: kernelBufferBytes() });

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('tcp: a refused connection fails with LIVEMIG_E_TRANSPORT_CONNECT naming the address', async () => {
  const port = await freePort();
  await assert.rejects(connectTcp({ host: '127.0.0.1', port }, { messageLength: lengthPrefixed }), (err) => {
    assert.ok(isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CONNECT'));
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
    return true;
  });
});

test('tcp: connectTimeoutMs retries until the listener starts', { timeout: 10_000 }, async () => {
  const port = await freePort();
  const connecting = connectTcp({ host: '127.0.0.1', port }, { messageLength: lengthPrefixed, connectTimeoutMs: 3000, connectRetryDelayMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const listener = await listenTcp({ host: '127.0.0.1', port }, { messageLength: lengthPrefixed });
  try {
    const [a, b] = await Promise.all([connecting, listener.accept()]);
    await a.send(tagged(0, 7, 16));
    await a.close();
    assert.deepEqual((await collect(b)).map(tagsOf), [{ round: 0, seq: 7 }]);
    b.destroy();
  } finally {
    await listener.close();
  }
});

test('tcp: connectTimeoutMs gives up with the number of attempts in the message', { timeout: 10_000 }, async () => {
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(
    connectTcp({ host: '127.0.0.1', port }, { messageLength: lengthPrefixed, connectTimeoutMs: 300, connectRetryDelayMs: 50 }),
    (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CONNECT') && /attempts/.test(err.message),
  );
  assert.ok(Date.now() - started >= 250);
});

test('tcp: a peer that closes mid-message fails the consumer with LIVEMIG_E_TRANSPORT_CLOSED', { timeout: 10_000 }, async () => {
  const listener = await listenTcp(LOOPBACK, { messageLength: lengthPrefixed });
  try {
    const raw = net.connect(listener.address.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const b = await listener.accept();
    // A header announcing 100 payload bytes, then only 10 of them, then FIN.
    raw.end(Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.alloc(10)]));
    await assert.rejects(collect(b), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED') && /middle of a 104-byte message/.test(err.message));
    raw.destroy();
  } finally {
    await listener.close();
  }
});

test('tcp: a listener on a port in use fails with LIVEMIG_E_TRANSPORT_LISTEN; close rejects pending accepts', async () => {
  const first = await listenTcp(LOOPBACK, { messageLength: lengthPrefixed });
  await assert.rejects(listenTcp(first.address, { messageLength: lengthPrefixed }), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_LISTEN'));
  const pending = first.accept();
  await first.close();
  await assert.rejects(pending, (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED'));
});

test('tcp: options are validated with precise messages', async () => {
  await assert.rejects(listenTcp(LOOPBACK, {}), (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /messageLength/.test(err.message));
  await assert.rejects(
    listenTcp(LOOPBACK, { messageLength: lengthPrefixed, sendHighWaterBytes: -1 }),
    (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /sendHighWaterBytes.*-1/.test(err.message),
  );
  await assert.rejects(connectTcp({ host: '127.0.0.1', port: 70000 }, { messageLength: lengthPrefixed }), (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION'));
});

test('createTransport(\'tcp\') connects and listens; unknown names are rejected', async () => {
  const tcp = createTransport('tcp');
  assert.equal(tcp.name, 'tcp');
  const listener = await tcp.listen(LOOPBACK, { messageLength: lengthPrefixed });
  try {
    const [a, b] = await Promise.all([tcp.connect(listener.address, { messageLength: lengthPrefixed }), listener.accept()]);
    assert.equal(a.transport, 'tcp');
    await a.send(tagged(0, 1, 12));
    await a.close();
    assert.equal((await collect(b)).length, 1);
    b.destroy();
  } finally {
    await listener.close();
  }
  assert.throws(() => createTransport('memory'), (err) => isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /createMemoryPair/.test(err.message));
});
