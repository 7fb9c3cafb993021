/**
 * The two-host form over the testbed: the source QEMU and `livemig qemu send` in the source
 * namespace, the destination QEMU and `livemig qemu receive` in the destination namespace, so the
 * agents are separate processes that reach each other only across the two shaped veth paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runQemuDemo } from '../../../src/qemu/proxy/index.js';
import { testbedDown, testbedUp, type TestbedConfig } from '../../../src/testbed/index.js';

const NAME = 'tqp';

function whyNotRunnable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (!existsSync('/proc/sys/net/mptcp/enabled')) return 'the kernel has no MPTCP';
  return null;
}

/** Bytes each source-side path interface has sent. */
function txByPath(tb: TestbedConfig): number[] {
  const links = JSON.parse(execFileSync('ip', ['-n', tb.srcNs, '-j', '-s', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; stats64?: { tx?: { bytes?: number } } }>;
  return tb.paths.map((p) => links.find((l) => l.ifname === p.srcDev)?.stats64?.tx?.bytes ?? 0);
}

test('the boot-sector guest migrated by livemig qemu send/receive across two shaped testbed paths keeps every page update', { skip: whyNotRunnable() ?? false, timeout: 400_000 }, async (t) => {
  await testbedDown({ name: NAME });
  const tb = (await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: 400e6 })).config;
  try {
    let before: number[] = [];
    const r = await runQemuDemo({
      guest: 'boot-sector', codec: 'lz4-delta', testbed: tb, downtimeLimitMs: 3000,
      // round-robin: the guest's stream compresses to about 1 MB, too little for least-queued to
      // ever find path 0 busier than path 1, and the test is about both paths carrying frames.
      transport: { transport: 'multipath', subflows: 1, scheduler: 'round-robin', paths: tb.paths.map((p) => ({ local: p.srcAddr, remote: p.dstAddr })) },
      beforeMigrate: () => void (before = txByPath(tb)),
    });
    const sent = txByPath(tb).map((b, i) => b - before[i]);
    const l = r.report.livemig!;
    t.diagnostic(`total ${r.report.qemu['total-time']} ms, downtime ${r.report.qemu.downtime} ms, wire ${l.wireBytes} B, per path ${sent.join(' / ')} B`);
    assert.equal(r.report.destination.status, 'running');
    assert.equal(r.check.kind, 'boot-sector');
    if (r.check.kind === 'boot-sector') assert.equal(r.check.bad, 0, `pages whose update was lost: ${r.check.firstBad.join(', ')}`);
    assert.equal(l.destinationStreamBytes, l.streamBytes, 'the destination QEMU got every stream byte');
    // Both paths carried a real share of the channel: the agents talked across the testbed.
    for (const [i, b] of sent.entries()) assert.ok(b > l.wireBytes * 0.1, `path ${i} sent ${b} B of ${l.wireBytes}`);
    // Each side's CPU: the agents report their own (each at least started Node and moved the stream),
    // and the source QEMU ran its guest and migration thread through the span.
    assert.ok(r.report.livemig !== null && r.report.agentsCpuMs, 'the testbed report carries the agents\' CPU');
    const { source, destination } = r.report.agentsCpuMs;
    assert.ok(source !== null && source > 0 && destination !== null && destination > 0, `agents' CPU ${source} / ${destination} ms`);
    assert.ok(r.qemuCpuMs.source !== null && r.qemuCpuMs.source > 0, `source QEMU CPU ${r.qemuCpuMs.source} ms`);
    assert.ok(r.qemuCpuMs.destination !== null && r.qemuCpuMs.destination >= 0);
    assert.ok(r.ok);
  } finally {
    await testbedDown({ name: NAME });
  }
});
