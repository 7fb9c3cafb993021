import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { isLivemigError, MiB } from '../../src/core/index.js';
import {
  connectMptcp, createTransport, listenMptcp, listenTcp, type Channel, type ChannelStats,
} from '../../src/transport/index.js';
import { apportion } from '../../src/transport/mptcp/info.js';
import { formatIpv6, ipv6Bytes } from '../../src/transport/mptcp/sockaddr.js';
import { runChannelCompliance } from '../transport/compliance.js';
import { collect, frame, lengthPrefixed, tagged, tagsOf } from '../transport/helpers.js';

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
const base = { messageLength: lengthPrefixed };

runChannelCompliance('mptcp', async (optionsA, optionsB) => {
  const listener = await listenMptcp(LOOPBACK, optionsB ?? optionsA);
  const [a, b] = await Promise.all([connectMptcp(listener.address, optionsA), listener.accept()]);
  return {
    a,
    b,
    teardown: async () => {
      a.destroy();
      b.destroy();
      await listener.close();
    },
  };
  // The MPTCP socket buffers data above its subflows: count the kernel's buffers twice.
}, { mediumBufferBytes: 2 * kernelBufferBytes() });

/** Sends `count` messages of `bytes` from a to b, closes a, and waits for all of them at b. */
async function transfer(a: Channel, b: Channel, count: number, bytes: number): Promise<number> {
  const received = collect(b);
  for (let i = 0; i < count; i++) await a.send(frame(bytes));
  await a.close();
  const got = await received;
  assert.equal(got.length, count);
  return count * bytes;
}

function assertPathsAddUp(s: ChannelStats): void {
  assert.equal(s.paths.reduce((t, p) => t + p.bytesSent, 0), s.bytesSent);
  assert.equal(s.paths.reduce((t, p) => t + p.bytesReceived, 0), s.bytesReceived);
}

test('mptcp: a loopback connection is real MPTCP, with one subflow whose kernel byte counts match the data', { timeout: 30_000 }, async () => {
  const listener = await listenMptcp(LOOPBACK, base);
  try {
    const [a, b] = await Promise.all([connectMptcp(listener.address, base), listener.accept()]);
    assert.equal(a.transport, 'mptcp');
    const bytes = await transfer(a, b, 64, 128 * 1024);
    // Stats taken after the sending side closed: the last kernel reading survives the socket.
    const sa = a.stats();
    const sb = b.stats();
    for (const s of [sa, sb]) {
      assert.equal(s.fallback, false);
      assert.ok(s.mptcp !== undefined);
      assert.ok(s.mptcp.subflows >= 1, `subflows ${s.mptcp.subflows}`);
      assert.equal(s.mptcp.congestionControl, 'cubic');
      assert.ok(s.paths.length >= 1);
      assertPathsAddUp(s);
      for (const p of s.paths) {
        assert.match(p.label, /^127\.0\.0\.1:\d+->127\.0\.0\.1:\d+$/);
        assert.ok(p.subflow !== undefined);
      }
    }
    const sent = sa.paths.reduce((t, p) => t + (p.subflow?.bytesAcked ?? 0), 0);
    const got = sb.paths.reduce((t, p) => t + (p.subflow?.bytesReceived ?? 0), 0);
    // Every byte crosses a subflow at least once; MPTCP-level reinjections (the msk's own retransmit
    // timer, under load) may carry a few twice, and bytes_acked counts the FIN.
    const plausible = (n: number): boolean => n >= bytes && n <= bytes * 1.05 + 2;
    assert.ok(plausible(sent), `subflows acked ${sent} of ${bytes} bytes (${JSON.stringify(sa.mptcp)})`);
    assert.ok(plausible(got), `subflows received ${got} of ${bytes} bytes`);
    assert.ok(sa.mptcp !== undefined && sa.mptcp.bytesSent >= bytes && sa.mptcp.bytesSent < bytes * 1.1, `MPTCP bytes_sent ${sa.mptcp?.bytesSent}`);
    assert.ok(sa.paths[0].subflow !== undefined && sa.paths[0].subflow.rttUs > 0 && sa.paths[0].subflow.rttUs < 1_000_000);
    assert.equal(sa.paths[0].bytesSent, bytes);
    assert.equal(sb.paths[0].bytesReceived, bytes);
    b.destroy();
  } finally {
    await listener.close();
  }
});

