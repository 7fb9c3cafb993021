import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment, type TestbedOps } from '../../experiments/runner.js';
import { getDriver, migrateArgs, parseMigrateOutput, type MigrationDriver } from '../../experiments/driver.js';
import { parseExperimentArgs } from '../../experiments/cli.js';
import { barChart } from '../../experiments/charts.js';
import { findScenario, allScenarios } from '../../experiments/scenarios/index.js';
import { subflowArgs } from '../../experiments/scenarios/subflows.js';
import { clearlyLess } from '../../experiments/scenarios/common.js';
import type { MigrationReport } from '../../src/engine/index.js';
import type { Point, Scenario } from '../../experiments/types.js';

/** A report with just what the common metrics read. */
function fakeReport(totalMs: number, wireBytes: number): MigrationReport {
  return {
    status: 'completed', 'total-time': totalMs, downtime: 100, 'setup-time': 5, transferred: wireBytes, 'wire-bytes': wireBytes,
    'wire-fraction': 0.5, 'cache-hit-rate': 0.9, rounds: [{}, {}], mbps: 800, converged: true, verified: true,
    'xbzrle-cache': { pages: 1, overflow: 0 }, 'source-max-rss': 1e8, paths: [{ bytesSent: wireBytes }],
  } as unknown as MigrationReport;
}

const scenario: Scenario = {
  name: 'fake',
  title: 'fake',
  description: 'a fake scenario',
  points: (): Point[] => [
    { labels: { transport: 'tcp' }, args: ['--transport', 'tcp'], testbed: { paths: 2, rateBitsPerSec: 1e9 } },
    { labels: { transport: 'mptcp' }, args: ['--transport', 'mptcp'], testbed: { paths: 2, rateBitsPerSec: 1e9 }, congestion: { path: 0, rateBitsPerSec: null } },
  ],
  charts: (rows) => [barChart({ id: 'fake-time', title: 'Fake time', rows, x: { field: 'transport', title: 'transport' }, metric: 'total-time-s', yTitle: 'total time (s)' })],
  claims: (rows) => [{ paper: 'mptcp is faster', measured: `${rows.length} rows`, holds: true }],
};

