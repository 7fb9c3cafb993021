/**
 * The mptcp Channel over two shaped paths of the testbed (network namespaces, veth, tbf): one
 * connection to path 0 opens a second subflow over path 1, both carry the bytes, and the
 * channel's stats() show it. Needs root; uses its own testbed name (lm-lmmptcp-src/dst) and state
 * directory, and removes everything in `after`, also when a test fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { namespaceNames, pathAddresses, runIn, testbedDown, testbedUp } from '../../src/testbed/index.js';
import type { ChannelStats } from '../../src/transport/index.js';

const NAME = 'lmmptcp';
const { srcNs, dstNs } = namespaceNames(NAME);
const here = fileURLToPath(new URL('.', import.meta.url));
/** Shaped rate of each path, in bits per second. */
const PATH_BITS_PER_SEC = 50e6;
const MIB = 24;

function whyNotRunnable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('tc', ['-V']).status !== 0) return 'tc is not installed';
  return null;
}
const skip = whyNotRunnable();

/** Reads JSON lines from a child until one with `event === want` arrives. */
async function waitEvent(lines: AsyncIterator<string>, want: string): Promise<Record<string, unknown>> {
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const msg = JSON.parse(next.value) as Record<string, unknown>;
    if (msg.event === want) return msg;
  }
  throw new Error(`process ended before '${want}'`);
}

describe('mptcp channel over two shaped paths', { skip: skip ?? false }, () => {
  const children: ChildProcess[] = [];
  let stateDirPath = '';

  before(async () => {
    stateDirPath = mkdtempSync(join(tmpdir(), 'livemig-mptcp-state-'));
    process.env.LIVEMIG_TESTBED_STATE_DIR = stateDirPath;
    await testbedDown({ name: NAME }); // a crashed earlier run may have left it
    await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: PATH_BITS_PER_SEC });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await testbedDown({ name: NAME });
    rmSync(stateDirPath, { recursive: true, force: true });
    delete process.env.LIVEMIG_TESTBED_STATE_DIR;
  });

  test('one connection opens a subflow per path, both carry traffic, and stats() report each', { timeout: 90_000 }, async (t) => {
    const peer = join(here, 'mptcp-paths-peer.js');
    const port = 6401;
    const server = runIn(dstNs, [process.execPath, peer, 'server', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    const serverLines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    await waitEvent(serverLines, 'listening');
    const client = runIn(srcNs, [process.execPath, peer, 'client', pathAddresses(0).dstAddr, String(port), String(MIB)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(client);
    const clientLines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    const sent = await waitEvent(clientLines, 'sent');
    const received = await waitEvent(serverLines, 'received');

    const stats = sent.stats as ChannelStats;
    const bytes = sent.bytes as number;
    const mbit = (bytes * 8) / (sent.seconds as number) / 1e6;
    t.diagnostic(`${MIB} MiB in ${(sent.seconds as number).toFixed(2)} s = ${mbit.toFixed(1)} Mbit/s over 2 x ${PATH_BITS_PER_SEC / 1e6} mbit`);
    t.diagnostic(`paths: ${JSON.stringify(stats.paths.map((p) => ({ label: p.label, bytesSent: p.bytesSent, acked: p.subflow?.bytesAcked, rttUs: p.subflow?.rttUs, retrans: p.subflow?.retransmits })))}`);
    assert.equal(received.bytes, bytes);
    assert.equal(stats.fallback, false);
    assert.equal(sent.midwaySubflows, 2, 'subflows while the transfer ran');
    assert.equal(stats.mptcp?.congestionControl, 'cubic');
    assert.equal(stats.paths.length, 2);
    const labels = stats.paths.map((p) => p.label).sort();
    assert.match(labels[0], /^10\.77\.0\.1:\d+->10\.77\.0\.2:6401$/);
    assert.match(labels[1], /^10\.77\.1\.1:\d+->10\.77\.1\.2:6401$/);
    assert.equal(stats.paths.reduce((s, p) => s + p.bytesSent, 0), bytes);
    for (const p of stats.paths) {
      assert.ok((p.subflow?.bytesAcked ?? 0) > 0.2 * bytes, `${p.label} carried only ${p.subflow?.bytesAcked} of ${bytes} bytes`);
    }
    // One path alone moves at most ~95.5 % of its shaped rate; two must clearly beat that.
    assert.ok(mbit > 1.3 * (PATH_BITS_PER_SEC / 1e6), `${mbit.toFixed(1)} Mbit/s is no more than one path gives`);
    const receiverStats = received.stats as ChannelStats;
    t.diagnostic(`receiver paths: ${JSON.stringify(receiverStats.paths.map((p) => ({ label: p.label, bytesReceived: p.bytesReceived, kernel: p.subflow?.bytesReceived })))}`);
    assert.equal(receiverStats.fallback, false);
    assert.equal(receiverStats.paths.length, 2);
    assert.equal(receiverStats.paths.reduce((s, p) => s + p.bytesReceived, 0), bytes);
  });
});