test('mptcp: works over IPv6 (::1)', { timeout: 30_000 }, async () => {
  const listener = await listenMptcp({ host: '::1', port: 0 }, base);
  try {
    assert.equal(listener.address.host, '::1');
    const [a, b] = await Promise.all([connectMptcp(listener.address, base), listener.accept()]);
    const bytes = await transfer(a, b, 10, 50_000);
    const s = b.stats();
    assert.equal(s.fallback, false);
    assert.equal(s.bytesReceived, bytes);
    assert.match(s.paths[0].label, /^::1:\d+->::1:\d+$/);
    b.destroy();
  } finally {
    await listener.close();
  }
});

test('mptcp: a client against a plain TCP server reports the fallback; requireMptcp makes it an error', { timeout: 30_000 }, async () => {
  const listener = await listenTcp(LOOPBACK, base);
  try {
    const [a, b] = await Promise.all([connectMptcp(listener.address, base), listener.accept()]);
    // Data still flows: a fallback is a degraded channel, not a broken one.
    const bytes = await transfer(a, b, 5, 10_000);
    const s = a.stats();
    assert.equal(s.fallback, true);
    assert.equal(s.mptcp, undefined);
    assert.equal(s.paths.length, 1);
    assert.equal(s.paths[0].bytesSent, bytes);
    assert.ok((s.paths[0].subflow?.bytesAcked ?? 0) >= bytes, 'TCP_INFO figures of the single path');
    b.destroy();

    const accepted = listener.accept();
    await assert.rejects(connectMptcp(listener.address, { ...base, requireMptcp: true }), (err) => {
      assert.ok(isLivemigError(err, 'LIVEMIG_E_MPTCP_FALLBACK'), String(err));
      assert.match(err.message, /fell back to plain TCP.*requireMptcp/);
      return true;
    });
    (await accepted).destroy();
  } finally {
    await listener.close();
  }
});

test('mptcp: a plain TCP client of an mptcp listener is a reported fallback; requireMptcp refuses it at accept()', { timeout: 30_000 }, async () => {
  for (const requireMptcp of [false, true]) {
    const listener = await listenMptcp(LOOPBACK, { ...base, requireMptcp });
    try {
      const raw = net.connect(listener.address.port, '127.0.0.1');
      raw.on('error', () => undefined);
      if (requireMptcp) {
        await assert.rejects(listener.accept(), (err) => isLivemigError(err, 'LIVEMIG_E_MPTCP_FALLBACK') && /from 127\.0\.0\.1/.test(err.message));
      } else {
        const b = await listener.accept();
        assert.equal(b.stats().fallback, true);
        raw.end(tagged(0, 9, 40));
        assert.deepEqual((await collect(b)).map(tagsOf), [{ round: 0, seq: 9 }]);
        b.destroy();
      }
      raw.destroy();
    } finally {
      await listener.close();
    }
  }
});

