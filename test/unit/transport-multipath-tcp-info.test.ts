/**
 * tcpBytesAcked reads the kernel's per-socket acknowledged byte count (TCP_INFO), which the
 * multipath subflows use as each path's own delivery rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { tcpBytesAcked, tcpDelivery } from '../../src/transport/multipath/sockopt.js';

test('tcpBytesAcked counts what the peer acknowledged on this socket, and nothing before it', async () => {
  const server = net.createServer((s) => s.resume());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  try {
    const before = tcpBytesAcked(client);
    assert.notEqual(before, null, 'TCP_INFO is readable on Linux through koffi');
    assert.ok(before! <= 1, `only the SYN is acknowledged before any data (got ${before})`);
    const size = 3 * 1024 * 1024;
    await new Promise<void>((resolve, reject) => client.write(Buffer.alloc(size, 7), (err) => (err ? reject(err) : resolve())));
    // The write callback means "in the kernel"; the peer's ACKs follow within a few round trips.
    let acked = tcpBytesAcked(client)!;
    for (let i = 0; i < 200 && acked < size; i++) {
      await new Promise((r) => setTimeout(r, 10));
      acked = tcpBytesAcked(client)!;
    }
    assert.ok(acked >= size && acked <= size + 1, `acknowledged ${acked} of ${size} bytes`);
    // After megabytes on loopback the kernel has a delivery-rate sample, far above 1 MB/s.
    const d = tcpDelivery(client)!;
    assert.equal(d.bytesAcked, acked);
    assert.ok(d.deliveryRate > 1e6, `delivery rate ${d.deliveryRate} B/s`);
  } finally {
    client.destroy();
    server.close();
  }
});

test('tcpBytesAcked is null for a socket without a descriptor', () => {
  assert.equal(tcpBytesAcked(new net.Socket()), null);
});
