import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getCodec } from '../../src/codec/index.js';
import { replayStream } from '../../src/cli/commands/qemu.js';
import { runAnalyze } from '../../src/qemu/stream/index.js';
import { QEMU_FIXTURES, loadQemuFixture, qemuFixturePath } from '../helpers/qemu-fixtures.js';

test('analyze accounts for every byte of each fixture and reports every codec', async () => {
  for (const name of QEMU_FIXTURES) {
    const bytes = loadQemuFixture(name);
    const report = await runAnalyze(async (fn) => {
      for (let at = 0; at < bytes.length; at += 65_536) fn(bytes.subarray(at, at + 65_536));
    });
    assert.equal(report.totalBytes, bytes.length);
    assert.equal(report.accountedBytes, bytes.length, `${name}: ${JSON.stringify(report.bytesByPart)}`);
    assert.ok(report.codecs.length >= 6);
    assert.ok(report.qemuRamBytes > 0 && report.ramRecords > 16_000);
  }
});

test('replay sends each fixture through codec, cache and wire, and rebuilds it byte-identical', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-qemu-replay-'));
  try {
    const runs: Array<[string, string, 'memory' | 'tcp']> = [
      ['paused10', 'adaptive', 'memory'], ['xbzrle10', 'xbzrle', 'tcp'], ['paused72', 'lz4', 'memory'], ['running72', 'adaptive', 'tcp'],
    ];
    for (const [name, codec, transport] of runs) {
      const out = join(dir, `${name}.out`);
      const result = await replayStream(qemuFixturePath(name), out, { codec: getCodec(codec) }, transport);
      assert.equal(result.identical, true, `${name} over ${transport} with ${codec}`);
      assert.ok(Buffer.from(readFileSync(out)).equals(gunzipSync(readFileSync(qemuFixturePath(name)))));
      assert.ok(result.pages > 16_000);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
