import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../../experiments/runner.js';
import { syntheticDriver } from '../../experiments/driver.js';
import { cacheScenario } from '../../experiments/scenarios/cache.js';

test('the cache experiment runs end to end on tiny guests and produces its charts as PNG', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lm-exp-e2e-'));
  try {
    const scenario = cacheScenario({ quickGuestMiB: 16, quickCacheMiB: [1, 4] });
    const r = await runExperiment(scenario, { quick: true, runs: 1, guest: 'synthetic' }, { driver: syntheticDriver, outDir: dir, log: () => undefined });
    assert.equal(r.records.length, 4);
    for (const rec of r.records) {
      assert.ok(rec.ok, `${JSON.stringify(rec.labels)}: ${rec.error}`);
      assert.equal(rec.metrics.verified, 1);
      assert.ok(rec.metrics['cache-hit-rate'] >= 0 && rec.metrics['cache-hit-rate'] <= 1);
    }
    assert.equal(r.claims.length, 2);
    const png = await readFile(join(dir, 'charts', 'cache-hit-rate.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    const report = await readFile(join(dir, 'REPORT.md'), 'utf8');
    assert.match(report, /2-way set-associative/);
    const csv = await readFile(join(dir, 'summary.csv'), 'utf8');
    assert.match(csv, /^cache-mib,policy,runs,failed,/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
