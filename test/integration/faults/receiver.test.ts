/**
 * The `livemig receive` agent under load and abuse: several guests at once, refused and garbage
 * connections, sessions over its limits; it keeps serving through all of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startCli, startReceiver, tempKeys, until } from './kit.js';

function garbage(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('data', () => {});
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

const SEND = ['--warmup-ms', '0', '--json', '--workload', 'hotset'];

test('four guests migrate at once to one keyed receive agent and all verify, while wrong-key and garbage connections are refused and counted', async () => {
  const keys = tempKeys();
  const agent = await startReceiver(['--json', '--key-file', keys.keyA, '--max-sessions', '4']);
  try {
    const to = `127.0.0.1:${agent.port}`;
    const sends = [1, 2, 3, 4].map((seed) => startCli(['send', '--to', to, '--key-file', keys.keyA, '--guest-mib', '16', '--seed', String(seed), '--max-bandwidth', '40MB', ...SEND]));
    const intruder = startCli(['send', '--to', to, '--key-file', keys.keyB, '--guest-mib', '8', ...SEND]);
    await garbage(agent.port, randomBytes(2000));
    await garbage(agent.port, Buffer.from('LMIG'));
    assert.notEqual(await intruder.exited, 0);
    assert.match(intruder.stderr(), /LIVEMIG_E_AUTH/);
    const codes = await Promise.all(sends.map((s) => s.exited));
    for (const [i, s] of sends.entries()) {
      assert.equal(codes[i], 0, s.stderr());
      const report = JSON.parse(s.stdout().trim());
      assert.equal(report.verified, true);
      assert.equal(report['self-check'].ok, true);
    }
    await until(() => (agent.stdout().match(/"verified":true/g) ?? []).length === 4, 'four verified sessions at the agent');
    await until(() => (agent.stderr().match(/refused connection #/g) ?? []).length >= 3, 'three refusals counted');
    assert.equal(agent.child.exitCode, null, 'the agent is still serving');
  } finally {
    await agent.stop();
    keys.cleanup();
  }
});

test('sessions over --max-sessions or --max-guest-mib are refused with LIVEMIG_E_LIMIT, and the agent serves the next one', async () => {
  const agent = await startReceiver(['--json', '-v', '--max-sessions', '1', '--max-guest-mib', '16']);
  try {
    const to = `127.0.0.1:${agent.port}`;
    // A slow session holds the only slot.
    const slow = startCli(['send', '--to', to, '--guest-mib', '16', '--codec', 'none', '--max-bandwidth', '8MB', ...SEND]);
    await until(() => /session [0-9a-f-]+: \d+ pages/.test(agent.stderr()), 'the first session to start');
    const busy = startCli(['send', '--to', to, '--guest-mib', '8', ...SEND]);
    assert.notEqual(await busy.exited, 0);
    assert.match(busy.stderr(), /LIVEMIG_E_LIMIT.*--max-sessions/);
    assert.equal(await slow.exited, 0, slow.stderr());
    const big = startCli(['send', '--to', to, '--guest-mib', '32', ...SEND]);
    assert.notEqual(await big.exited, 0);
    assert.match(big.stderr(), /LIVEMIG_E_LIMIT.*--max-guest-mib/);
    const ok = startCli(['send', '--to', to, '--guest-mib', '8', ...SEND]);
    assert.equal(await ok.exited, 0, ok.stderr());
    assert.equal(agent.child.exitCode, null, 'the agent is still serving');
  } finally {
    await agent.stop();
  }
});

test('send and receive over TLS with mutual certificates verify; a sender without --tls is refused and the agent serves on', async () => {
  const keys = tempKeys();
  try {
    const { makeCerts } = await import('./kit.js');
    const c = makeCerts(keys.dir);
    const agent = await startReceiver(['--json', '--tls', '--tls-cert', c.serverCert, '--tls-key', c.serverKey, '--tls-ca', c.ca]);
    try {
      const to = `127.0.0.1:${agent.port}`;
      const plain = startCli(['send', '--to', to, '--guest-mib', '8', ...SEND]);
      assert.notEqual(await plain.exited, 0);
      const s = startCli(['send', '--to', to, '--tls', '--tls-cert', c.clientCert, '--tls-key', c.clientKey, '--tls-ca', c.ca, '--guest-mib', '8', ...SEND]);
      assert.equal(await s.exited, 0, s.stderr());
      assert.equal(JSON.parse(s.stdout().trim()).verified, true);
      await until(() => /refused connection #1: LIVEMIG_E_AUTH/.test(agent.stderr()), 'the plain sender to be counted');
      assert.equal(agent.child.exitCode, null);
    } finally {
      await agent.stop();
    }
  } finally {
    keys.cleanup();
  }
});
