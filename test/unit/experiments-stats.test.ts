import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregate, labelKey, med, median, select, summarise } from '../../experiments/stats.js';
import { formatSummary, markdownTable } from '../../experiments/report.js';
import type { RunRecord } from '../../experiments/types.js';

function rec(labels: RunRecord['labels'], run: number, metrics: Record<string, number>, ok = true): RunRecord {
  return { scenario: 's', pointIndex: 0, labels, run, ok, metrics, report: null, wallMs: 1, load1: 0.5 };
}

test('median takes the middle value of an odd count and the mean of the two middle values of an even count', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});

test('median does not reorder its input', () => {
  const v = [3, 1, 2];
  median(v);
  assert.deepEqual(v, [3, 1, 2]);
});

test('summarise gives median, min and max of the finite values only', () => {
  assert.deepEqual(summarise([5, NaN, 1, 3, Infinity]), { median: 3, min: 1, max: 5, n: 3 });
  const empty = summarise([NaN]);
  assert.equal(empty.n, 0);
  assert.ok(Number.isNaN(empty.median));
});

test('labelKey is the same whatever the order of the labels', () => {
  assert.equal(labelKey({ a: 1, b: 'x' }), labelKey({ b: 'x', a: 1 }));
  assert.notEqual(labelKey({ a: 1 }), labelKey({ a: '1x' }));
});

test('aggregate groups runs by point and summarises each metric over the successful runs', () => {
  const rows = aggregate([
    rec({ t: 'tcp', s: 512 }, 1, { time: 10 }),
    rec({ t: 'mptcp', s: 512 }, 1, { time: 6 }),
    rec({ s: 512, t: 'tcp' }, 2, { time: 12 }),
    rec({ t: 'tcp', s: 512 }, 3, { time: 0 }, false),
    rec({ t: 'tcp', s: 512 }, 4, { time: 11 }),
  ]);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0].labels, { t: 'tcp', s: 512 });
  assert.equal(rows[0].runs, 4);
  assert.equal(rows[0].failed, 1);
  // The failed run's 0 must not drag the median or the minimum down.
  assert.deepEqual(rows[0].stats.time, { median: 11, min: 10, max: 12, n: 3 });
  assert.deepEqual(rows[1].stats.time, { median: 6, min: 6, max: 6, n: 1 });
  assert.equal(select(rows, { t: 'mptcp' }).length, 1);
  assert.equal(med(rows, { t: 'tcp', s: 512 }, 'time'), 11);
  assert.ok(Number.isNaN(med(rows, { t: 'quic' }, 'time')));
});

test('a point whose runs all failed is kept with no statistics', () => {
  const [row] = aggregate([rec({ p: 1 }, 1, {}, false), rec({ p: 1 }, 2, {}, false)]);
  assert.equal(row.failed, 2);
  assert.deepEqual(row.stats, {});
  assert.match(markdownTable([row], ['time']), /\| 1 \| – \| 2 \(2\) \|/);
});

test('formatSummary prints the median with its min–max range', () => {
  assert.equal(formatSummary({ median: 12.34, min: 11.5, max: 13.01, n: 3 }), '12.3 (11.5–13.0)');
  assert.equal(formatSummary({ median: 0.5, min: 0.5, max: 0.5, n: 1 }), '0.500');
  assert.equal(formatSummary(undefined), '–');
});