test('the runner runs every point N times run-major, manages testbed and cross traffic, and writes raw, CSV, charts and report', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lm-exp-'));
  const calls: string[] = [];
  let n = 0;
  const driver: MigrationDriver = {
    name: 'fake',
    async migrate(point, ctx) {
      calls.push(`migrate ${point.labels.transport} ${ctx.testbedName}`);
      n++;
      // The third migration fails, and its retry too: it must be recorded, not counted.
      if (n === 3 || n === 4) return { report: null, error: 'boom' };
      return { report: fakeReport(point.labels.transport === 'tcp' ? 2000 + n : 1000 + n, 1e6) };
    },
  };
  const tb: TestbedOps = {
    async up(need) { calls.push(`up ${need.paths}`); },
    async down() { calls.push('down'); },
    async congest(c) { calls.push(`congest ${c.path}`); return { stop: async () => { calls.push('stop'); } }; },
  };
  try {
    const r = await runExperiment(scenario, { quick: true, runs: 2, guest: 'fake' }, { driver, outDir: dir, testbed: tb, log: () => undefined, congestionWarmupS: 0 });
    assert.deepEqual(calls, [
      'up 2', 'migrate tcp eval', 'congest 0', 'migrate mptcp eval', 'stop',
      'migrate tcp eval', 'migrate tcp eval', 'congest 0', 'migrate mptcp eval', 'stop', 'down',
    ]);
    assert.equal(r.records.length, 4);
    assert.deepEqual(r.records.map((x) => x.ok), [true, true, false, true]);
    const tcp = r.rows.find((x) => x.labels.transport === 'tcp')!;
    assert.equal(tcp.failed, 1);
    assert.deepEqual(tcp.stats['total-time-s'], { median: 2.001, min: 2.001, max: 2.001, n: 1 });
    const mptcp = r.rows.find((x) => x.labels.transport === 'mptcp')!;
    assert.equal(mptcp.stats['total-time-s'].median, (1.002 + 1.005) / 2);
    const files = await readdir(join(dir, 'runs'));
    assert.deepEqual(files.sort(), ['p00-r1.json', 'p00-r2.json', 'p01-r1.json', 'p01-r2.json']);
    const raw = JSON.parse(await readFile(join(dir, 'runs', 'p00-r2.json'), 'utf8'));
    assert.equal(raw.ok, false);
    assert.equal(raw.error, 'boom');
    const csv = await readFile(join(dir, 'runs.csv'), 'utf8');
    assert.equal(csv.trim().split('\n').length, 5);
    assert.match(csv.split('\n')[0], /^transport,run,ok,error,wall-ms,load1,total-time-s/);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.match(config.machine.commit, /^([0-9a-f]{40}|unknown)$/);
    assert.equal(typeof config.machine.loadavg[0], 'number');
    assert.ok(config.machine.cores >= 1);
    const report = await readFile(join(dir, 'REPORT.md'), 'utf8');
    assert.match(report, /mptcp is faster/);
    assert.match(report, /charts\/fake-time\.png/);
    assert.match(report, /Failed runs/);
    const png = await readFile(join(dir, 'charts', 'fake-time.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run whose first attempt dies without a report is retried once, and the retry is recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lm-exp-'));
  let n = 0;
  const driver: MigrationDriver = { name: 'x', migrate: async () => (++n === 1 ? { report: null, error: 'SyntaxError: half-written module' } : { report: fakeReport(1000, 1e6) }) };
  const one: Scenario = { ...scenario, points: () => [{ labels: { p: 1 }, args: [] }] };
  try {
    const r = await runExperiment(one, { quick: true, runs: 1, guest: 'x' }, { driver, outDir: dir, log: () => undefined, charts: false });
    assert.equal(n, 2);
    assert.equal(r.records[0].ok, true);
    assert.equal(r.records[0].retried, 'SyntaxError: half-written module');
    assert.match(await readFile(join(dir, 'REPORT.md'), 'utf8'), /retried once[^]*half-written module/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the testbed comes down even when a migration throws', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lm-exp-'));
  const calls: string[] = [];
  const driver: MigrationDriver = { name: 'x', migrate: async () => { throw new Error('driver crashed'); } };
  const tb: TestbedOps = { up: async () => { calls.push('up'); }, down: async () => { calls.push('down'); }, congest: async () => ({ stop: async () => { calls.push('stop'); } }) };
  try {
    const r = await runExperiment(scenario, { quick: true, runs: 1, guest: 'x' }, { driver, outDir: dir, testbed: tb, log: () => undefined, congestionWarmupS: 0, charts: false });
    assert.deepEqual(r.records.map((x) => x.error), ['driver crashed', 'driver crashed']);
    assert.deepEqual(calls, ['up', 'stop', 'down']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('migrate arguments add --json and, for testbed points, the testbed name', () => {
  assert.deepEqual(migrateArgs({ labels: {}, args: ['--codec', 'none'] }, {}), ['migrate', '--json', '--codec', 'none']);
  assert.deepEqual(migrateArgs({ labels: {}, args: [], testbed: { paths: 2, rateBitsPerSec: 1e9 } }, { testbedName: 'eval' }), ['migrate', '--json', '--testbed', '--testbed-name', 'eval']);
});

test('the migrate output parser takes the last JSON line and reports failures', () => {
  const ok = parseMigrateOutput(`noise\n${JSON.stringify({ status: 'completed', 'total-time': 5 })}\n`, '');
  assert.equal(ok.report?.['total-time'], 5);
  const failed = parseMigrateOutput(JSON.stringify({ status: 'failed', error: { message: 'digest mismatch' } }), '');
  assert.equal(failed.report, null);
  assert.equal(failed.error, 'digest mismatch');
  assert.equal(parseMigrateOutput('', 'exit 1').error, 'exit 1');
});

test('experiment options: quick means one run unless --runs says otherwise; bad values are precise errors', () => {
  assert.deepEqual(parseExperimentArgs(['cache']).opts, { quick: false, runs: 3, guest: 'synthetic' });
  assert.equal(parseExperimentArgs(['cache', '--quick']).opts.runs, 1);
  assert.equal(parseExperimentArgs(['cache', '--quick', '--runs', '5']).opts.runs, 5);
  assert.throws(() => parseExperimentArgs(['cache', '--runs', '0']), /Expected --runs to be an integer from 1 to 100, got '0'/);
  assert.throws(() => parseExperimentArgs(['cache', '--bogus']));
});

test('the qemu guest driver is a hook with a clear message until it is registered', () => {
  assert.equal(getDriver('synthetic').name, 'synthetic');
  assert.throws(() => getDriver('qemu'), /QEMU guest driver is not built yet/);
});

test('every scenario the brief names is registered, fig6 and fig8 as aliases, with ≥ 3 runs by default', () => {
  for (const n of ['exp-a', 'fig5', 'fig6', 'fig7', 'fig8', 'subflows', 'congestion', 'model', 'cache']) assert.ok(findScenario(n), n);
  assert.equal(findScenario('fig6')!.name, 'fig5');
  assert.equal(findScenario('fig8')!.name, 'fig7');
  for (const s of allScenarios()) {
    const quick = s.points({ quick: true, runs: 1, guest: 'synthetic' });
    const full = s.points({ quick: false, runs: 3, guest: 'synthetic' });
    assert.ok(quick.length > 0 && quick.length <= full.length, s.name);
    for (const p of full) assert.ok(!p.congestion || p.testbed, `${s.name}: cross traffic needs the testbed`);
  }
});

test('subflow counts map to paths and subflows per path', () => {
  assert.deepEqual(subflowArgs(1), ['--transport', 'multipath', '--paths', '10.77.0.1>10.77.0.2', '--subflows', '1']);
  assert.deepEqual(subflowArgs(16), ['--transport', 'multipath', '--subflows', '8']);
});

test('a claim "A < B" holds only when the ranges separate, fails when the medians disagree', () => {
  const s = (median: number, min: number, max: number) => ({ median, min, max, n: 3 });
  assert.equal(clearlyLess(s(5, 4, 6), s(10, 9, 11)), true);
  assert.equal(clearlyLess(s(10, 9, 11), s(5, 4, 6)), false);
  assert.equal(clearlyLess(s(5, 4, 9), s(6, 5, 8)), null);
  assert.equal(clearlyLess(undefined, s(1, 1, 1)), null);
});
