/**
 * The network testbed, for real: namespaces, veths, tbf, MPTCP endpoints, cross traffic. Needs
 * root; uses its own testbed name (lm-lmtest-src/dst) and state directory so that it never touches
 * a testbed someone else brought up, and removes everything in `after`, also when a test fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  listNamespaces, namespaceNames, pathAddresses, runIn, setPathState, startCongestion, statePath, testbedDown,
  testbedStatus, testbedUp,
} from '../../src/testbed/index.js';
import { isLivemigError } from '../../src/core/index.js';

const NAME = 'lmtest';
const { srcNs, dstNs } = namespaceNames(NAME);
const here = fileURLToPath(new URL('.', import.meta.url));
const testbedIndex = fileURLToPath(new URL('../../src/testbed/index.js', import.meta.url));

function whyNotRunnable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('tc', ['-V']).status !== 0) return 'tc is not installed';
  return null;
}
const skip = whyNotRunnable();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads JSON lines from a child until one with `event === want` arrives. */
async function waitEvent(lines: AsyncIterator<string>, want: string): Promise<Record<string, unknown>> {
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const msg = JSON.parse(next.value) as Record<string, unknown>;
    if (msg.event === want) return msg;
  }
  throw new Error(`process ended before '${want}'`);
}

describe('testbed (network namespaces, tbf, MPTCP)', { skip: skip ?? false }, () => {
  const children: ChildProcess[] = [];
  let stateDirPath = '';

  before(async () => {
    stateDirPath = mkdtempSync(join(tmpdir(), 'livemig-testbed-state-'));
    process.env.LIVEMIG_TESTBED_STATE_DIR = stateDirPath;
    await testbedDown({ name: NAME }); // a crashed earlier run may have left it
  });

  after(async () => {
    for (const c of children) if (c.pid !== undefined && alive(c.pid)) c.kill('SIGKILL');
    await testbedDown({ name: NAME });
    rmSync(stateDirPath, { recursive: true, force: true });
    delete process.env.LIVEMIG_TESTBED_STATE_DIR;
  });

  test('up creates both namespaces and K shaped paths, and a second identical up is a no-op', async () => {
    const first = await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: [100e6, 300e6] });
    assert.equal(first.changed, true);
    const present = await listNamespaces();
    assert.ok(present.includes(srcNs) && present.includes(dstNs), `namespaces: ${present.join(', ')}`);
    const status = await testbedStatus({ name: NAME });
    assert.equal(status.up, true);
    assert.deepEqual(status.problems, []);
    assert.deepEqual(status.paths.map((p) => [p.srcAddr, p.dstAddr, p.state, p.lowerUp]),
      [['10.77.0.1', '10.77.0.2', 'up', true], ['10.77.1.1', '10.77.1.2', 'up', true]]);
    assert.deepEqual(status.paths.map((p) => [p.shapedSrcBitsPerSec, p.shapedDstBitsPerSec]), [[100e6, 100e6], [300e6, 300e6]]);
    assert.equal(status.mptcpEndpoints.length, 1);
    assert.match(status.mptcpEndpoints[0], /10\.77\.1\.2 .*signal/);
    // Every path's route carries cubic: the netns default cannot be set to it (see index.ts).
    const routes = execFileSync('ip', ['-n', srcNs, 'route', 'show'], { encoding: 'utf8' });
    assert.match(routes, /10\.77\.0\.0\/24 dev lm-s0 .*congctl cubic/);
    assert.match(routes, /10\.77\.1\.0\/24 dev lm-s1 .*congctl cubic/);

    const nsid = execFileSync('ip', ['netns', 'exec', srcNs, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    const again = await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: [100e6, 300e6] });
    assert.equal(again.changed, false);
    assert.equal(execFileSync('ip', ['netns', 'exec', srcNs, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }), nsid,
      'an identical up must not rebuild the namespace');
  });

  test('up with a different configuration rebuilds, and back', async () => {
    const three = await testbedUp({ name: NAME, paths: 3, rateBitsPerSec: 50e6 });
    assert.equal(three.changed, true);
    const status = await testbedStatus({ name: NAME });
    assert.equal(status.paths.length, 3);
    assert.deepEqual(status.paths.map((p) => p.shapedSrcBitsPerSec), [50e6, 50e6, 50e6]);
    assert.equal(status.mptcpEndpoints.length, 2);
    assert.equal((await testbedUp({ name: NAME, paths: 2, rateBitsPerSec: [100e6, 300e6] })).changed, true);
    assert.equal((await testbedStatus({ name: NAME })).paths.length, 2);
  });

  test('a TCP flow over a path runs at about its shaped rate (100mbit and 300mbit paths)', async () => {
    const slow = await (await startCongestion({ name: NAME, path: 0, seconds: 3, rateBitsPerSec: null })).done;
    const fast = await (await startCongestion({ name: NAME, path: 1, seconds: 3, rateBitsPerSec: null })).done;
    assert.ok(slow && fast);
    const slowMbit = slow.bitsPerSec / 1e6;
    const fastMbit = fast.bitsPerSec / 1e6;
    process.stderr.write(`# measured goodput: path 0 (100mbit) ${slowMbit.toFixed(1)} Mbit/s, path 1 (300mbit) ${fastMbit.toFixed(1)} Mbit/s\n`);
    // Generous bands: the test proves shaping, not the machine's speed (tbf counts headers: ≈95.5 %).
    assert.ok(slowMbit >= 70 && slowMbit <= 105, `path 0 ran at ${slowMbit.toFixed(1)} Mbit/s, expected 70-105`);
    assert.ok(fastMbit <= 315, `path 1 ran at ${fastMbit.toFixed(1)} Mbit/s, above its 300mbit shaping`);
    assert.ok(fastMbit > 1.5 * slowMbit, `path 1 (${fastMbit.toFixed(1)}) should clearly outrun path 0 (${slowMbit.toFixed(1)})`);
  });

  test('a kernel MPTCP connection to path 0 opens one subflow per path, each with cubic', async () => {
    const peer = join(here, 'testbed-mptcp-peer.js');
    const port = 6301;
    const server = runIn(dstNs, [process.execPath, peer, 'server', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    const serverLines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    await waitEvent(serverLines, 'listening');
    const client = runIn(srcNs, [process.execPath, peer, 'client', pathAddresses(0).dstAddr, String(port), '3'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(client);
    const clientLines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    await sleep(1500);
    const ss = execFileSync('ip', ['netns', 'exec', srcNs, 'ss', '-tinH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
    const sent = await waitEvent(clientLines, 'sent');
    const received = await waitEvent(serverLines, 'received');
    await Promise.all([client.exitCode === null ? once(client, 'exit') : null, server.exitCode === null ? once(server, 'exit') : null]);

    process.stderr.write(`# MPTCP: ${JSON.stringify(sent)}\n`);
    assert.equal(sent.infoRc, 0, 'MPTCP_INFO failed: the connection fell back to plain TCP');
    assert.equal(sent.subflowsTotal, 2);
    const acked = sent.subflowBytesAcked as number[];
    assert.equal(acked.length, 2);
    for (const b of acked) assert.ok(b > 1e6, `every subflow should carry data, got ${acked.join(', ')} bytes`);
    assert.equal(received.bytes, sent.sent);
    // One subflow leaves from each path's source address, and each runs cubic.
    assert.match(ss, /10\.77\.0\.1:\d+\s+10\.77\.0\.2:6301/);
    assert.match(ss, /10\.77\.1\.1:\d+\s+10\.77\.1\.2:6301/);
    assert.equal((ss.match(/\bcubic\b/g) ?? []).length, 2, ss);
  });

  test('setPathState takes a path down and up again', async () => {
    await setPathState(1, 'down', { name: NAME });
    let p1 = (await testbedStatus({ name: NAME })).paths[1];
    assert.equal(p1.state, 'down');
    assert.equal(p1.lowerUp, false);
    await setPathState(1, 'up', { name: NAME });
    const status = await testbedStatus({ name: NAME });
    p1 = status.paths[1];
    assert.equal(p1.state, 'up');
    assert.deepEqual(status.problems, [], 'the route flushed by link-down is back');
    const flow = await (await startCongestion({ name: NAME, path: 1, seconds: 1, rateBitsPerSec: 20e6 })).done;
    assert.ok(flow && flow.bytes > 1e6, 'traffic flows over the path again');
    await assert.rejects(setPathState(5, 'down', { name: NAME }), (e) => isLivemigError(e, 'LIVEMIG_E_INVALID_OPTION'));
  });

  test('congest runs bounded cross traffic that stops by itself', async () => {
    const flow = await startCongestion({ name: NAME, path: 0, rateBitsPerSec: 40e6, seconds: 2, background: true });
    assert.equal(flow.pids.length, 2);
    await sleep(700);
    assert.ok(flow.pids.every(alive), 'both cross-traffic processes run');
    const status = await testbedStatus({ name: NAME, sampleMs: 500 });
    assert.equal(status.congestion.length, 1);
    const sampled = status.paths[0].sampledTxBitsPerSec ?? 0;
    assert.ok(sampled > 20e6 && sampled < 60e6, `path 0 carried ${(sampled / 1e6).toFixed(1)} Mbit/s of 40mbit cross traffic`);
    const t0 = Date.now();
    await flow.done;
    assert.ok(Date.now() - t0 < 5000, 'the flow ended by itself about 2 s after it started');
    assert.ok(!flow.pids.some(alive));
    assert.equal((await testbedStatus({ name: NAME })).congestion.length, 0);
  });

  test('the CLI reports status as JSON', () => {
    // In a child process: this one's stdout belongs to the test runner.
    const cli = fileURLToPath(new URL('../../src/cli/commands/testbed.js', import.meta.url));
    const run = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { testbedCommand } = await import(${JSON.stringify(cli)});
      testbedCommand(${JSON.stringify(args)}).then((c) => { process.exitCode = c; }, (e) => { console.error(e.code); process.exitCode = 9; });`],
    { encoding: 'utf8', env: process.env });
    const status = run(['status', '--name', NAME, '--json']);
    assert.equal(status.status, 0, String(status.stderr));
    const json = JSON.parse(String(status.stdout)) as { up: boolean; paths: Array<{ rateBitsPerSec: number }> };
    assert.equal(json.up, true);
    assert.deepEqual(json.paths.map((p) => p.rateBitsPerSec), [100e6, 300e6]);
    const bad = run(['up', '--name', NAME, '--paths', '3', '--rate', '1gbit,2gbit']);
    assert.equal(bad.status, 9);
    assert.match(String(bad.stderr), /LIVEMIG_E_INVALID_OPTION/);
  });

  test('down removes the namespaces, every process inside them and the state file', async () => {
    const flow = await startCongestion({ name: NAME, path: 1, rateBitsPerSec: 10e6, seconds: 30, background: true });
    await sleep(300);
    const log = join(stateDirPath, `${NAME}-congest-1.log`);
    assert.ok(flow.pids.every(alive), `cross traffic should run: ${existsSync(log) ? readFileSync(log, 'utf8') : 'no log'}`);
    const result = await testbedDown({ name: NAME });
    assert.deepEqual(result.removed.sort(), [dstNs, srcNs].sort());
    const left = (await listNamespaces()).filter((n) => n.startsWith(`lm-${NAME}-`));
    assert.deepEqual(left, []);
    assert.ok(!flow.pids.some(alive), 'cross traffic was ended');
    assert.equal(existsSync(statePath(NAME)), false);
    assert.equal(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes('lm-s0'), false, 'no veth left on the host');
    assert.deepEqual((await testbedDown({ name: NAME })).removed, [], 'a second down finds nothing');
    assert.equal((await testbedStatus({ name: NAME })).up, false);
  });

  test('a failed up removes what it had made', async () => {
    // A tc that always fails, first on PATH: up fails after creating namespaces and veths.
    const fakeBin = mkdtempSync(join(tmpdir(), 'livemig-fake-tc-'));
    writeFileSync(join(fakeBin, 'tc'), '#!/bin/sh\necho "RTNETLINK answers: simulated failure" >&2\nexit 2\n');
    chmodSync(join(fakeBin, 'tc'), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${fakeBin}:${savedPath ?? ''}`;
    try {
      await assert.rejects(testbedUp({ name: NAME, paths: 2 }),
        (e) => isLivemigError(e, 'LIVEMIG_E_TESTBED') && /simulated failure/.test(e.message));
    } finally {
      process.env.PATH = savedPath;
      rmSync(fakeBin, { recursive: true, force: true });
    }
    assert.deepEqual((await listNamespaces()).filter((n) => n.startsWith(`lm-${NAME}-`)), []);
    assert.equal(existsSync(statePath(NAME)), false);
  });

  test('without root, up, down, status and runIn refuse with LIVEMIG_E_NOT_ROOT', (t) => {
    const setpriv = spawnSync('setpriv', ['--version']);
    if (setpriv.status !== 0) return t.skip('setpriv (util-linux) is not installed');
    const script = `
      const m = await import(${JSON.stringify(testbedIndex)});
      const codes = [];
      for (const f of [() => m.testbedUp({ name: 'x' }), () => m.testbedDown(), () => m.testbedStatus(), () => m.runIn('src', ['true'])]) {
        try { await f(); codes.push('no error'); } catch (e) { codes.push(e.code + ': ' + e.message); }
      }
      console.log(JSON.stringify(codes));`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script],
      { encoding: 'utf8', cwd: '/' });
    if (r.status !== 0 && /EACCES|permission denied/i.test(r.stderr)) return t.skip(`nobody cannot read the build: ${r.stderr.trim()}`);
    assert.equal(r.status, 0, r.stderr);
    const codes = JSON.parse(r.stdout.trim()) as string[];
    assert.equal(codes.length, 4);
    for (const c of codes) assert.match(c, /^LIVEMIG_E_NOT_ROOT: .*needs root/);
  });
});
