import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function onlyJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `stdout must carry exactly one JSON object, got ${lines.length} lines`);
  return JSON.parse(lines[0]);
}

test('livemig migrate --json: two processes, one JSON report, verified, exit 0', async () => {
  const r = await run(['migrate', '--guest-mib', '32', '--warmup-ms', '200', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = onlyJson(r.stdout);
  assert.equal(rep.status, 'completed');
  assert.equal(rep.verified, true);
  assert.equal(rep['self-check'].ok, true);
  assert.equal(rep.codec, 'lz4-delta');
  assert.equal(rep.guest.workload, 'hotset');
  assert.equal(rep.total, 32 * 1024 * 1024);
  assert.equal(rep.destination['exit-code'], 0);
  assert.equal(rep.destination.verified, true);
  assert.match(rep['downtime-basis'], /end to end/);
  for (const k of ['total-time', 'downtime', 'setup-time', 'transferred', 'wire-bytes', 'wire-fraction', 'cache-hit-rate', 'dirty-sync-count', 'mbps']) {
    assert.equal(typeof rep[k], 'number', k);
  }
  assert.ok(rep.model.rounds.length === rep.rounds.length);
});

test('the built CLI is an executable with a shebang, as npx runs it without a terminal', async () => {
  // npx livemig runs dist/src/cli/main.js itself; only a terminal session made npx chmod it.
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(CLI, ['--help'], { timeout: 30_000 }, (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
  });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^livemig: /);
});

test('without --json the summary is readable text', async () => {
  const r = await run(['migrate', '--guest-mib', '16', '--warmup-ms', '100', '--workload', 'idle', '--codec', 'xbzrle']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /status\s+completed/);
  assert.match(r.stdout, /verified\s+yes/);
  assert.match(r.stdout, /downtime\s+[\d.]+ ms\s+\(end to end/);
});

test('a page corrupted at the destination: it refuses, both processes exit non-zero with LIVEMIG_E_DIGEST_MISMATCH', async () => {
  const r = await run(['migrate', '--guest-mib', '16', '--warmup-ms', '100', '--fault', 'corrupt-page=100', '--json']);
  assert.equal(r.code, 1);
  const rep = onlyJson(r.stdout);
  assert.equal(rep.status, 'failed');
  assert.equal(rep.error.code, 'LIVEMIG_E_DIGEST_MISMATCH');
  assert.match(r.stderr, /LIVEMIG_E_DIGEST_MISMATCH/);
  assert.match(r.stderr, /guest resumes on the source/);
});

test('wrong options get precise messages and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['migrate', '--codec', 'lz5'], /Expected --codec to be one of none, lz4, xbzrle, lz4-delta, adaptive, zstd, zstd-delta, got 'lz5'/],
    [['migrate', '--guest-mib', 'lots'], /Expected --guest-mib to be an integer/],
    [['migrate', '--max-bandwidth', '12 parsecs'], /Expected --max-bandwidth to be a byte count/],
    [['migrate', '--bogus'], /Unknown option '--bogus'/],
    [['receive'], /Expected --listen to be HOST:PORT/],
    [['receive', '--listen', '127.0.0.1:0', '--verify', 'memory'], /Expected --verify to be one of pages, full/],
    [['send', '--to', 'nowhere'], /Expected --to to be HOST:PORT/],
    [['send', '--to', '127.0.0.1:1', '--testbed'], /--testbed works with 'livemig migrate'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    // The proxy's own flags are checked before any QEMU is touched.
    [['qemu', 'migrate', '--source-qmp', '/none', '--dest-qmp', '/none', '--zstd-level', '0'], /Expected --zstd-level to be 1\.\.19 or a fast level/],
    [['qemu', 'migrate', '--source-qmp', '/none', '--dest-qmp', '/none', '--block-pages', '65'], /--block-pages/],
    [['qemu', 'migrate', '--source-qmp', '/none', '--dest-qmp', '/none', '--compress-threads', '-1'], /--compress-threads/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('send and receive across two processes; receive serves sessions until stopped', async () => {
  const port = 40000 + Math.floor(Math.random() * 20000);
  // --verify full: the receiver rehashes its whole memory, so each verdict also covers every page's bytes.
  const recv = spawn(process.execPath, [CLI, 'receive', '--listen', `127.0.0.1:${port}`, '--verify', 'full', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  recv.stdout.on('data', (d) => (out += d));
  try {
    await new Promise<void>((resolve, reject) => {
      recv.stderr.on('data', (d) => String(d).includes('listening') && resolve());
      recv.once('exit', () => reject(new Error('receiver exited')));
    });
    for (const workload of ['hotset', 'zipf']) {
      const r = await run(['send', '--to', `127.0.0.1:${port}`, '--guest-mib', '16', '--warmup-ms', '100', '--workload', workload, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(onlyJson(r.stdout).verified, true);
    }
    await new Promise((r) => setTimeout(r, 200));
    const sessions = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(sessions.length, 2);
    assert.ok(sessions.every((s) => s.verified === true));
    assert.equal(recv.exitCode, null, 'the receiver keeps serving');
  } finally {
    recv.kill('SIGTERM');
  }
});

test('a memory image migrates and verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-img-'));
  try {
    const img = Buffer.alloc(8 * 1024 * 1024);
    randomFillSync(img, 0, 1024 * 1024); // some random pages, the rest zero
    img.write('livemig image test', 4 * 1024 * 1024);
    writeFileSync(join(dir, 'mem.img'), img);
    const r = await run(['migrate', '--image', join(dir, 'mem.img'), '--codec', 'lz4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = onlyJson(r.stdout);
    assert.equal(rep.verified, true);
    assert.equal(rep.total, img.length);
    assert.ok(rep.duplicate >= 1500, 'zero pages detected');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
