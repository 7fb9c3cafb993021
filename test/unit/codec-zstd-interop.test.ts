/**
 * Interop with the reference implementation, both ways, through the `zstd` CLI (/usr/bin/zstd,
 * Debian's zstd package; these tests skip when it is missing). Our payloads are magicless frames:
 * prepending the magic number makes standard frames, and stripping it from the CLI's frames makes
 * payloads for our decoder. One CLI process per direction and option set, not one per page.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAGE_SIZE } from '../../src/core/units.js';
import { isLivemigError } from '../../src/core/errors.js';
import { zstdCodec, createZstdCodec } from '../../src/codec/zstd.js';
import { zstdDeltaCodec } from '../../src/codec/zstd-delta.js';
import { makePageSet, type PageClass } from '../helpers/pages.js';

const ZSTD = '/usr/bin/zstd';
const MAGIC = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
const skip = existsSync(ZSTD) ? false : `${ZSTD} is not installed (apt-get install zstd)`;
const CLASSES: PageClass[] = ['zero', 'text', 'binary', 'random', 'delta5'];

function pagesOf(kind: PageClass): Uint8Array[] {
  const set = makePageSet(kind, 48, 13);
  if (set.olds === null) return set.pages;
  return set.pages.map((p, k) => p.map((b, i) => b ^ set.olds![k][i]));
}

function cli(args: string[], input?: Uint8Array): Buffer {
  const r = spawnSync(ZSTD, args, { input, maxBuffer: 64 << 20, timeout: 60_000 });
  assert.equal(r.status, 0, `zstd ${args.join(' ')}: ${r.stderr?.toString()}`);
  return r.stdout;
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-zstd-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const kind of CLASSES) {
  test(`our ${kind} frames, given the magic number, decode with zstd -d (levels 1, 3, 19, -5)`, { skip }, () => {
    for (const level of [1, 3, 19, -5]) {
      const codec = createZstdCodec(level);
      const pages = pagesOf(kind);
      const parts: Uint8Array[] = [];
      const sent: Uint8Array[] = [];
      for (const page of pages) {
        const out = new Uint8Array(PAGE_SIZE * 2);
        const n = codec.encode(null, page, out);
        if (n === null) continue;
        parts.push(MAGIC, out.subarray(0, n));
        sent.push(page);
      }
      if (kind !== 'random') assert.ok(sent.length > 40, `${kind} L${level}: only ${sent.length} pages compressed`);
      if (sent.length === 0) continue;
      // zstd -d decodes concatenated frames into the concatenation of their contents.
      const back = cli(['-d', '-c', '-q'], Buffer.concat(parts));
      assert.equal(back.length, sent.length * PAGE_SIZE);
      assert.ok(Buffer.concat(sent).equals(back), `${kind} L${level}: zstd -d gives other bytes`);
    }
  });
}

test('zstd CLI frames (with and without content size and checksum, levels 1..19) decode with ours once the magic is stripped', { skip }, () => {
  withTempDir((dir) => {
    for (const kind of CLASSES) {
      const pages = pagesOf(kind).slice(0, 16);
      const files = pages.map((page, k) => {
        const f = join(dir, `${kind}-${k}`);
        writeFileSync(f, page);
        return f;
      });
      for (const flags of [['-1'], ['-3', '--no-check'], ['-19', '--no-content-size'], ['--fast=5', '--no-check', '--no-content-size']]) {
        cli(['-q', '-f', ...flags, ...files]);
        for (let k = 0; k < pages.length; k++) {
          const frame = readFileSync(`${files[k]}.zst`);
          assert.ok(frame.subarray(0, 4).equals(MAGIC));
          const page = new Uint8Array(PAGE_SIZE);
          zstdCodec.decode(frame.subarray(4), page);
          assert.ok(Buffer.from(page).equals(pages[k]), `${kind}#${k} ${flags.join(' ')}`);
          // The same frame as an XOR delta onto an old page.
          const old = new Uint8Array(PAGE_SIZE).fill(0x5a);
          zstdDeltaCodec.decode(frame.subarray(4), old);
          assert.ok(old.every((b, i) => b === (pages[k][i] ^ 0x5a)));
        }
      }
    }
  });
});

test('CLI frames of the wrong size or with a bad checksum are refused by ours', { skip }, () => {
  const text = makePageSet('text', 2, 3).pages;
  const page = new Uint8Array(PAGE_SIZE);
  const twoPages = cli(['-c', '-q', '-1'], Buffer.concat(text));
  assert.throws(() => zstdCodec.decode(twoPages.subarray(4), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_OVERRUN'));
  const half = cli(['-c', '-q', '-1'], text[0].subarray(0, PAGE_SIZE / 2));
  assert.throws(() => zstdCodec.decode(half.subarray(4), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_TRUNCATED'));
  const halfStreamed = cli(['-c', '-q', '-1', '--no-content-size'], text[0].subarray(0, PAGE_SIZE / 2));
  assert.throws(() => zstdCodec.decode(halfStreamed.subarray(4), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_TRUNCATED'));
  const checked = cli(['-c', '-q', '-1', '--check'], text[0]);
  zstdCodec.decode(checked.subarray(4), page);
  const bad = Buffer.from(checked);
  bad[bad.length - 1] ^= 1;
  assert.throws(() => zstdCodec.decode(bad.subarray(4), page), (e: unknown) => isLivemigError(e, 'LIVEMIG_E_CODEC_MALFORMED'));
  // With the magic still on, the 4 bytes read as a frame header with the reserved bit set.
  assert.throws(() => zstdCodec.decode(checked, page), (e: unknown) => isLivemigError(e));
});