/** The congestion control names `ss` prints for the TCP subflows on `port` ([] when ss is missing). */
function subflowCongestionControls(port: number): string[] {
  try {
    const out = execFileSync('ss', ['-ntiH', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
    return [...out.matchAll(/^\s+(\w+) wscale/gm)].map((m) => m[1]);
  } catch {
    return [];
  }
}

test('mptcp: congestionControl is set on both ends and reaches the subflows; bad names are rejected', { timeout: 30_000 }, async (t) => {
  for (const congestionControl of ['reno', 'cubic']) {
    const listener = await listenMptcp(LOOPBACK, { ...base, congestionControl });
    try {
      const [a, b] = await Promise.all([connectMptcp(listener.address, { ...base, congestionControl }), listener.accept()]);
      assert.equal(a.stats().mptcp?.congestionControl, congestionControl);
      assert.equal(b.stats().mptcp?.congestionControl, congestionControl);
      const seen = subflowCongestionControls(listener.address.port);
      if (seen.length === 0) t.diagnostic('ss not available: subflow congestion control not checked');
      else assert.deepEqual(seen, [congestionControl, congestionControl]);
      a.destroy();
      b.destroy();
    } finally {
      await listener.close();
    }
  }
  await assert.rejects(listenMptcp(LOOPBACK, { ...base, congestionControl: 'no_such_cc' }), (err) =>
    isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /no_such_cc.*ENOENT/.test(err.message));
  await assert.rejects(listenMptcp(LOOPBACK, { ...base, congestionControl: 'cubic; rm' }), (err) =>
    isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /congestionControl/.test(err.message));
  await assert.rejects(connectMptcp({ host: '127.0.0.1', port: 1 }, { ...base, requireMptcp: 'yes' as unknown as boolean }), (err) =>
    isLivemigError(err, 'LIVEMIG_E_INVALID_OPTION') && /requireMptcp/.test(err.message));
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

test('mptcp: refused connects, retries and failed listens leak no descriptors', { timeout: 30_000 }, async () => {
  const probe = await listenMptcp(LOOPBACK, base);
  const { port } = probe.address;
  await probe.close();
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    await assert.rejects(connectMptcp({ host: '127.0.0.1', port }, base), (err) =>
      isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CONNECT') && new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`).test(err.message));
    await assert.rejects(listenMptcp(LOOPBACK, { ...base, congestionControl: 'no_such_cc' }));
  }
  const busy = await listenMptcp(LOOPBACK, base);
  try {
    await assert.rejects(listenMptcp(busy.address, base), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_LISTEN') && /EADDRINUSE/.test(err.message));
  } finally {
    await busy.close();
  }
  await assert.rejects(
    connectMptcp({ host: '127.0.0.1', port }, { ...base, connectTimeoutMs: 300, connectRetryDelayMs: 30 }),
    (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CONNECT') && /attempts/.test(err.message),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(openFds() <= before + 1, `descriptors grew from ${before} to ${openFds()}`);
});

test('mptcp: connectTimeoutMs retries until the listener starts', { timeout: 10_000 }, async () => {
  const probe = await listenMptcp(LOOPBACK, base);
  const { port } = probe.address;
  await probe.close();
  const connecting = connectMptcp({ host: '127.0.0.1', port }, { ...base, connectTimeoutMs: 3000, connectRetryDelayMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const listener = await listenMptcp({ host: '127.0.0.1', port }, base);
  try {
    const [a, b] = await Promise.all([connecting, listener.accept()]);
    assert.equal(a.stats().fallback, false);
    await transfer(a, b, 1, 100);
    b.destroy();
  } finally {
    await listener.close();
  }
});

/** Whether a plain TCP listener can take `port` on loopback right now (it closes it again). */
async function portFree(port: number): Promise<boolean> {
  try {
    await (await listenTcp({ host: '127.0.0.1', port }, base)).close();
    return true;
  } catch (err) {
    if (isLivemigError(err, 'LIVEMIG_E_TRANSPORT_LISTEN') && /EADDRINUSE/.test(err.message)) return false;
    throw err;
  }
}

// The joins of an accepted connection's other subflows arrive through the listening socket: a
// receiver that closes its listener right after accept() must not reset them.
test('mptcp: a listener closed after accept() keeps its socket until the accepted connection ends, and accepts nothing new', { timeout: 30_000 }, async () => {
  const listener = await listenMptcp(LOOPBACK, base);
  const { port } = listener.address;
  const [a, b] = await Promise.all([connectMptcp(listener.address, base), listener.accept()]);
  await listener.close();
  await assert.rejects(listener.accept(), (err) => isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED'));
  assert.equal(await portFree(port), false, 'the listening socket went away while its connection was open');
  const late = await connectMptcp({ host: '127.0.0.1', port }, base);
  // Refused by a reset or a close: either way it ends at once, with nothing received.
  const ended = collect(late).then((m) => m.length, () => 0);
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 2000));
  assert.equal(await Promise.race([ended, timeout]), 0, 'a connection after close() was kept');
  late.destroy();
  await transfer(a, b, 3, 1000);
  b.destroy();
  for (let i = 0; i < 50 && !(await portFree(port)); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await portFree(port), true, 'the listening socket outlived the last accepted connection');
});

test('createTransport(\'mptcp\') connects and listens with kernel MPTCP', async () => {
  const mptcp = createTransport('mptcp');
  assert.equal(mptcp.name, 'mptcp');
  const listener = await mptcp.listen(LOOPBACK, base);
  try {
    const [a, b] = await Promise.all([mptcp.connect(listener.address, base), listener.accept()]);
    assert.equal(b.transport, 'mptcp');
    await transfer(a, b, 3, 1000);
    assert.equal(a.stats().fallback, false);
    b.destroy();
  } finally {
    await listener.close();
  }
});

/** Runs `script` (an ES module body) in a child node inside a new network namespace with `sysctl` set. */
function inFreshNetns(sysctl: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('unshare', ['-n', 'sh', '-c', `sysctl -qw ${sysctl} && exec "$0" --input-type=module -e "$1"`, process.execPath, script],
      { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr }));
  });
}

test('mptcp: a kernel with MPTCP disabled fails with LIVEMIG_E_MPTCP_UNAVAILABLE and says how to enable it', { timeout: 30_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root for unshare -n');
    return;
  }
  const index = fileURLToPath(new URL('../../src/transport/index.js', import.meta.url));
  const script = `
    import { connectMptcp, listenMptcp } from ${JSON.stringify(index)};
    const out = [];
    const ml = (b) => null;
    for (const run of [() => listenMptcp({ host: '127.0.0.1', port: 0 }, { messageLength: ml }),
                       () => connectMptcp({ host: '127.0.0.1', port: 9 }, { messageLength: ml })]) {
      try { await run(); out.push('opened'); } catch (e) { out.push(e.code + ' ' + e.message); }
    }
    console.log(JSON.stringify(out));`;
  const { stdout, stderr } = await inFreshNetns('net.mptcp.enabled=0', script);
  if (stdout.trim() === '') {
    t.skip(`could not run in a new network namespace: ${stderr.trim().slice(0, 200)}`);
    return;
  }
  const results = JSON.parse(stdout) as string[];
  assert.equal(results.length, 2);
  for (const r of results) {
    assert.match(r, /^LIVEMIG_E_MPTCP_UNAVAILABLE .*ENOPROTOOPT.*net\.mptcp\.enabled=1/);
  }
});

test('mptcp internals: IPv6 addresses round-trip through bytes; shares add up exactly', () => {
  for (const [text, canonical] of [
    ['::1', '::1'], ['::', '::'], ['fe80::1:2', 'fe80::1:2'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['1:0:0:0:2:0:0:3', '1::2:0:0:3'],
    ['::10.0.0.1', '::a00:1'],
  ]) {
    const bytes = ipv6Bytes(text);
    assert.equal(formatIpv6(bytes), canonical, text);
    assert.deepEqual(ipv6Bytes(canonical), bytes, canonical);
    assert.ok(net.isIPv6(canonical));
  }
  assert.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3]);
  assert.deepEqual(apportion(7, [0, 0]), [7, 0]);
  assert.deepEqual(apportion(1000, [3, 1]), [750, 250]);
  assert.deepEqual(apportion(0, [5]), [0]);
  for (let i = 0; i < 200; i++) {
    const weights = [Math.random() * 1e9, Math.random() * 1e3, Math.floor(Math.random() * 3)];
    const total = Math.floor(Math.random() * 1e12);
    assert.equal(apportion(total, weights).reduce((s, x) => s + x, 0), total);
  }
});
