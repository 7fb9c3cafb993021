/** The adaptive driver's guess of the next round's pages, which the chooser decides on. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, FakeClock } from '../../src/core/index.js';
import { AdaptiveDriver } from '../../src/engine/codec-adapt.js';
import { CodecChooser, type PageMix } from '../../src/engine/codec-chooser.js';
import { emptySamples, type PlanOrder, type PlanSamples } from '../../src/engine/codec-plan.js';

/** A chooser that records each mix it is asked about. */
class RecordingChooser extends CodecChooser {
  readonly mixes: PageMix[] = [];
  override decide(mix: PageMix, hysteresis = 0) {
    this.mixes.push(mix);
    return super.decide(mix, hysteresis);
  }
}

/** An encoder that hands the driver one round's samples: `full` pages sent whole, `delta` as deltas, the rest zero or unchanged. */
function fakeEncoder() {
  let next: PlanSamples = emptySamples();
  return {
    plans: [] as PlanOrder[],
    setPlan(o: PlanOrder) {
      this.plans.push(o);
    },
    takeSamples() {
      const s = next;
      next = emptySamples();
      return s;
    },
    round(pages: number, full: number, delta: number) {
      next = { ...emptySamples(), pages, full, delta };
    },
  };
}

test('after round 0 the driver expects only the share of pages the cache could keep to hit it', () => {
  const enc = fakeEncoder();
  const chooser = new RecordingChooser({ pageSize: PAGE_SIZE, capBytesPerSec: 125e6 });
  const slots = 16_384;
  const driver = new AdaptiveDriver(enc, chooser, new FakeClock(), () => 0, { cacheSlots: slots });
  driver.beginRound(0, 131_072);
  assert.deepEqual(chooser.mixes[0], { full: 131_072, delta: 0, pages: 131_072 });
  // Round 0 sent 102,400 pages with a payload (the rest were zero): the cache holds a sixth of them.
  enc.round(131_072, 102_400, 0);
  driver.endRound(0);
  driver.beginRound(1, 13_000);
  const m1 = chooser.mixes[1];
  const sent = 13_000 * (102_400 / 131_072);
  const hit = slots / 102_400;
  assert.ok(Math.abs(m1.delta - sent * hit) < 1e-6, `delta ${m1.delta}, expected ${sent * hit}`);
  assert.ok(Math.abs(m1.full - sent * (1 - hit)) < 1e-6, `full ${m1.full}`);
  assert.equal(m1.pages, 13_000);
  // From then on the last round's measured shares carry over, scaled to the new dirty count.
  enc.round(13_000, 9_000, 3_000);
  driver.endRound(1);
  driver.beginRound(2, 6_500);
  assert.deepEqual(chooser.mixes[2], { full: 4_500, delta: 1_500, pages: 6_500 });
  // Each round's decision reached the encoder.
  assert.equal(enc.plans.length, 3);
});

test('a cache larger than round 0 expects every re-dirtied page to hit', () => {
  const enc = fakeEncoder();
  const chooser = new RecordingChooser({ pageSize: PAGE_SIZE, capBytesPerSec: 125e6 });
  const driver = new AdaptiveDriver(enc, chooser, new FakeClock(), () => 0, { cacheSlots: 1 << 20 });
  driver.beginRound(0, 1_000);
  enc.round(1_000, 800, 0);
  driver.endRound(0);
  driver.beginRound(1, 100);
  assert.deepEqual(chooser.mixes[1], { full: 0, delta: 80, pages: 100 });
});
